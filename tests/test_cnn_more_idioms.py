"""Forward idioms of classifiers on feature maps: squeeze-excitation scaling by an indexed or
unsqueezed (N, C) vector, channel shuffle (view into groups, transpose, view back), and
global pooling flattened; each converted and checked against torch in eval and train mode, or
refused precisely."""

from __future__ import annotations

import textwrap

import pytest
from layer_harness import convert_checked
from test_cnn import images
from test_cnn_idioms import net

import torch2tf
from torch2tf.translate import translate_source

SQUEEZE_EXCITATION = [
    "s = torch.sigmoid(self.fc(x.mean([2, 3])))\nreturn x * s[:, :, None, None]",
    "s = torch.sigmoid(self.fc(x.mean((2, 3))))\nreturn x * s[..., None, None]",
    "s = self.fc(F.adaptive_avg_pool2d(x, 1).flatten(1))\nreturn x * s.unsqueeze(-1).unsqueeze(-1)",
    "s = self.fc(torch.flatten(self.pool(x), 1))\nreturn s[:, :, None, None] * x + x",
    "s = self.fc(x.amax(dim=(2, 3)))\nreturn x * s.unsqueeze(2).unsqueeze(3).sigmoid()",
]


@pytest.mark.parametrize("body", SQUEEZE_EXCITATION)
def test_squeeze_excitation_scaling(tmp_path, body):
    pool = "\nself.pool = nn.AdaptiveAvgPool2d(1)" if "self.pool" in body else ""
    source = net(
        f"self.conv = nn.Conv2d(3, 8, 3){pool}\nself.fc = nn.Linear(8, 8)",
        f"x = self.conv(x)\n{body}",
    )
    conversion = convert_checked(tmp_path, source, images(3, 9))
    assert "transpose" not in conversion.source.split("class Net")[1]


def test_squeeze_excitation_on_volumes(tmp_path):
    source = net(
        "self.conv = nn.Conv3d(3, 8, 3)\nself.fc = nn.Linear(8, 8)",
        "x = self.conv(x)\ns = torch.sigmoid(self.fc(x.mean([2, 3, 4])))\n"
        "return x * s[:, :, None, None, None]",
    )
    conversion = convert_checked(tmp_path, source, images(3, 7, batch=2, dims=3))
    assert "s[:, None, None, None, :]" in conversion.source


SHUFFLES = [
    """
    b, c, h, w = x.size()
    x = x.view(b, 2, c // 2, h, w)
    x = torch.transpose(x, 1, 2).contiguous()
    x = x.view(b, -1, h, w)
    """,
    """
    batch, channels, height, width = x.size()
    groups = 4
    x = x.reshape(batch, groups, channels // groups, height, width).transpose(1, 2)
    x = x.reshape(batch, channels, height, width)
    """,
    """
    b, c, h, w = x.size()
    x = x.view(b, 4, c // 4, h, w).transpose(1, 2).contiguous().view(b, -1, h, w)
    """,
]


@pytest.mark.parametrize("shuffle", SHUFFLES)
def test_channel_shuffle(tmp_path, shuffle):
    source = net(
        "self.conv = nn.Conv2d(3, 8, 3)\nself.mix = nn.Conv2d(8, 8, 1, groups=2)",
        f"x = self.conv(x)\n{textwrap.dedent(shuffle).strip()}\nreturn self.mix(x)",
    )
    conversion = convert_checked(tmp_path, source, images(3, 9))
    generated = conversion.source.split("class Net")[1]
    assert "tf.keras.ops.swapaxes(" in generated and "3, 4" in generated  # C/G and G swapped
    assert "tf.transpose" not in generated


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (
            "b, c, h, w = x.size()\nx = x.view(b, c, h, w // 2, 2)",
            "14:13: error: this view of a feature map is not a channel shuffle's view",
        ),
        (
            "b, c, h, w = x.size()\nx = x.view(b, 2, c // 2, h, w).permute(0, 2, 1, 3, 4)",
            "14:13: error: Tensor.permute() of grouped channels is not translated",
        ),
        (
            "b, c, h, w = x.size()\nx = x.view(b, 2, c // 2, h, w).transpose(1, 3)",
            "14:13: error: only transpose(1, 2) of grouped channels is translated",
        ),
        (
            "b, c, h, w = x.size()\nx = x.view(b, 2, c // 2, h, w).transpose(1, 2).mean(1)",
            "14:13: error: Tensor.mean() of grouped channels is not translated",
        ),
        (
            "b, c, h, w = x.size()\nx = x.view(b, 2, c // 2, x.size(2), w)",
            "14:13: error: this view of a feature map is not a channel shuffle's view",
        ),
        (
            "y = x * 2\nb, c, h, w = y.size()\nx = x.view(b, 2, c // 2, h, w)",
            "15:13: error: this view of a feature map is not a channel shuffle's view",
        ),
    ],
)
def test_what_is_not_a_channel_shuffle_is_refused(body, expected):
    source = net("self.conv = nn.Conv2d(3, 8, 3)", f"x = self.conv(x)\n{body}\nreturn x")
    with pytest.raises(torch2tf.TranslationError) as caught:
        translate_source(source, "net.py")
    messages = [str(d) for d in caught.value.diagnostics]
    assert any(m.startswith(f"net.py:{expected}") for m in messages), messages


