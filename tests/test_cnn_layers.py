"""More layers on channels-last maps, each converted and checked against torch in eval and
train mode: group and instance norm, padding layers and conv padding modes, upsampling and
F.interpolate, pixel shuffle; and what is refused."""

from __future__ import annotations

import pytest
import torch
from layer_harness import convert_checked, translated_layer
from test_cnn import _refusal, images, map_source
from test_cnn_idioms import net

LAYERS_2D = [
    "nn.GroupNorm(2, 4)",
    "nn.GroupNorm(1, 4, eps=1e-3)",
    "nn.GroupNorm(4, 4, affine=False)",
    "nn.InstanceNorm2d(4)",
    "nn.InstanceNorm2d(4, affine=True)",
    "nn.InstanceNorm2d(4, eps=1e-3, affine=True)",
    "nn.ZeroPad2d(1)",
    "nn.ZeroPad2d((1, 2, 0, 3))",
    "nn.ConstantPad2d((2, 0, 1, 1), -1.5)",
    "nn.ConstantPad2d(1, 0.0)",
    "nn.ReflectionPad2d(2)",
    "nn.ReflectionPad2d((1, 2, 3, 0))",
    "nn.ReplicationPad2d((3, 1, 0, 2))",
    "nn.CircularPad2d((1, 2, 2, 1))",
    "nn.Upsample(scale_factor=2)",
    "nn.Upsample(scale_factor=3, mode='nearest')",
    "nn.Upsample(size=(11, 5))",
    "nn.Upsample(scale_factor=1.7)",
    "nn.Upsample(scale_factor=(2, 3), mode='nearest-exact')",
    "nn.Upsample(scale_factor=2, mode='bilinear')",
    "nn.Upsample(scale_factor=2, mode='bilinear', align_corners=False)",
    "nn.Upsample(scale_factor=2, mode='bilinear', align_corners=True)",
    "nn.Upsample(size=(5, 12), mode='bilinear')",
    "nn.Upsample(size=(5, 12), mode='bilinear', align_corners=True)",
    "nn.Upsample(scale_factor=0.5, mode='bilinear')",
    "nn.UpsamplingNearest2d(scale_factor=2)",
    "nn.UpsamplingBilinear2d(scale_factor=2)",
    "nn.PixelShuffle(2)",
    "nn.PixelUnshuffle(2)",
    "nn.Conv2d(4, 6, 3, padding=1, padding_mode='reflect')",
    "nn.Conv2d(4, 6, 3, padding=2, stride=2, padding_mode='replicate')",
    "nn.Conv2d(4, 6, (3, 5), padding=(1, 2), padding_mode='circular', bias=False)",
    "nn.Conv2d(4, 6, 4, padding='same', padding_mode='reflect')",
    "nn.Conv2d(4, 4, 3, padding=1, groups=4, padding_mode='replicate')",
    "nn.MaxPool2d(3, 2, ceil_mode=True)",
    "nn.MaxPool2d(3, 2, 1, ceil_mode=True)",
    "nn.MaxPool2d(2, ceil_mode=True)",
    "nn.AvgPool2d(3, 2, 1, count_include_pad=False)",
    "nn.AvgPool2d(3, 1, 1, count_include_pad=False)",
    "nn.AvgPool2d(3, 2, ceil_mode=True)",
    "nn.AvgPool2d(3, 2, 1, ceil_mode=True)",
    "nn.AvgPool2d(2, ceil_mode=True, count_include_pad=False)",
    "nn.AvgPool2d((3, 2), (2, 1), (1, 0), ceil_mode=True)",
    "nn.ConvTranspose2d(4, 6, 4, stride=2, padding=1)",
    "nn.ConvTranspose2d(4, 6, 3, stride=2, padding=1, output_padding=1)",
    "nn.ConvTranspose2d(4, 6, 2, stride=2)",
    "nn.ConvTranspose2d(4, 6, 3)",
    "nn.ConvTranspose2d(4, 6, 3, padding=1)",
    "nn.ConvTranspose2d(4, 6, 5, stride=2, padding=2, output_padding=1, bias=False)",
    "nn.ConvTranspose2d(4, 6, 3, stride=3, padding=1, output_padding=2)",
    "nn.ConvTranspose2d(4, 6, 3, stride=2, output_padding=1)",
    "nn.ConvTranspose2d(4, 6, (3, 5), stride=(2, 1), padding=(1, 2))",
]


