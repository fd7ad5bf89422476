"""einops kept as einops (rearrange, repeat, reduce, einops.layers.torch.Rearrange/Reduce ->
einops.layers.keras), its patterns rewritten where a feature map is channels-last in Keras, and
rotary embeddings computed in forward (half-split and interleaved forms), converted and checked
in eval and train mode (float32: atol 1e-5, rtol 1e-4), plus the refusals."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest
import torch
from layer_harness import HEADER, convert_checked

from torch2tf.errors import TranslationError
from torch2tf.translate import translate_source

EINOPS = (
    "from einops import rearrange, reduce, repeat\n"
    "from einops.layers.torch import Rearrange, Reduce\n"
)


def sample(*shape: int, seed: int = 0) -> torch.Tensor:
    return torch.randn(shape, generator=torch.Generator().manual_seed(seed))


ATTENTION = (
    HEADER
    + EINOPS
    + textwrap.dedent(
        """

    class Net(nn.Module):
        def __init__(self, dim=16, heads=4):
            super().__init__()
            self.heads = heads
            self.to_qkv = nn.Linear(dim, dim * 3, bias=False)
            self.cls = nn.Parameter(torch.randn(1, 1, dim))
            self.out = nn.Linear(dim, dim)
            self.pool = Reduce("b n d -> b d", "max")

        def forward(self, x):
            b = x.shape[0]
            cls = repeat(self.cls, "1 1 d -> b 1 d", b=b)
            x = torch.cat((cls, x), dim=1)
            q, k, v = map(
                lambda t: rearrange(t, "b n (h d) -> b h n d", h=self.heads),
                self.to_qkv(x).chunk(3, dim=-1),
            )
            attn = (q @ k.transpose(-1, -2) * q.shape[-1] ** -0.5).softmax(dim=-1)
            out = rearrange(attn @ v, "b h n d -> b n (h d)")
            out = self.out(out)
            return self.pool(out), reduce(out, "b (n two) d -> b n d", "mean", two=2)
    """
    )
)

MAPS = (
    HEADER
    + EINOPS
    + textwrap.dedent(
        """

    class Patches(nn.Module):
        def __init__(self, dim=8):
            super().__init__()
            self.conv = nn.Conv2d(3, dim, 3, padding=1)
            self.to_tokens = nn.Sequential(
                Rearrange("b c (h p1) (w p2) -> b (h w) (p1 p2 c)", p1=2, p2=2),
                nn.LayerNorm(dim * 4),
            )
            self.fc = nn.Linear(dim * 4, 5)

        def forward(self, x):
            return self.fc(self.to_tokens(self.conv(x)))


    class Tokens(nn.Module):
        def __init__(self, dim=8):
            super().__init__()
            self.conv = nn.Conv2d(3, dim, 3, padding=1)
            self.mix = nn.Conv2d(dim, dim, 1)
            self.pool = Reduce("b c h w -> b c", "mean")

        def forward(self, x):
            x = self.conv(x)
            t = rearrange(x, "b c h w -> b (h w) c")
            t = torch.tanh(t)
            y = rearrange(t, "b (h w) c -> b c h w", h=x.size(2))
            y = self.mix(y)
            m = reduce(y, "b c (h h2) (w w2) -> b c h w", "max", h2=2, w2=2)
            return self.pool(m), t
    """
    )
)


def test_einops_functions_and_layers_stay_einops_and_match_torch(tmp_path):
    code = translate_source(ATTENTION)
    assert "import einops.layers.keras\n" in code  # binds einops too, for einops.rearrange
    assert "einops.layers.torch" not in code and "import torch" not in code
    assert 'einops.repeat(tf.convert_to_tensor(self.cls), "1 1 d -> b 1 d"' in code
    assert 'einops.layers.keras.Reduce("b n d -> b d", "max")' in code
    assert "self(tf.keras.Input(" not in code  # the patterns fix the rank: built by its call
    convert_checked(tmp_path, ATTENTION, sample(3, 5, 16))


def test_patterns_on_feature_maps_are_channels_last(tmp_path):
    code = translate_source(MAPS)
    # the input side of a map's pattern, and the output side of a result a conv takes
    assert '"b (h p1) (w p2) c -> b (h w) (p1 p2 c)"' in code
    assert 'einops.rearrange(x, "b h w c -> b (h w) c")' in code
    assert '"b (h w) c -> b h w c", h=tf.keras.ops.shape(x)[1]' in code
    assert 'einops.reduce(y, "b (h h2) (w w2) c -> b c h w", "max"' in code
    assert 'Reduce("b c h w -> b c", "mean")' in code  # its input is in torch's order here
    conversion = convert_checked(tmp_path, MAPS, sample(2, 3, 8, 8), class_name="Patches")
    assert [row.layer for row in conversion.checks[0].layers][:2] == ["conv", "to_tokens.0"]
    convert_checked(tmp_path, MAPS, sample(2, 3, 8, 8), class_name="Tokens")


def test_einops_functions_alone_import_einops_alone():
    source = (
        HEADER
        + "from einops import rearrange\n"
        + textwrap.dedent(
            """

        class Net(nn.Module):
            def forward(self, x):
                return rearrange(x, "b n d -> b d n")
        """
        )
    )
    code = translate_source(source)
    assert "import einops" in code.splitlines() and "from einops" not in code
    assert 'return einops.rearrange(x, "b n d -> b d n")' in code
    assert_ruff_clean(code)
    layers = (
        HEADER
        + "from einops.layers.torch import Rearrange\n"
        + textwrap.dedent(
            """

        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.flat = Rearrange("b c h w -> b (c h w)")

            def forward(self, x):
                return self.flat(x)
        """
        )
    )
    code = translate_source(layers)
    assert "import einops.layers.keras" in code.splitlines() and "from einops" not in code
    assert_ruff_clean(code)


def assert_ruff_clean(code: str) -> None:
    """Generated code passes ruff's default rules and import sorting (einops placed by isort)."""
    command = [sys.executable, "-m", "ruff", "check", "--isolated", "--select", "E4,E7,E9,F,I"]
    result = subprocess.run([*command, "-"], input=code, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout


def test_einops_without_einops_in_the_source_adds_no_import():
    code = translate_source(
        HEADER + "\n\nclass Net(nn.Module):\n    def forward(self, x):\n"
        "        return x.flatten(1)\n"
    )
    assert "einops" not in code


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (
            "rearrange(x, pattern)",
            r"an einops call on a channels-last feature map .* literal pattern",
        ),
        (
            "rearrange(x, '... h w -> ... (h w)')",
            r"einops\.rearrange: the einops pattern side '\.\.\. h w' does not name a feature "
            r"map's batch and channel axes",
        ),
    ],
)
def test_einops_on_a_map_without_a_readable_pattern_is_refused(call, message):
    source = (
        HEADER
        + EINOPS
        + textwrap.dedent(
            f"""

        class Net(nn.Module):
            def __init__(self, pattern="b c h w -> b (h w) c"):
                super().__init__()
                self.conv = nn.Conv2d(3, 4, 1)
                self.pattern = pattern

            def forward(self, x):
                x = self.conv(x)
                pattern = self.pattern
                return {call}
        """
        )
    )
    with pytest.raises(TranslationError, match=r"<string>:\d+:\d+: error: " + message):
        translate_source(source)