def test_global_pooling_flattened(tmp_path):
    source = net(
        "self.conv = nn.Conv2d(3, 8, 3)\nself.fc = nn.Linear(8, 2)",
        "return self.fc(F.adaptive_avg_pool2d(self.conv(x), 1).flatten(1))",
    )
    convert_checked(tmp_path, source, images(3, 9))


DROP_PATH = """

def drop_path(x, p: float, training: bool):
    if not training or p == 0.0:
        return x
    keep = 1.0 - p
    shape = (x.shape[0],) + (1,) * (x.ndim - 1)
    mask = torch.empty(shape, dtype=x.dtype)
    mask.bernoulli_(keep)
    mask.div_(keep)
    return x * mask


class DropPath(nn.Module):
    def __init__(self, p):
        super().__init__()
        self.p = p

    def forward(self, x):
        return drop_path(x, self.p, self.training)


class Swish(nn.Module):
    def forward(self, x):
        return x * torch.sigmoid(x)
"""


def test_modules_doing_the_same_on_either_layout_take_maps(tmp_path):
    """A module whose forward fixes no layout (an elementwise activation, drop path through
    a function of the file) takes a map as it is: its per-sample mask, (N, 1, 1, 1) from
    the map's own size, broadcasts alike in both layouts. p=0 keeps train mode exact."""
    source = net(
        "self.conv = nn.Conv2d(3, 8, 3)\nself.act = Swish()\nself.drop = DropPath(0.0)",
        "x = self.conv(x)\nreturn x + self.drop(self.act(x))",
    )
    conversion = convert_checked(tmp_path, source + DROP_PATH, images(3, 9))
    assert {"act", "drop"} <= {layer.layer for layer in conversion.checks[1].layers}
    assert "mask = torch_bernoulli(mask, keep)" in conversion.source
    assert "mask = mask / keep" in conversion.source
    assert "transpose" not in conversion.source


def test_a_mask_of_another_rank_on_a_map_is_refused():
    source = net(
        "self.conv = nn.Conv2d(3, 8, 3)\nself.drop = DropPath(0.5)",
        "return self.drop(self.conv(x))",
    ) + DROP_PATH.replace("(1,) * (x.ndim - 1)", "(1,)")
    with pytest.raises(torch2tf.TranslationError) as err:
        translate_source(source, "net.py")
    assert "self.drop expects as torch input, receives NCHW -> NHWC" in str(err.value)


LAYER_NORM_2D = '''
class LayerNorm2d(nn.Module):
    """torchvision ConvNeXt's LayerNorm2d, holding its weight and bias."""

    def __init__(self, channels, eps=1e-6):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(channels))
        self.bias = nn.Parameter(torch.zeros(channels))
        self.channels = channels
        self.eps = eps

    def forward(self, x):
        x = x.permute(0, 2, 3, 1)
        x = F.layer_norm(x, (self.channels,), self.weight, self.bias, self.eps)
        x = x.permute(0, 3, 1, 2)
        return x
'''


