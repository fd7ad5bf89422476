"""Convolutional networks as channels-last Keras: per-layer rules, the tensor facts (dims
moved, flatten rows permuted), whole models converted in eval and train mode, refusals."""

from __future__ import annotations

import json
import textwrap

import numpy as np
import pytest
import tensorflow as tf
import torch
from layer_harness import HEADER, convert_checked, load_module, translated_layer

import torch2tf
from torch2tf.translate import translate_source


def map_source(layer: str, before: str | None = "nn.Conv2d(3, 4, 1)", tail: str = "") -> str:
    """A Net applying ``before`` (a conv, so the input is a feature map) then ``layer``."""
    steps = [(n, c) for n, c in (("pre", before), ("layer", layer)) if c]
    init = "\n".join(f"        self.{n} = {c}" for n, c in steps)
    body = "\n".join(f"        x = self.{n}(x)" for n, _ in steps)
    return (
        f"{HEADER}\n\nclass Net(nn.Module):\n    def __init__(self):\n        super().__init__()\n"
        f"{init}\n\n    def forward(self, x):\n{body}\n{tail}        return x\n"
    )


def images(channels: int, size: int, batch: int = 4, dims: int = 2) -> torch.Tensor:
    generator = torch.Generator().manual_seed(size)
    return torch.randn((batch, channels, *([size] * dims)), generator=generator)


CONV2D = [
    "nn.Conv2d(3, 8, 3)",
    "nn.Conv2d(3, 8, 3, padding=1)",
    "nn.Conv2d(3, 8, 3, stride=2, padding=1)",
    "nn.Conv2d(3, 8, 5, stride=2, padding=2, bias=False)",
    "nn.Conv2d(3, 8, 7, stride=2, padding=3)",
    "nn.Conv2d(3, 8, 4, padding=2)",
    "nn.Conv2d(3, 8, 4, stride=2, padding=1)",
    "nn.Conv2d(3, 8, (3, 5), padding=(1, 2))",
    "nn.Conv2d(3, 8, (5, 3), stride=(2, 1), padding=(0, 1))",
    "nn.Conv2d(3, 8, 3, padding=2, dilation=2)",
    "nn.Conv2d(3, 8, 2, padding='same', dilation=3)",
    "nn.Conv2d(3, 8, 4, padding='same')",
    "nn.Conv2d(3, 8, 3, padding='valid')",
    "nn.Conv2d(3, 8, 1, stride=2)",
    "nn.Conv2d(4, 8, 3, padding=1, groups=2)",
    "nn.Conv2d(4, 4, 3, stride=2, padding=1, groups=4, bias=False)",
    "nn.Conv2d(4, 8, 3, padding=1, groups=4)",
]


@pytest.mark.parametrize("size", [8, 9])
@pytest.mark.parametrize("conv", CONV2D)
def test_conv2d_is_exact(tmp_path, conv, size):
    channels = int(conv.split("(")[1].split(",")[0])
    convert_checked(tmp_path, map_source(conv, before=None), images(channels, size))


@pytest.mark.parametrize(
    "conv",
    [
        "nn.Conv1d(3, 8, 3)",
        "nn.Conv1d(3, 8, 3, padding=1)",
        "nn.Conv1d(3, 8, 3, stride=2, padding=1, bias=False)",
        "nn.Conv1d(3, 8, 3, padding=2, dilation=2)",
        "nn.Conv1d(4, 8, 5, padding='same', groups=2)",
    ],
)
@pytest.mark.parametrize("size", [10, 11])
def test_conv1d_is_exact(tmp_path, conv, size):
    channels = int(conv.split("(")[1].split(",")[0])
    source = map_source(conv, before=None)
    convert_checked(tmp_path, source, images(channels, size, dims=1))


MAP_LAYERS_2D = [
    "nn.BatchNorm2d(4)",
    "nn.BatchNorm2d(4, eps=1e-3, momentum=0.3)",
    "nn.BatchNorm2d(4, affine=False)",
    "nn.MaxPool2d(2)",
    "nn.MaxPool2d(3, 2)",
    "nn.MaxPool2d(3, stride=2, padding=1)",
    "nn.MaxPool2d((3, 2), stride=(1, 2), padding=(1, 0))",
    "nn.AvgPool2d(2)",
    "nn.AvgPool2d(3, stride=2, padding=1)",
    "nn.AvgPool2d(3, stride=1, padding=1)",
    "nn.AdaptiveAvgPool2d(1)",
    "nn.AdaptiveAvgPool2d((1, 1))",
    "nn.AdaptiveAvgPool2d(3)",
    "nn.AdaptiveAvgPool2d(4)",
    "nn.AdaptiveMaxPool2d((2, 3))",
    "nn.Dropout2d(0.3)",
    "nn.ReLU()",
]