@pytest.mark.parametrize("size", [8, 9])
@pytest.mark.parametrize("layer", LAYERS_2D)
def test_layers_on_2d_maps_are_exact(tmp_path, layer, size):
    before = "nn.Conv2d(3, 4, 1)"
    if "Pixel" in layer:  # 4 channels shuffle into 1; unshuffle needs an even size
        before = "nn.Conv2d(3, 4, 1)" if size == 8 or "Shuffle(" in layer else "nn.Conv2d(3, 4, 2)"
    convert_checked(tmp_path, map_source(layer, before=before), images(3, size))


LAYERS_1D = [
    "nn.GroupNorm(2, 4)",
    "nn.InstanceNorm1d(4)",
    "nn.InstanceNorm1d(4, affine=True)",
    "nn.ZeroPad1d((2, 1))",
    "nn.ConstantPad1d(2, 3.0)",
    "nn.ReflectionPad1d((3, 1))",
    "nn.ReplicationPad1d(2)",
    "nn.CircularPad1d((1, 3))",
    "nn.Upsample(scale_factor=2)",
    "nn.Upsample(size=17, mode='linear')",
    "nn.Upsample(scale_factor=3, mode='linear', align_corners=True)",
    "nn.Conv1d(4, 6, 3, padding=1, padding_mode='reflect')",
    "nn.Conv1d(4, 6, 5, padding='same', padding_mode='circular')",
    "nn.MaxPool1d(3, 2, ceil_mode=True)",
    "nn.AvgPool1d(3, 2, 1, ceil_mode=True, count_include_pad=False)",
    "nn.AvgPool1d(4, 3, 2, ceil_mode=True)",
    "nn.ConvTranspose1d(4, 6, 4, stride=2, padding=1)",
    "nn.ConvTranspose1d(4, 6, 3, stride=2, padding=1, output_padding=1, bias=False)",
]


@pytest.mark.parametrize("layer", LAYERS_1D)
def test_layers_on_1d_maps_are_exact(tmp_path, layer):
    source = map_source(layer, before="nn.Conv1d(3, 4, 1)")
    convert_checked(tmp_path, source, images(3, 11, dims=1))


def test_group_norm_on_features_keeps_torchs_axis(tmp_path):
    source = net(
        "self.fc = nn.Linear(5, 6)\nself.norm = nn.GroupNorm(3, 6)", "return self.norm(self.fc(x))"
    )
    conversion = convert_checked(tmp_path, source, torch.randn(4, 5))
    assert "axis=1" in conversion.source


FUNCTIONAL = [
    "F.interpolate(x, scale_factor=2)",
    "F.interpolate(x, scale_factor=2, mode='nearest')",
    "F.interpolate(x, size=(7, 13))",
    "F.interpolate(x, size=(7, 13), mode='bilinear', align_corners=False)",
    "F.interpolate(x, scale_factor=2, mode='bilinear', align_corners=True)",
    "F.interpolate(x, scale_factor=1.5, mode='bilinear')",
    "F.interpolate(x, scale_factor=3, mode='nearest', recompute_scale_factor=True)",
    "F.upsample(x, scale_factor=2, mode='bilinear', align_corners=False)",
    "F.pad(x, (1, 2, 3, 0))",
    "F.pad(x, (1, 1, 2, 2), value=-1.0)",
    "F.pad(x, [2, 1, 1, 2], mode='reflect')",
    "F.pad(x, (1, 2, 3, 0), 'replicate')",
    "F.pad(x, (1, 2, 0, 1), mode='circular')",
    "F.pad(x.mean([2, 3]), (2, 3), value=4.0).sum() + x",
]