@pytest.mark.parametrize("norm", ["LayerNorm2d", "functools.partial(LayerNorm2d, eps=1e-5)"])
def test_a_module_permuting_a_map_to_channels_last_and_back_keeps_it(tmp_path, norm):
    """ConvNeXt's LayerNorm2d: x.permute(0, 2, 3, 1) of its input makes that input a map,
    normalised over its last axis (the channels, in Keras as is) and permuted back: its
    output is the map again, with no transpose in Keras; held by a name, or a partial of it
    (ConvNeXt's ``norm_layer = partial(LayerNorm2d, eps=1e-6)``)."""
    source = net(
        f"norm_layer = {norm}\nself.conv = nn.Conv2d(3, 8, 3)\nself.norm = norm_layer(8)\n"
        "self.head = nn.Sequential(norm_layer(8), nn.Conv2d(8, 4, 3))",
        "return self.head(self.norm(self.conv(x)))",
    ).replace("\n\nclass Net", LAYER_NORM_2D + "\n\nclass Net")
    source = "import functools\n" + source
    conversion = convert_checked(tmp_path, source, images(3, 9))
    assert "transpose" not in conversion.source and "permute(" not in conversion.source
    assert conversion.report["outputs"] == [{"layout": "NCHW -> NHWC"}]
    paths = {layer.layer for layer in conversion.checks[0].layers}
    assert {"norm", "head.0"} <= paths


@pytest.mark.parametrize(
    "parameter",
    ["torch.ones(8, 1, 1) * 0.5", "torch.randn(8, 1, 1)", "torch.zeros((8, 1, 1))"],
)
def test_a_per_channel_parameter_scales_a_map(tmp_path, parameter):
    """ConvNeXt's layer_scale: torch's (C, 1, 1) parameter broadcasts along a map's channels;
    Keras keeps its shape (weights move as they are) and reads it as (C,) on the map."""
    source = net(
        f"self.conv = nn.Conv2d(3, 8, 3)\nself.scale = nn.Parameter({parameter})",
        "y = self.conv(x)\nreturn self.scale * y + y",
    )
    conversion = convert_checked(tmp_path, source, images(3, 9))
    assert "tf.reshape(self.scale, (-1,)) * y" in conversion.source
    assert conversion.report["outputs"] == [{"layout": "NCHW -> NHWC"}]


CN_BLOCK = '''
class Permute(nn.Module):
    """torchvision's ops.misc.Permute: the dims are the constructor's."""

    def __init__(self, dims):
        super().__init__()
        self.dims = dims

    def forward(self, x):
        return torch.permute(x, self.dims)


class Net(nn.Module):
    """torchvision's CNBlock: to NHWC for LayerNorm and Linear layers, back, scaled."""

    def __init__(self, dim=8):
        super().__init__()
        self.stem = nn.Conv2d(3, dim, 3)
        self.block = nn.Sequential(
            nn.Conv2d(dim, dim, kernel_size=7, padding=3, groups=dim, bias=True),
            Permute([0, 2, 3, 1]),
            nn.LayerNorm(dim, eps=1e-6),
            nn.Linear(in_features=dim, out_features=4 * dim, bias=True),
            nn.GELU(),
            nn.Linear(in_features=4 * dim, out_features=dim, bias=True),
            Permute([0, 3, 1, 2]),
        )
        self.layer_scale = nn.Parameter(torch.ones(dim, 1, 1) * 0.1)

    def forward(self, x):
        x = self.stem(x)
        result = self.layer_scale * self.block(x)
        result += x
        return result
'''


def test_permute_modules_and_a_layer_scale_keep_the_map(tmp_path):
    """Permute([0, 2, 3, 1]) of a map is Keras's tensor as is (its dims written as the
    identity), Permute([0, 3, 1, 2]) back gives the map the (C, 1, 1) layer_scale scales."""
    source = net("", "return x").split("\n\n\nclass Net", 1)[0] + "\n\n" + CN_BLOCK
    conversion = convert_checked(tmp_path, source, images(3, 9))
    code = conversion.source
    assert "Permute([0, 1, 2, 3])" in code and "[0, 2, 3, 1]" not in code
    assert "tf.reshape(self.layer_scale, (-1,)) * self.block(" in code
    assert conversion.report["outputs"] == [{"layout": "NCHW -> NHWC"}]
    paths = {layer.layer for layer in conversion.checks[0].layers}
    assert {"block.0", "block.2", "block.3"} <= paths


def test_a_permute_module_of_dims_not_written_is_refused_on_a_map():
    """Permute(dims) of a constructor argument: the facts cannot tell Keras's dims."""
    head = net("", "return x").split("\n\n\nclass Net", 1)[0] + "\n\n"
    source = head + CN_BLOCK.replace("dim=8):", "dim=8, dims=(0, 2, 3, 1)):").replace(
        "Permute([0, 2, 3, 1])", "Permute(dims)"
    )
    with pytest.raises(torch2tf.TranslationError) as err:
        translate_source(source, "net.py")
    assert "net.py:25:13: error: permute of a feature map needs literal dims" in str(err.value)
