"""The rotary-embedding-torch idioms: ``@autocast("cuda", enabled=False)`` (dropped with a
comment: TensorFlow casts nothing on its own), ``torch.linspace``, ``nn.Parameter(freqs,
requires_grad=<constructor flag>)``, ``Tensor.type(dtype)``, ``Tensor.unbind``, a helper slicing
with a tuple of ``slice`` objects, and a buffer written in place in forward as a cache."""

from __future__ import annotations

import textwrap
from math import pi

import numpy as np
import pytest
import torch
from torch import nn
from torch.amp import autocast

import torch2tf
from torch2tf import TranslationError


def slice_at_dim(t, dim_slice: slice, *, dim):
    dim += t.ndim if dim < 0 else 0
    colons = [slice(None)] * t.ndim
    colons[dim] = dim_slice
    return t[tuple(colons)]


def rotate_half(x):
    x = x.reshape(*x.shape[:-1], -1, 2)
    x1, x2 = x.unbind(dim=-1)
    return torch.stack((-x2, x1), dim=-1).flatten(-2)


@autocast("cuda", enabled=False)
def rotate(freqs, t):
    freqs = slice_at_dim(freqs, slice(-t.shape[-2], None), dim=0)
    out = t * freqs.cos() + rotate_half(t) * freqs.sin()
    return out.type(t.dtype)


class Rotary(nn.Module):
    def __init__(self, dim, max_freq=10, learned_freq=False, cache=True, cache_len=32):
        super().__init__()
        freqs = torch.linspace(1.0, max_freq / 2, dim // 2) * pi
        self.freqs = nn.Parameter(freqs, requires_grad=learned_freq)
        self.cache = cache
        self.register_buffer("cached", torch.zeros(cache_len, dim), persistent=False)
        self.cached_len = 0

    @autocast("cuda", enabled=False)
    def forward(self, x):
        n = x.shape[-2]
        if self.cache and n <= self.cached_len:
            return rotate(self.cached[:n], x)
        pos = torch.arange(n).type(self.freqs.dtype)
        freqs = torch.einsum("i,j->ij", pos, self.freqs)
        freqs = freqs.repeat_interleave(2, dim=-1)
        if self.cache:
            self.cached[:n] = freqs.detach()
            self.cached_len = n
        return rotate(freqs, x)


@pytest.mark.parametrize("cache", [True, False])
@pytest.mark.parametrize("learned_freq", [True, False])
def test_rotary_with_and_without_its_cache_converts(cache, learned_freq):
    model = Rotary(8, learned_freq=learned_freq, cache=cache)
    x = torch.randn(4, 6, 8, generator=torch.Generator().manual_seed(0))
    result = torch2tf.convert(model, args=(8, 10, learned_freq, cache), inputs=x)
    assert [c.mode for c in result.checks] == ["eval", "train"]
    assert result.passed, result.table()
    keras = result.keras_model
    assert keras.freqs.trainable is learned_freq
    assert keras.cached_len == model.cached_len == 0  # convert leaves both as they were
    for _ in range(2):  # the second call reads the cache, where there is one
        expected = model(x).detach().numpy()
        np.testing.assert_allclose(keras(x.numpy()).numpy(), expected, rtol=1e-4, atol=1e-5)
    assert keras.cached_len == model.cached_len == (6 if cache else 0)
    np.testing.assert_allclose(keras.cached.numpy(), model.cached.numpy(), rtol=1e-6)
    source = result.source
    assert "torch_setitem(self.cached, (slice(None, n),), tf.stop_gradient(freqs))" in source
    assert """# @autocast("cuda", enabled=False): torch's mixed precision is off here""" in source
    assert "\n    @autocast" not in source and "\n@autocast" not in source  # no decorator left
    assert 'torch_variable(self, "freqs", freqs, trainable=learned_freq)' in source


def test_linspace_counts_as_torch_does():
    from torch2tf.coverage import translated_example

    assert translated_example("function", "torch.linspace(-2.0, 3.0, 7)") == (
        "torch_linspace(-2.0, 3.0, 7)"
    )
    namespace: dict = {}
    exec(_helper("torch_linspace"), namespace)
    for start, end, steps in [(1.0, 5.0, 8), (-1, 1, 9), (0.0, 1.0, 1), (-3.3, 7.1, 101)]:
        expected = torch.linspace(start, end, steps).numpy()
        np.testing.assert_allclose(
            namespace["torch_linspace"](start, end, steps).numpy(), expected, rtol=1e-6, atol=1e-6
        )
        assert namespace["torch_linspace"](start, end, steps).numpy()[-1] == expected[-1]


def _helper(name: str) -> str:
    from pathlib import Path

    import torch2tf.keras_helpers as helpers

    text = (Path(helpers.__file__).parent / "ops.py").read_text(encoding="utf-8")
    start = text.index(f"def {name}(")
    end = text.find("\ndef ", start + 1)
    return "import tensorflow as tf\n\n" + text[start : end if end > 0 else None]


def _translate(body: str) -> str:
    source = "import torch\nfrom torch import nn\n\n" + textwrap.dedent(body)
    return torch2tf.translate_source(source)


def test_autocast_switched_on_and_a_computed_requires_grad_are_refused():
    with pytest.raises(TranslationError, match=r"torch\.amp\.autocast is not translated"):
        _translate(
            """
            from torch.amp import autocast

            @autocast("cuda")
            def f(x):
                return x * 2
            """
        )
    message = r"^<string>:8:61: error: nn\.Parameter\(requires_grad=d > 2\) is translated only"
    with pytest.raises(TranslationError, match=message):
        _translate(
            """
            class M(nn.Module):
                def __init__(self, d):
                    super().__init__()
                    self.w = nn.Parameter(torch.zeros(d), requires_grad=d > 2)

                def forward(self, x):
                    return x * self.w
            """
        )


def test_autocast_off_beside_a_torchscript_no_op_decorator():
    """Both dropped from one method: TorchScript's ``@torch.jit.unused`` first, then the
    autocast switched off (each pass sees the decorators the other left)."""
    code = _translate(
        """
        from torch.amp import autocast

        class M(nn.Module):
            @torch.jit.unused
            @autocast("cuda", enabled=False)
            def forward(self, x):
                return x * 2
        """
    )
    body = code.split("class M")[1].splitlines()
    assert not any(line.strip().startswith("@") for line in body), code
    assert "torch's mixed precision is off here" in code
