"""Pooling with divisor_override and dilation, LocalResponseNorm and bicubic resampling on
channels-last maps, each converted and checked against torch in eval and train mode; and what
is refused."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf
import torch
import torch.nn.functional as F
from layer_harness import convert_checked, translated_layer
from test_cnn import _refusal, images, map_source
from test_cnn_idioms import net

import torch2tf
from torch2tf.keras_helpers.feature_maps import torch_interpolate
from torch2tf.translate import translate_source

LAYERS_2D = [
    "nn.AvgPool2d(2, divisor_override=3)",
    "nn.AvgPool2d(3, 2, 1, divisor_override=5)",
    "nn.AvgPool2d(3, 2, 1, ceil_mode=True, count_include_pad=False, divisor_override=2)",
    "nn.MaxPool2d(3, stride=1, dilation=2)",
    "nn.MaxPool2d(3, stride=2, padding=1, dilation=2)",
    "nn.MaxPool2d((2, 3), stride=(2, 1), dilation=(3, 1), ceil_mode=True)",
    "nn.MaxPool2d(2, dilation=2, ceil_mode=True)",
    "nn.LocalResponseNorm(2)",
    "nn.LocalResponseNorm(3, alpha=0.5, beta=0.6, k=1.5)",
    "nn.LocalResponseNorm(5)",
    "nn.LocalResponseNorm(8, alpha=1.0)",
    "nn.Upsample(scale_factor=2, mode='bicubic')",
    "nn.Upsample(scale_factor=2, mode='bicubic', align_corners=True)",
    "nn.Upsample(size=(5, 13), mode='bicubic', align_corners=False)",
    "nn.Upsample(size=(11, 4), mode='bicubic', align_corners=True)",
    "nn.Upsample(scale_factor=0.5, mode='bicubic')",
    "nn.Upsample(scale_factor=1.7, mode='bicubic')",
]


@pytest.mark.parametrize("size", [8, 9])
@pytest.mark.parametrize("layer", LAYERS_2D)
def test_layers_on_2d_maps_are_exact(tmp_path, layer, size):
    convert_checked(tmp_path, map_source(layer), images(3, size))


OTHER_RANKS = [
    ("nn.MaxPool1d(3, stride=2, dilation=2)", 1),
    ("nn.MaxPool1d(2, 1, 1, dilation=3, ceil_mode=True)", 1),
    ("nn.LocalResponseNorm(3)", 1),
    ("nn.AvgPool3d(2, divisor_override=3)", 3),
    ("nn.MaxPool3d(2, stride=1, dilation=2)", 3),
    ("nn.LocalResponseNorm(2, k=0.5)", 3),
]


@pytest.mark.parametrize(("layer", "dims"), OTHER_RANKS)
def test_layers_on_1d_and_3d_maps_are_exact(tmp_path, layer, dims):
    source = map_source(layer, before=f"nn.Conv{dims}d(3, 4, 1)")
    convert_checked(tmp_path, source, images(3, 7, batch=2, dims=dims))


FUNCTIONAL = [
    "F.avg_pool2d(x, 2, divisor_override=3)",
    "F.avg_pool2d(x, 3, 2, 1, False, True, 7)",
    "F.max_pool2d(x, 3, 1, 1, 2)",
    "F.max_pool2d(x, 2, dilation=2, ceil_mode=True)",
    "F.max_pool1d(x.flatten(2), 3, dilation=2)",
    "F.interpolate(x, scale_factor=2, mode='bicubic')",
    "F.interpolate(x, size=(6, 10), mode='bicubic', align_corners=True)",
    "F.local_response_norm(x, 3)",
]


@pytest.mark.parametrize("call", FUNCTIONAL)
def test_functional_forms(tmp_path, call):
    source = net("self.conv = nn.Conv2d(3, 4, 3)", f"x = self.conv(x)\nreturn {call}")
    convert_checked(tmp_path, source, images(3, 9))


def test_bicubic_in_float64_is_exact_to_round_off(tmp_path):
    source = map_source("nn.Upsample(scale_factor=1.5, mode='bicubic', align_corners=True)")
    conversion = convert_checked(tmp_path, source, images(3, 8), dtype=torch.float64)
    assert conversion.max_abs_error < 1e-12


def test_tfs_bicubic_resize_is_not_torchs():
    # the reason for the helper: TF's Keys cubic (a = -0.5) is far from torch's (a = -0.75)
    x = np.random.default_rng(0).standard_normal((2, 3, 8, 8)).astype(np.float32)
    want = F.interpolate(torch.tensor(x), scale_factor=2, mode="bicubic").numpy()
    channels_last = tf.constant(np.moveaxis(x, 1, -1))
    theirs = np.moveaxis(tf.image.resize(channels_last, (16, 16), "bicubic").numpy(), -1, 1)
    ours = np.moveaxis(torch_interpolate(channels_last, None, 2, "bicubic").numpy(), -1, 1)
    assert np.abs(theirs - want).max() > 0.1
    assert np.abs(ours - want).max() < 1e-5


def test_translations_read_like_keras():
    assert translated_layer(map_source("nn.LocalResponseNorm(5)")) == "TorchLocalResponseNorm(5)"
    assert translated_layer(map_source("nn.MaxPool2d(3, 1, dilation=2)")) == (
        "TorchPool('max', [3, 3], [1, 1], [0, 0], dilation=[2, 2])"
    )
    assert translated_layer(map_source("nn.AvgPool2d(2, divisor_override=3)")) == (
        "TorchPool('avg', [2, 2], [2, 2], [0, 0], divisor_override=3)"
    )


@pytest.mark.parametrize(
    ("init", "expected"),
    [
        ("self.conv = nn.AvgPool2d(2, divisor_override=0)", "divisor_override= must be"),
        ("self.conv = nn.MaxPool2d(2, dilation=d)", "dilation= must be literal"),
        ("self.conv = nn.LocalResponseNorm(0)", "size must be a positive int"),
    ],
)
def test_what_is_not_translated_is_refused(init, expected):
    messages = _refusal("x = self.conv(x)", init)
    assert any(m.startswith("net.py:8:21: error: ") and expected in m for m in messages), messages


CUSTOM_CONV = """
import math