@pytest.mark.parametrize("size", [8, 9])
@pytest.mark.parametrize("layer", MAP_LAYERS_2D)
def test_map_layers_2d_are_exact(tmp_path, layer, size):
    # the input of every layer is a signed feature map: -inf padding matters for max pools
    convert_checked(tmp_path, map_source(layer), images(3, size))


@pytest.mark.parametrize(
    "layer",
    [
        "nn.BatchNorm1d(4)",
        "nn.MaxPool1d(2)",
        "nn.MaxPool1d(3, 2, 1)",
        "nn.AvgPool1d(3, stride=2, padding=1)",
        "nn.AdaptiveAvgPool1d(1)",
        "nn.AdaptiveAvgPool1d(3)",
        "nn.AdaptiveMaxPool1d(2)",
        "nn.Dropout1d(0.2)",
    ],
)
def test_map_layers_1d_are_exact(tmp_path, layer):
    source = map_source(layer, before="nn.Conv1d(3, 4, 1)")
    convert_checked(tmp_path, source, images(3, 11, dims=1))


def _fused_ops(keras_model, dtype: torch.dtype, training: bool) -> int:
    x = tf.zeros((2, 6, 6, 3), str(dtype).removeprefix("torch."))
    function = tf.function(lambda x: keras_model(x, training=training))
    graph = function.get_concrete_function(x).graph
    return sum(op.type == "FusedBatchNormV3" for op in graph.get_operations())


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_batchnorm_is_one_fused_op_with_torchs_epsilon(tmp_path, dtype):
    """float32 BatchNorm runs as FusedBatchNormV3 (in eval folded into the conv before it),
    with eps 1e-5 as given: at running_var 1e-6, an epsilon raised to 1.001e-5 (cuDNN's floor)
    would be off by 4.5e-4 relative; in training its running variance is torch's unbiased one.
    float64 has no fused kernel: Keras's ops."""
    module = load_module(tmp_path, map_source("nn.BatchNorm2d(4, momentum=0.3)"))
    model = module.Net().eval().to(dtype)
    with torch.no_grad():
        model.layer.running_var.fill_(1e-6)
        model.layer.running_mean.uniform_(-1, 1)
        model.layer.weight.uniform_(0.5, 2)
    inputs = images(3, 3).to(dtype)  # 4 x 3 x 3: the unbiased variance is 36/35 the biased
    conversion = torch2tf.convert(model, inputs=inputs, atol=1e-5, rtol=1e-4)
    assert [(c.mode, c.passed) for c in conversion.checks] == [("eval", True), ("train", True)]
    keras_model = conversion.keras_model
    fused = 1 if dtype == torch.float32 else 0
    assert _fused_ops(keras_model, dtype, False) == _fused_ops(keras_model, dtype, True) == fused
    model.train()
    for step in range(3):  # running statistics updated alike
        batch = inputs * (step + 1) + step
        expected = model(batch).detach().numpy()
        received = keras_model(conversion.keras_inputs(batch)[0], training=True).numpy()
        np.testing.assert_allclose(received, expected.transpose(0, 2, 3, 1), atol=1e-5, rtol=1e-4)
    bn = keras_model.layer
    np.testing.assert_allclose(bn.moving_mean.numpy(), model.layer.running_mean, rtol=1e-5)
    np.testing.assert_allclose(bn.moving_variance.numpy(), model.layer.running_var, rtol=1e-5)


def test_float64_is_exact_to_round_off(tmp_path):
    source = map_source("nn.Conv2d(4, 6, 3, stride=2, padding=1)", before="nn.Conv2d(3, 4, 3)")
    conversion = convert_checked(tmp_path, source, images(3, 10), dtype=torch.float64)
    assert conversion.max_abs_error < 1e-12


