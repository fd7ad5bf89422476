"""Forward idioms on feature maps that the tensor facts follow: permutes into and out of
channels-last (ConvNeXt, token sequences for RNNs and attention), chunk/split along channels,
squeeze-excitation scaling, flatten(2), and the F.* forms of pooling. Each model is converted
and checked against torch in eval and train mode."""

from __future__ import annotations

import textwrap

import pytest
import torch
from layer_harness import HEADER, convert_checked
from test_cnn import images

import torch2tf
from torch2tf.translate import translate_source


def net(init: str, body: str, name: str = "Net", params: str = "") -> str:
    """A class ``name`` with ``init`` statements and a ``forward(self, x)`` of ``body``."""
    init = textwrap.indent(textwrap.dedent(init).strip(), " " * 8)
    body = textwrap.indent(textwrap.dedent(body).strip(), " " * 8)
    return (
        f"{HEADER}import torch.nn.functional as F\n\n\nclass {name}(nn.Module):\n"
        f"    def __init__(self{params}):\n        super().__init__()\n{init}\n\n"
        f"    def forward(self, x):\n{body}\n"
    )


CONVNEXT_BLOCK = net(
    """
    self.dwconv = nn.Conv2d(8, 8, 7, padding=3, groups=8)
    self.norm = nn.LayerNorm(8, eps=1e-6)
    self.pwconv1 = nn.Linear(8, 32)
    self.act = nn.GELU()
    self.pwconv2 = nn.Linear(32, 8)
    self.gamma = nn.Parameter(torch.full((8,), 0.5))
    """,
    """
    shortcut = x
    x = self.dwconv(x)
    x = x.permute(0, 2, 3, 1)  # (N, C, H, W) -> (N, H, W, C)
    x = self.norm(x)
    x = self.pwconv2(self.act(self.pwconv1(x)))
    if self.gamma is not None:
        x = self.gamma * x
    x = x.permute(0, 3, 1, 2)  # back to (N, C, H, W)
    return shortcut + x
    """,
)


def test_convnext_block_keeps_no_permute(tmp_path):
    conversion = convert_checked(tmp_path, CONVNEXT_BLOCK, images(8, 9))
    code = conversion.source
    assert "transpose" not in code and "permute" not in code
    assert "LayerNormalization" in code
    assert conversion.report["outputs"] == [{"layout": "NCHW -> NHWC"}]


@pytest.mark.parametrize(
    "tokens",
    [
        "x.flatten(2).transpose(1, 2)",
        "torch.flatten(x, 2).permute(0, 2, 1)",
        "x.flatten(start_dim=2).transpose(2, 1)",
        "torch.transpose(x.flatten(2), 1, 2)",
        "x.permute(0, 2, 3, 1).flatten(1, 2)",
    ],
)
def test_vit_patch_embedding_gives_tokens_as_keras_holds_them(tmp_path, tokens):
    source = net(
        "self.proj = nn.Conv2d(3, 8, 4, stride=4)\nself.head = nn.Linear(8, 5)",
        f"x = self.proj(x)\nx = {tokens}\nreturn self.head(x)",
    )
    conversion = convert_checked(tmp_path, source, images(3, 12))
    assert "transpose" not in conversion.source
    assert conversion.report["outputs"] == [{"layout": "as torch"}]


SEQUENCES = net(
    """
    self.emb = nn.Embedding(20, 6)
    self.conv = nn.Conv1d(6, 8, 3, padding=1)
    self.conv2 = nn.Conv1d(6, 8, 5, padding=2)
    self.fc = nn.Linear(8, 3)
    """,
    """
    e = self.emb(x)
    a = torch.relu(self.conv(e.permute(0, 2, 1)))
    b = self.conv2(e.transpose(1, 2))
    scores = torch.bmm(e, e.permute(0, 2, 1))  # stays a real transpose
    y = (a + b).transpose(1, 2)  # (N, L, C) for a recurrent or attention layer
    return self.fc(y) + scores.sum(dim=2, keepdim=True)
    """,
)


def test_sequences_permuted_into_and_out_of_conv1d(tmp_path):
    tokens = torch.randint(0, 20, (3, 11), generator=torch.Generator().manual_seed(0))
    conversion = convert_checked(tmp_path, SEQUENCES, tokens)
    code = conversion.source
    assert "self.conv(e)" in code and "self.conv2(e)" in code
    assert "tf.matmul(e, tf.transpose(e, perm=[0, 2, 1]))" in code
    assert conversion.report["outputs"] == [{"layout": "as torch"}]


CONVS = "self.pool = nn.AdaptiveAvgPool2d(1)\nself.fc1 = nn.Conv2d(8, 4, 1)\n"
CONVS += "self.fc2 = nn.Conv2d(4, 8, 1)"
LINEARS = "self.pool = nn.AdaptiveAvgPool2d(1)\nself.lin1 = nn.Linear(8, 4)\n"
LINEARS += "self.lin2 = nn.Linear(4, 8)"