ROTARY = HEADER + textwrap.dedent(
    """

    def rotate_half(x):
        x1, x2 = x.chunk(2, dim=-1)
        return torch.cat((-x2, x1), dim=-1)


    def rotate_half_sliced(x):
        x1 = x[..., : x.shape[-1] // 2]
        x2 = x[..., x.shape[-1] // 2 :]
        return torch.cat((-x2, x1), dim=-1)


    def rotate_every_two(x):
        x1 = x[..., ::2]
        x2 = x[..., 1::2]
        x = torch.stack((-x2, x1), dim=-1)
        return x.flatten(-2)


    class HalfSplit(nn.Module):
        \"\"\"GPT-NeoX / LLaMA: cos, sin of cat((freqs, freqs)); q and k of (B, h, T, D).\"\"\"

        def __init__(self, dim=8, heads=2, base=10000):
            super().__init__()
            self.heads = heads
            self.qk = nn.Linear(dim * heads, 2 * dim * heads)
            inv_freq = 1.0 / (base ** (torch.arange(0, dim, 2).float() / dim))
            self.register_buffer("inv_freq", inv_freq, persistent=False)

        def forward(self, x):
            b, n, _ = x.shape
            q, k = self.qk(x).view(b, n, 2, self.heads, -1).permute(2, 0, 3, 1, 4)
            t = torch.arange(n, device=x.device).type_as(self.inv_freq)
            freqs = torch.outer(t, self.inv_freq)
            emb = torch.cat((freqs, freqs), dim=-1)
            cos, sin = emb.cos(), emb.sin()
            q = q * cos + rotate_half(q) * sin
            k = k * cos + rotate_half_sliced(k) * sin
            return (q @ k.transpose(-2, -1)).softmax(-1)


    class Interleaved(nn.Module):
        \"\"\"GPT-J: einsum of positions and inv_freq, repeat_interleave, x of (B, T, h, D).\"\"\"

        def __init__(self, dim=8, base=10000.0):
            super().__init__()
            inv_freq = 1.0 / (base ** (torch.arange(0, dim, 2, dtype=torch.float32) / dim))
            self.register_buffer("inv_freq", inv_freq)

        def forward(self, x):
            t = torch.arange(x.size(1), dtype=self.inv_freq.dtype)
            freqs = torch.einsum("i,j->ij", t, self.inv_freq).repeat_interleave(2, dim=-1)
            cos = freqs.cos()[None, :, None, :]
            sin = freqs.sin()[None, :, None, :]
            return x * cos + rotate_every_two(x) * sin
    """
)