def test_translations_read_like_keras():
    assert translated_layer(map_source("nn.Conv2d(3, 16, 3, padding=1)")) == (
        "tf.keras.layers.Conv2D(16, 3, padding='same', kernel_initializer=torch_default_kernel(), "
        "bias_initializer=torch_default_bias(27))"
    )
    stride2 = translated_layer(map_source("nn.Conv2d(16, 32, 3, stride=2, padding=1, bias=False)"))
    assert stride2 == (
        "tf.keras.Sequential([tf.keras.layers.ZeroPadding2D(1), tf.keras.layers.Conv2D(32, 3, "
        "strides=2, use_bias=False, kernel_initializer=torch_default_kernel())])"
    )
    assert translated_layer(map_source("nn.BatchNorm2d(4)")) == (
        "TorchBatchNorm(axis=-1, momentum=0.9, epsilon=1e-05)"
    )
    pool = translated_layer(map_source("nn.MaxPool2d(3, 2, 1)"))
    assert pool == (
        "tf.keras.Sequential([TorchPadding(1, float('-inf')), tf.keras.layers.MaxPooling2D(3, "
        "strides=2)])"
    )
    assert translated_layer(map_source("nn.AdaptiveAvgPool2d(1)")) == (
        "tf.keras.layers.GlobalAveragePooling2D(keepdims=True)"
    )