@pytest.mark.parametrize(
    ("init", "body"),
    [
        # torchvision's squeeze-excitation: all maps
        (CONVS, "s = self.fc2(torch.relu(self.fc1(self.pool(x))))\nreturn x * torch.sigmoid(s)"),
        # the classic SE: view to (b, c) and back to (b, c, 1, 1)
        (
            LINEARS,
            "b, c = x.size(0), x.size(1)\ny = self.pool(x).view(b, c)\n"
            "y = torch.sigmoid(self.lin2(torch.relu(self.lin1(y))))\n"
            "return x * y.view(b, c, 1, 1).expand_as(x)",
        ),
        (
            LINEARS,
            "b, c, _, _ = x.size()\ny = self.pool(x).view(b, c)\n"
            "y = torch.sigmoid(self.lin2(torch.relu(self.lin1(y)))).view(b, c, 1, 1)\n"
            "return x * y",
        ),
        (
            LINEARS,
            "y = torch.sigmoid(self.lin2(torch.relu(self.lin1(x.mean([2, 3])))))\n"
            "return x * y.view(-1, 8, 1, 1) + self.pool(x)",
        ),
        (
            CONVS,
            "y = F.adaptive_avg_pool2d(x, 1).flatten(1)\n"
            "return y.reshape(y.size(0), 8, 1, 1) * x + self.fc2(self.fc1(self.pool(x)))",
        ),
    ],
)
def test_squeeze_excitation_scales_channels(tmp_path, init, body):
    source = net("self.stem = nn.Conv2d(3, 8, 3)\n" + init, "x = self.stem(x)\n" + body)
    convert_checked(tmp_path, source, images(3, 9))


@pytest.mark.parametrize(
    "body",
    [
        "a, b = x.chunk(2, dim=1)\nreturn torch.cat([b, torch.relu(a)], dim=1)",
        "a, b = torch.chunk(x, 2, 1)\nreturn a * torch.sigmoid(b)",  # GLU over channels
        "a, b, c = x.split([2, 2, 4], dim=1)\nreturn torch.cat([c, a + b, b], 1)",
        "parts = x.split(3, 1)\nreturn torch.cat([parts[2], parts[0]], dim=1)",
        "a, b = x.chunk(2, dim=2)\nreturn torch.cat([b, a], dim=-2)",
    ],
)
def test_chunk_and_split_of_maps(tmp_path, body):
    source = net("self.conv = nn.Conv2d(3, 8, 3)", "x = self.conv(x)\n" + body)
    convert_checked(tmp_path, source, images(3, 10))


@pytest.mark.parametrize("permute", ["permute(0, 2, 1, 3)", "transpose(1, 3)", "transpose(-1, 1)"])
def test_other_permutes_of_maps_are_real_transposes(tmp_path, permute):
    source = net("self.conv = nn.Conv2d(3, 4, 3)", f"return self.conv(x).{permute} * 2")
    conversion = convert_checked(tmp_path, source, images(3, 8))
    assert "tf.transpose(" in conversion.source or "swapaxes" in conversion.source
    assert conversion.report["outputs"] == [{"layout": "as torch"}]


def test_a_spatial_permute_keeps_a_map(tmp_path):
    source = net(
        "self.conv = nn.Conv2d(3, 4, 3)\nself.conv2 = nn.Conv2d(4, 4, (1, 3))",
        "x = self.conv(x).permute(0, 1, 3, 2)\nreturn self.conv2(x.transpose(2, 3))",
    )
    convert_checked(tmp_path, source, images(3, 8))


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("a, b = self.conv(x).chunk(2, dim)\nreturn a", "needs a literal dim"),
        ("return self.conv(x).flatten(3)", "flatten(x, 2)"),
        ("y = self.conv(x)\nif y.sum() > 0:\n    y = y.permute(0, 2, 3, 1)\nreturn y", "branch"),
    ],
)
def test_permutes_the_facts_cannot_follow_are_refused(body, expected):
    source = net("self.conv = nn.Conv2d(3, 4, 3)", body, params=", dim=1")
    with pytest.raises(torch2tf.TranslationError) as err:
        translate_source(source, "net.py")
    assert expected in str(err.value)