@pytest.mark.parametrize("call", FUNCTIONAL)
def test_functional_resampling_and_padding(tmp_path, call):
    source = net("self.conv = nn.Conv2d(3, 4, 3)", f"x = self.conv(x)\nreturn {call}")
    convert_checked(tmp_path, source, images(3, 9))


def test_unet_style_decoder(tmp_path):
    source = net(
        """
        self.down = nn.Conv2d(3, 8, 3, stride=2, padding=1)
        self.mid = nn.Conv2d(8, 16, 3, padding=1, padding_mode='reflect')
        self.shuffle = nn.PixelShuffle(2)
        self.up = nn.Upsample(scale_factor=2, mode='bilinear', align_corners=False)
        self.norm = nn.GroupNorm(4, 12)
        self.out = nn.Conv2d(12, 2, 1)
        """,
        """
        skip = torch.relu(self.down(x))
        y = self.shuffle(torch.relu(self.mid(skip)))
        y = torch.cat([y, self.up(skip)], dim=1)
        return self.out(self.norm(F.interpolate(y, scale_factor=0.5)))
        """,
    )
    conversion = convert_checked(tmp_path, source, images(3, 12))
    assert "transpose" not in conversion.source.split("class Net")[1]


def test_translations_read_like_keras():
    assert translated_layer(map_source("nn.GroupNorm(2, 4)")) == (
        "tf.keras.layers.GroupNormalization(2, epsilon=1e-05)"
    )
    assert translated_layer(map_source("nn.InstanceNorm2d(4)")) == (
        "tf.keras.layers.GroupNormalization(-1, epsilon=1e-05, center=False, scale=False)"
    )
    assert translated_layer(map_source("nn.ZeroPad2d((1, 2, 0, 3))")) == (
        "tf.keras.layers.ZeroPadding2D(((0, 3), (1, 2)))"
    )
    assert translated_layer(map_source("nn.UpsamplingNearest2d(scale_factor=2)")) == (
        "tf.keras.layers.UpSampling2D(2)"
    )


@pytest.mark.parametrize(
    ("init", "expected"),
    [
        ("self.conv = nn.InstanceNorm2d(3, track_running_stats=True)", "track_running_stats"),
        ("self.conv = nn.Upsample(scale_factor=2, mode='area')", "mode='area'"),
        ("self.conv = nn.Upsample(scale_factor=2, size=4)", "exactly one of size="),
        ("self.conv = nn.ZeroPad2d((1, -1, 0, 0))", "negative padding"),
        ("self.conv = nn.Upsample(scale_factor=1.5, recompute_scale_factor=True)", "recompute"),
        ("self.conv = nn.ConvTranspose2d(3, 6, 3, groups=3)", "groups="),
        ("self.conv = nn.ConvTranspose2d(3, 4, 3, dilation=2)", "dilation="),
    ],
)
def test_what_is_not_translated_yet_is_refused(init, expected):
    messages = _refusal("x = self.conv(x)", init)
    assert any(m.startswith("net.py:8:21: error: ") and expected in m for m in messages), messages


def test_conv_transpose_default_initialisation_has_torchs_bounds(tmp_path):
    # torch's fan_in of a transposed conv's weight (I, O, *k) is O * prod(k)
    import numpy as np
    import tensorflow as tf
    from layer_harness import load_module

    from torch2tf.translate import translate_source

    source = map_source("nn.ConvTranspose2d(64, 8, 3, stride=2, padding=1)", before=None)
    model = load_module(tmp_path, translate_source(source)).Net()
    model(tf.zeros((1, 5, 5, 64)))
    kernel, bias = (v.numpy() for v in model.layer.weights)
    bound = 1 / np.sqrt(8 * 9)
    assert kernel.shape == (3, 3, 8, 64)
    for values in (kernel, bias):
        assert np.abs(values).max() <= bound
    assert np.abs(kernel).max() > 0.95 * bound


def test_padding_a_flattened_map_is_refused():
    messages = _refusal("x = torch.nn.functional.pad(self.conv(x).flatten(1), (2, 3))")
    assert any("net.py:12:13: error: F.pad expects a channels-last" in m for m in messages)