def test_default_initialisation_has_torchs_bounds(tmp_path):
    # torch: kaiming_uniform_(a=sqrt(5)) = U(+-1/sqrt(fan_in)), bias the same bound,
    # fan_in = in/groups * kh * kw
    source = map_source("nn.Conv2d(8, 64, 3, groups=2)", before=None)
    module = load_module(tmp_path, translate_source(source))
    model = module.Net()
    model(tf.zeros((1, 9, 9, 8)))
    kernel, bias = (v.numpy() for v in model.layer.weights)
    bound = 1 / np.sqrt(8 // 2 * 9)
    assert kernel.shape == (3, 3, 4, 64)
    for values in (kernel, bias):
        assert np.abs(values).max() <= bound
    assert np.abs(kernel).max() > 0.95 * bound
    assert abs(kernel.std() - bound / np.sqrt(3)) < 0.05 * bound


NET = """
import torch
import torch.nn as nn
import torch.nn.functional as F


class Net(nn.Module):
    def __init__(self, num_classes=10):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 16, 3, padding=1)
        self.bn1 = nn.BatchNorm2d(16)
        self.pool = nn.MaxPool2d(2)
        self.conv2 = nn.Conv2d(16, 32, 3, stride=2, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(32)
        self.fc = nn.Linear(32 * 2 * 2, num_classes)

    def forward(self, x):
        x = self.pool(F.relu(self.bn1(self.conv1(x))))
        x = F.relu(self.bn2(self.conv2(x)))
        x = FLATTEN
        return self.fc(x)
"""


@pytest.mark.parametrize("flatten", ["torch.flatten(x, 1)", "x.view(x.size(0), -1)"])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_the_small_cnn_converts(tmp_path, flatten, dtype):
    source = NET.replace("FLATTEN", flatten)
    conversion = convert_checked(tmp_path, source, images(1, 8), dtype=dtype)
    if dtype == torch.float64:
        assert conversion.max_abs_error < 1e-12
    code = conversion.source
    assert "transpose" not in code and "permute" not in code
    assert (
        'tf.keras.layers.Conv2D(\n            16,\n            3,\n            padding="same"'
        in code
    )
    report = conversion.report
    assert report["inputs"][0]["layout"] == "NCHW -> NHWC"
    assert report["outputs"] == [{"layout": "as torch"}]
    json.dumps(report)
    # the converted model takes channels-last input; the conversion moves torch's into it
    x = images(1, 8, batch=3).to(dtype)
    model = conversion.torch_model.eval()
    keras_x = conversion.keras_inputs(x)
    assert keras_x[0].shape == (3, 8, 8, 1)
    out = conversion.torch_outputs(conversion.keras_model(*keras_x, training=False))[0]
    tolerance = 1e-5 if dtype == torch.float32 else 1e-12
    assert torch.allclose(out, model(x).detach(), atol=tolerance, rtol=1e-4)


def test_without_the_row_permutation_the_cnn_would_differ(tmp_path):
    """The flatten order matters: the Linear's rows are permuted, not merely reshaped."""
    conversion = convert_checked(
        tmp_path, NET.replace("FLATTEN", "torch.flatten(x, 1)"), images(1, 8)
    )
    torch_kernel = conversion.torch_model.fc.weight.detach().numpy().T
    keras_kernel = conversion.keras_model.fc.kernel.numpy()
    assert not np.allclose(torch_kernel, keras_kernel)
    assert np.allclose(np.sort(torch_kernel, axis=0), np.sort(keras_kernel, axis=0))


def test_the_input_shape_is_inferred_from_the_first_conv(tmp_path):
    module = load_module(tmp_path, NET.replace("FLATTEN", "torch.flatten(x, 1)"))
    torch.manual_seed(0)
    conversion = torch2tf.convert(module.Net().eval())
    assert conversion.passed, conversion.table()
    shape = conversion.report["inputs"][0]["shape"]
    assert shape[:2] == [16, 1] and shape[2] == shape[3]  # the first square size it runs on


SEQUENCE_NET = """
import torch
import torch.nn as nn


class SequenceNet(nn.Module):
    def __init__(self, channels=6, classes=3):
        super().__init__()
        self.conv = nn.Conv1d(channels, 16, 5, padding=2)
        self.bn = nn.BatchNorm1d(16)
        self.conv2 = nn.Conv1d(16, 16, 3, stride=2, padding=1)
        self.pool = nn.AdaptiveAvgPool1d(1)
        self.head = nn.Linear(32, classes)

    def forward(self, x):
        x = torch.relu(self.bn(self.conv(x)))
        y = torch.relu(self.conv2(x))
        features = torch.cat([x.mean(-1), torch.flatten(self.pool(y), 1)], dim=1)
        return torch.softmax(self.head(features), dim=-1)
"""


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_a_1d_conv_net_over_sequences_converts(tmp_path, dtype):
    conversion = convert_checked(
        tmp_path, SEQUENCE_NET, images(6, 21, dims=1), "SequenceNet", dtype
    )
    assert "TorchBatchNorm(axis=-1" in conversion.source
    assert "tf.reduce_mean(x, axis=1)" in conversion.source  # mean(-1) over L: axis 1 of NLC


VGG = """
import torch
import torch.nn as nn


def block(cin, cout):
    return nn.Sequential(
        nn.Conv2d(cin, cout, 3, padding=1), nn.BatchNorm2d(cout), nn.ReLU(inplace=True)
    )


class VGGish(nn.Module):
    def __init__(self, classes=5):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 8, 3, padding=1),
            nn.BatchNorm2d(8),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(2, 2),
            nn.Conv2d(8, 16, 3, padding=1),
            nn.BatchNorm2d(16),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(2, 2),
        )
        self.classifier = nn.Sequential(
            nn.Dropout(0.5), nn.Linear(16 * 3 * 3, 32), nn.ReLU(True), nn.Linear(32, classes)
        )

    def forward(self, x):
        x = self.features(x)
        x = x.view(x.size(0), -1)
        return self.classifier(x)
"""


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_a_vgg_style_sequential_stack_converts(tmp_path, dtype):
    conversion = convert_checked(tmp_path, VGG, images(3, 12), "VGGish", dtype)
    layers = {(check.mode, c.layer) for check in conversion.checks for c in check.layers}
    assert ("train", "features.4") in layers and ("eval", "classifier.1") in layers


DIMS = """
import torch
import torch.nn as nn
import torch.nn.functional as F


class Dims(nn.Module):
    def __init__(self):
        super().__init__()
        self.a = nn.Conv2d(3, 4, 3, padding=1)
        self.b = nn.Conv2d(3, 2, 1)

    def forward(self, x):
        y = torch.cat([self.a(x), self.b(x)], dim=1)
        y = F.softmax(y, dim=1) * y.size(1)
        z = y.sum(dim=2, keepdim=True) * 2.0
        return y.mean([2, 3]) + z.amax(dim=(-2, -1))
"""


def test_dims_of_feature_maps_move_to_their_channels_last_axes(tmp_path):
    code = translate_source(DIMS)
    assert "axis=3)" in code and "tf.nn.softmax(y, axis=3)" in code
    assert "tf.keras.ops.shape(y)[3]" in code
    assert "axis=[1, 2]" in code and "axis=1, keepdims=True" in code and "axis=(1, 2)" in code
    convert_checked(tmp_path, DIMS, images(3, 7), "Dims")


def test_a_returned_feature_map_is_channels_last_and_reported(tmp_path):
    conversion = convert_checked(tmp_path, map_source("nn.MaxPool2d(2)"), images(3, 8))
    assert conversion.report["outputs"] == [{"layout": "NCHW -> NHWC"}]
    x = images(3, 8, batch=2)
    keras_out = conversion.keras_model(*conversion.keras_inputs(x))
    assert keras_out.shape == (2, 4, 4, 4)
    back = conversion.torch_outputs(keras_out)[0]
    assert torch.allclose(back, conversion.torch_model(x), atol=1e-5)


def _refusal(body: str, init: str = "self.conv = nn.Conv2d(3, 4, 3)") -> list[str]:
    source = textwrap.dedent(
        f"""\
        import torch
        import torch.nn as nn


        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                {init}
                self.fc = nn.Linear(16, 2)

            def forward(self, x):
                {body}
                return x
        """
    )
    with pytest.raises(torch2tf.TranslationError) as err:
        translate_source(source, "net.py")
    return [str(d) for d in err.value.diagnostics]


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("x = self.fc(self.conv(x))", "net.py:12:13: error: Linear on a channels-last feature map"),
        (
            "x = self.conv(x).view(-1, 16)",
            "net.py:12:13: error: Tensor.view() on a channels-last feature map",
        ),
        (
            "x = self.conv(x.view(-1, 3, 4, 4))",
            "net.py:12:13: error: Conv2d expects a channels-last",
        ),
        ("x = self.conv(x)[:, 0:2]", "net.py:12:13: error: indexing a channels-last feature map"),
        ("x = self.conv(x).permute(0, 2, 1)", "net.py:12:13: error: permute of a feature map"),
        ("x = self.conv(x) + self.fc.weight", "net.py:12:13: error: an operation between"),
    ],
)
def test_what_the_facts_cannot_follow_is_reported_at_its_position(body, expected):
    messages = _refusal(body)
    assert any(m.startswith(expected) or expected in m for m in messages), messages