import torch
import torch.nn as nn
import torch.nn.functional as F


class MyConv(nn.Module):
    def __init__(self, cin, cout, k):
        super().__init__()
        self.weight = nn.Parameter(torch.empty(cout, cin, KERNEL))
        self.bias = nn.Parameter(torch.empty(cout))
        nn.init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        nn.init.uniform_(self.bias, -0.1, 0.1)

    def forward(self, x):
        return CALL


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = nn.ConvDIMSd(3, 4, 1)
        self.conv = MyConv(4, 6, 3)

    def forward(self, x):
        return self.conv(self.stem(x))
"""

FUNCTIONAL_CONVS = [
    ("F.conv2d(x, self.weight, self.bias)", 2),
    ("F.conv2d(x, self.weight, self.bias, padding=1)", 2),
    ("F.conv2d(x, self.weight, None, 2, (1, 0))", 2),
    ("F.conv2d(x, self.weight, self.bias, padding='same', dilation=2)", 2),
    ("F.conv2d(x, self.weight, stride=(1, 2), padding='valid')", 2),
    ("F.conv1d(x, self.weight, self.bias, 1, 2, 2)", 1),
    ("F.conv1d(x, self.weight, self.bias, stride=2, padding=1)", 1),
    ("F.conv3d(x, self.weight, self.bias, padding=1)", 3),
]


@pytest.mark.parametrize(("call", "dims"), FUNCTIONAL_CONVS)
def test_functional_convolution_of_a_weight_parameter(tmp_path, call, dims):
    source = CUSTOM_CONV.replace("CALL", call).replace("DIMS", str(dims))
    source = source.replace("KERNEL", ", ".join(["k"] * dims))
    size = 6 if dims == 3 else 9
    conversion = convert_checked(tmp_path, source, images(3, size, batch=2, dims=dims))
    assert "tf.nn.convolution(" in conversion.source


def test_functional_convolution_with_groups_is_refused():
    source = CUSTOM_CONV.replace("CALL", "F.conv2d(x, self.weight, groups=2)")
    with pytest.raises(torch2tf.TranslationError) as caught:
        translate_source(source.replace("DIMS", "2").replace("KERNEL", "k, k"), "net.py")
    messages = [str(d) for d in caught.value.diagnostics]
    assert any(m.startswith("net.py:18:16: error: ") and "groups=" in m for m in messages)
