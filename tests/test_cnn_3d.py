"""Volumes (NCDHW in torch, NDHWC in Keras): Conv3d, BatchNorm3d, 3-d pooling and channel
dropout, and their F.* forms, each converted and checked against torch in eval and train mode."""

from __future__ import annotations

import pytest
from layer_harness import convert_checked, load_module, translated_layer
from test_cnn import images, map_source
from test_cnn_idioms import net

from torch2tf.conversion import infer_inputs

CONV3D = [
    "nn.Conv3d(3, 6, 3)",
    "nn.Conv3d(3, 6, 3, padding=1)",
    "nn.Conv3d(3, 6, 3, stride=2, padding=1, bias=False)",
    "nn.Conv3d(3, 6, (1, 3, 3), padding=(0, 1, 1))",
    "nn.Conv3d(3, 6, (3, 1, 2), stride=(1, 2, 1))",
    "nn.Conv3d(3, 6, 3, padding=2, dilation=2)",
    "nn.Conv3d(3, 6, 2, padding='same')",
    "nn.Conv3d(4, 8, 3, padding=1, groups=2)",
    "nn.Conv3d(4, 4, 3, padding=1, groups=4)",
    "nn.Conv3d(3, 6, 3, padding=1, padding_mode='reflect')",
    "nn.Conv3d(3, 6, 3, padding=(1, 0, 2), padding_mode='circular')",
]


@pytest.mark.parametrize("size", [6, 7])
@pytest.mark.parametrize("conv", CONV3D)
def test_conv3d_is_exact(tmp_path, conv, size):
    channels = int(conv.split("(")[1].split(",")[0])
    source = map_source(conv, before=None)
    convert_checked(tmp_path, source, images(channels, size, batch=2, dims=3))


MAP_LAYERS_3D = [
    "nn.BatchNorm3d(4)",
    "nn.BatchNorm3d(4, eps=1e-3, momentum=0.3, affine=False)",
    "nn.MaxPool3d(2)",
    "nn.MaxPool3d(3, stride=2, padding=1)",
    "nn.MaxPool3d((1, 3, 2), stride=(1, 2, 1), padding=(0, 1, 0))",
    "nn.MaxPool3d(3, 2, ceil_mode=True)",
    "nn.AvgPool3d(2)",
    "nn.AvgPool3d(3, stride=2, padding=1)",
    "nn.AvgPool3d(3, 2, 1, count_include_pad=False)",
    "nn.AvgPool3d(3, 2, ceil_mode=True)",
    "nn.AdaptiveAvgPool3d(1)",
    "nn.AdaptiveAvgPool3d((2, 3, 2))",
    "nn.AdaptiveMaxPool3d(1)",
    "nn.AdaptiveMaxPool3d(3)",
    "nn.Dropout3d(0.3)",
    "nn.Upsample(scale_factor=2)",
    "nn.GroupNorm(2, 4)",
]


@pytest.mark.parametrize("size", [6, 7])
@pytest.mark.parametrize("layer", MAP_LAYERS_3D)
def test_map_layers_3d_are_exact(tmp_path, layer, size):
    source = map_source(layer, before="nn.Conv3d(3, 4, 1)")
    convert_checked(tmp_path, source, images(3, size, batch=2, dims=3))


FUNCTIONAL_3D = [
    "F.max_pool3d(x, 2)",
    "F.max_pool3d(x, 3, 2, 1)",
    "F.max_pool3d(x, 3, 2, ceil_mode=True)",
    "F.avg_pool3d(x, 2)",
    "F.avg_pool3d(x, 3, 1, 1)",
    "F.avg_pool3d(x, 3, 2, 1, count_include_pad=False)",
    "F.adaptive_avg_pool3d(x, 1).flatten(1)",
    "F.adaptive_max_pool3d(x, (2, 1, 3))",
    "F.dropout3d(x, 0.2, self.training)",
    "x.mean([2, 3, 4])",
    "torch.cat([x, x * 2], dim=1)",
]


@pytest.mark.parametrize("call", FUNCTIONAL_3D)
def test_functional_forms_on_volumes(tmp_path, call):
    source = net("self.conv = nn.Conv3d(3, 4, 3)", f"x = self.conv(x)\nreturn {call}")
    convert_checked(tmp_path, source, images(3, 8, batch=2, dims=3))


def test_small_3d_classifier_keeps_torchs_flatten_order(tmp_path):
    source = net(
        """
        self.conv1 = nn.Conv3d(2, 4, 3, padding=1)
        self.bn = nn.BatchNorm3d(4)
        self.pool = nn.MaxPool3d(2)
        self.conv2 = nn.Conv3d(4, 6, 3, stride=2, padding=1)
        self.drop = nn.Dropout3d(0.1)
        self.fc = nn.Linear(6 * 2 * 2 * 2, 5)
        """,
        """
        x = self.pool(torch.relu(self.bn(self.conv1(x))))
        x = self.drop(torch.relu(self.conv2(x)))
        return self.fc(torch.flatten(x, 1))
        """,
    )
    conversion = convert_checked(tmp_path, source, images(2, 8, batch=3, dims=3))
    assert "transpose" not in conversion.source.split("class Net")[1]
    assert conversion.report["inputs"][0]["layout"] == "NCDHW -> NDHWC"


def test_input_of_a_3d_model_is_inferred(tmp_path):
    source = net(
        "self.conv = nn.Conv3d(2, 4, 3)\nself.fc = nn.Linear(4 * 5 * 5 * 5, 2)",
        "return self.fc(torch.flatten(self.conv(x), 1))",
    )
    model = load_module(tmp_path, source).Net()
    (inputs,) = infer_inputs(model)
    assert tuple(inputs.shape[1:]) == (2, 7, 7, 7)


def test_translations_read_like_keras():
    assert translated_layer(map_source("nn.Conv3d(2, 8, 3, padding=1)", before=None)) == (
        "tf.keras.layers.Conv3D(8, 3, padding='same', kernel_initializer=torch_default_kernel(), "
        "bias_initializer=torch_default_bias(54))"
    )
    assert translated_layer(map_source("nn.MaxPool3d(3, 2, 1)", before="nn.Conv3d(3, 4, 1)")) == (
        "tf.keras.Sequential([TorchPadding(1, float('-inf')), "
        "tf.keras.layers.MaxPooling3D(3, strides=2)])"
    )
    assert translated_layer(map_source("nn.Dropout3d(0.5)", before="nn.Conv3d(3, 4, 1)")) == (
        "tf.keras.layers.SpatialDropout3D(0.5)"
    )