def test_the_shape_of_a_map_is_in_torchs_order():
    """``x.shape`` of a map gives torch's (N, C, *spatial), as ``x.size()`` does."""
    source = textwrap.dedent(
        """
        import torch.nn as nn


        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.conv = nn.Conv2d(3, 4, 3)

            def forward(self, x):
                x = self.conv(x)
                b, c, h, w = x.shape
                return x, c, x.shape[2]
        """
    )
    code = translate_source(source, "net.py")
    assert "b, c, h, w = torch_map_order(tf.keras.ops.shape(x))" in code
    assert "torch_map_order(tf.keras.ops.shape(x))[2]" in code


@pytest.mark.parametrize(
    ("init", "expected"),
    [
        ("self.conv = nn.Conv2d(3, 4, 3, padding_mode=mode)", "padding_mode=mode"),
        ("self.conv = nn.MaxPool2d(3, dilation=(2, 0))", "dilation= must be literal positive"),
        ("self.conv = nn.Conv2d(3, 4, 3, stride=2, dilation=2)", "stride > 1 and dilation > 1"),
        ("self.conv = nn.AvgPool2d(3, divisor_override=0)", "divisor_override= must be"),
    ],
)
def test_what_is_not_translated_yet_is_refused(init, expected):
    messages = _refusal("x = self.conv(x)", init)
    assert any(m.startswith("net.py:8:21: error: ") and expected in m for m in messages), messages


def test_a_cnn_exports_and_its_build_hint_is_channels_last(tmp_path):
    source = NET.replace("FLATTEN", "x.view(x.size(0), -1)")
    conversion = convert_checked(tmp_path, source, images(1, 8))
    assert "model(tf.zeros((1, 8, 8, 1)))" in conversion.build_hint()
    exports = conversion.export(tmp_path / "out", ["keras"])
    assert exports["keras"]["passed"], exports


def test_a_conv_the_tensor_facts_cannot_follow_is_refused():
    source = textwrap.dedent(
        """\
        import torch.nn as nn


        def make(channels):
            return nn.Sequential(nn.Conv2d(channels, 8, 3), nn.BatchNorm2d(8))


        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.body = make(3)
                self.unused = nn.MaxPool2d(2)

            def forward(self, x):
                return self.body(x).mean([2, 3])
        """
    )
    with pytest.raises(torch2tf.TranslationError) as err:
        translate_source(source, "net.py")
    where = [(d.line, d.column) for d in err.value.diagnostics]
    assert where == [(12, 23)], err.value  # make()'s layers are followed through the call
    assert "translated only where forward() applies it" in str(err.value)