def test_rotary_half_split_form(tmp_path):
    code = translate_source(ROTARY)
    assert "x1, x2 = torch_chunk(x, 2, dim=-1)" in code  # the top-level helper, translated
    assert "x[..., : tf.keras.ops.shape(x)[-1] // 2]" in code
    assert 'tf.einsum("i,j->ij", t, self.inv_freq)' in code
    convert_checked(tmp_path, ROTARY, sample(2, 5, 16), class_name="HalfSplit")


def test_rotary_interleaved_form(tmp_path):
    code = translate_source(ROTARY)
    assert "return torch_flatten(x, -2)" in code
    assert "tf.repeat(" in code
    convert_checked(tmp_path, ROTARY, sample(2, 5, 3, 8), class_name="Interleaved")


def test_rotary_in_complex_numbers_is_refused_with_the_real_form():
    source = HEADER + textwrap.dedent(
        """

        class Complex(nn.Module):
            def __init__(self, dim=8, end=16):
                super().__init__()
                freqs = 1.0 / (10000.0 ** (torch.arange(0, dim, 2).float() / dim))
                freqs = torch.outer(torch.arange(end), freqs).float()
                self.register_buffer("freqs_cis", torch.polar(torch.ones_like(freqs), freqs))

            def forward(self, x):
                xc = torch.view_as_complex(x.float().reshape(*x.shape[:-1], -1, 2))
                return torch.view_as_real(xc * self.freqs_cis[: x.shape[1]]).flatten(3)
        """
    )
    with pytest.raises(TranslationError) as err:
        translate_source(source)
    text = str(err.value)
    for name, line in (("polar", 10), ("view_as_complex", 13), ("view_as_real", 14)):
        assert f"<string>:{line}:" in text and f"torch.{name} is not translated" in text
    assert "complex tensors are not translated" in text and "rotate_half(x) * sin" in text