FUNCTIONAL = [
    "F.max_pool2d(x, 2)",
    "F.max_pool2d(x, 3, 2, 1)",
    "F.max_pool2d(x, kernel_size=(3, 2), stride=(1, 2), padding=(1, 0))",
    "F.avg_pool2d(x, 2)",
    "F.avg_pool2d(x, 3, stride=2, padding=1)",
    "F.adaptive_avg_pool2d(x, 1)",
    "F.adaptive_avg_pool2d(x, (2, 3))",
    "F.adaptive_max_pool2d(x, 1)",
    "F.adaptive_max_pool2d(x, 3)",
    "F.dropout2d(x, 0.3, training=self.training)",
    "F.dropout2d(x, 0.3, self.training)",
    "F.relu(F.max_pool2d(x, 2, 2))",
    "F.max_pool2d(x, 3, 2, ceil_mode=True)",
    "F.avg_pool2d(x, 3, 2, 1, count_include_pad=False)",
    "F.avg_pool2d(x, 2, ceil_mode=True)",
]


@pytest.mark.parametrize("size", [8, 9])
@pytest.mark.parametrize("call", FUNCTIONAL)
def test_functional_forms_on_maps(tmp_path, call, size):
    source = net("self.conv = nn.Conv2d(3, 4, 3)", f"x = self.conv(x)\nreturn {call}")
    convert_checked(tmp_path, source, images(3, size))


@pytest.mark.parametrize(
    "call",
    [
        "F.max_pool1d(x, 2)",
        "F.max_pool1d(x, 3, 2, 1)",
        "F.avg_pool1d(x, 3, 2, 1)",
        "F.adaptive_avg_pool1d(x, 1)",
        "F.adaptive_avg_pool1d(x, 4)",
        "F.adaptive_max_pool1d(x, 3)",
        "F.dropout1d(x, 0.5, self.training)",
    ],
)
def test_functional_forms_on_1d_maps(tmp_path, call):
    source = net("self.conv = nn.Conv1d(3, 4, 3)", f"x = self.conv(x)\nreturn {call}")
    convert_checked(tmp_path, source, images(3, 13, dims=1))


def test_a_model_whose_input_is_pooled_first_takes_a_map(tmp_path):
    source = net(
        "self.fc = nn.Linear(3, 2)",
        "return self.fc(torch.flatten(F.adaptive_avg_pool2d(F.max_pool2d(x, 2), 1), 1))",
    )
    conversion = convert_checked(tmp_path, source, images(3, 8))
    assert conversion.report["inputs"][0]["layout"] == "NCHW -> NHWC"


def test_functional_channel_dropout_drops_whole_channels(tmp_path):
    import tensorflow as tf
    from layer_harness import load_module

    source = net("self.conv = nn.Conv2d(3, 64, 1)", "return F.dropout2d(self.conv(x), 0.5)")
    module = load_module(tmp_path, translate_source(source))
    out = module.Net()(tf.ones((2, 5, 5, 3))).numpy()
    zero = out == 0
    per_map = zero.all(axis=(1, 2)) | ~zero.any(axis=(1, 2))
    assert per_map.all() and 0.2 < zero.all(axis=(1, 2)).mean() < 0.8


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (  # a function of the file is followed per call: here on a map and on features
            "z = pool(x.mean(1))\nreturn pool(self.conv(x))",
            "pool is called on tensors of another layout elsewhere",
        ),
        ("return F.max_pool1d(self.conv(x), 2)", "F.max_pool1d expects a channels-last"),
        (
            "return F.max_pool2d(self.conv(x), 3, return_indices=True)",
            "F.max_pool2d(return_indices=True)",
        ),
        ("return F.interpolate(x.flatten(1), 2)", "F.interpolate expects a channels-last"),
    ],
)
def test_functional_forms_off_maps_are_refused(body, expected):
    source = net("self.conv = nn.Conv2d(3, 4, 3)", "y = self.conv(x)\n" + body)
    source += "\n\ndef pool(x):\n    return F.max_pool2d(x, 2)\n"
    with pytest.raises(torch2tf.TranslationError) as err:
        translate_source(source, "net.py")
    assert expected in str(err.value)


def test_a_cat_of_maps_along_a_named_dim_moves_it_when_it_runs(tmp_path):
    """``torch.cat([x, x], self.dim)``: torch's dim of a map becomes Keras's axis when the code
    runs (torch_map_axis), whatever value the model was built with; an expression is refused."""
    source = net(
        "self.conv = nn.Conv2d(3, 4, 3)\nself.dim = dim",
        "x = self.conv(x)\nreturn torch.cat([x, x], self.dim)",
        params=", dim=1",
    )
    for dim in (1, 2, -1):
        conversion = convert_checked(tmp_path, source, images(3, 8), kwargs={"dim": dim})
        assert "torch_map_axis(self.dim, 4)" in conversion.source
    source = net(
        "self.conv = nn.Conv2d(3, 4, 3)",
        "x = self.conv(x)\nreturn torch.cat([x, x], dim + 0)",
        params=", dim=1",
    )
    with pytest.raises(torch2tf.TranslationError) as err:
        translate_source(source, "net.py")
    assert "torch.cat of feature maps needs a literal dim" in str(err.value)
