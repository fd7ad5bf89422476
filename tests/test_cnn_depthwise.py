"""Depthwise convolutions (groups == in_channels) become Keras's DepthwiseConv1D/2D, not a
grouped Conv: exact in eval and train mode, weights (C*m, 1, *k) -> (*k, C, m), torch's
initial distributions (fans k and C*m*k), decided at construction when only values can."""

from __future__ import annotations

import textwrap

import numpy as np
import pytest
import tensorflow as tf
import torch
from digits_training import digits_images, train_side_by_side
from layer_harness import HEADER, convert_checked, load_module, translated_layer

import torch2tf
from torch2tf.parity_training import weight_difference
from torch2tf.translate import translate_source


def block_source(conv: str, params: str = "", dims: int = 2) -> str:
    """A Net: a 1x1 conv to the conv's in_channels (``4`` or ``c``), the depthwise ``conv``
    (its out_channels the second argument), BatchNorm, ReLU6."""
    signature = f"self, {params}" if params else "self"
    width, out = (a.strip() for a in conv.split("(", 1)[1].split(",")[:2])
    return (
        f"{HEADER}\n\nclass Net(nn.Module):\n    def __init__({signature}):\n"
        "        super().__init__()\n"
        f"        self.pre = nn.Conv{dims}d(3, {width}, 1)\n"
        f"        self.layer = {conv}\n"
        f"        self.bn = nn.BatchNorm{dims}d({out})\n"
        "        self.act = nn.ReLU6()\n\n"
        "    def forward(self, x):\n"
        "        return self.act(self.bn(self.layer(self.pre(x))))\n"
    )


def images(size: int, batch: int = 4, dims: int = 2) -> torch.Tensor:
    generator = torch.Generator().manual_seed(size)
    return torch.randn((batch, 3, *([size] * dims)), generator=generator)


def keras_types(conversion) -> list[str]:
    layers = conversion.keras_model._flatten_layers(include_self=False, recursive=True)
    return [type(layer).__name__ for layer in layers]


LITERAL = [
    "nn.Conv2d(4, 4, 3, padding=1, groups=4)",
    "nn.Conv2d(4, 8, 3, padding=1, groups=4)",  # depth multiplier 2
    "nn.Conv2d(4, 4, 3, stride=2, padding=1, groups=4, bias=False)",
    "nn.Conv2d(4, 12, 3, stride=2, padding=1, groups=4)",
    "nn.Conv2d(4, 4, 3, padding=2, dilation=2, groups=4)",
    "nn.Conv2d(4, 8, (3, 5), padding=(1, 2), groups=4)",
    "nn.Conv2d(4, 4, 5, padding='same', groups=4)",
    "nn.Conv2d(4, 4, 3, padding=1, groups=4, padding_mode='reflect')",
]


@pytest.mark.parametrize("size", [8, 9])
@pytest.mark.parametrize("conv", LITERAL)
def test_literal_depthwise_convs_are_exact(tmp_path, conv, size):
    conversion = convert_checked(tmp_path, block_source(conv), images(size))
    types = keras_types(conversion)
    assert "DepthwiseConv2D" in types and types.count("Conv2D") == 1  # pre only


VARIABLE = [  # (constructor, arguments, Keras class of self.layer)
    ("nn.Conv2d(c, c, 3, padding=1, groups=c)", "c=4", {}, "DepthwiseConv2D"),
    ("nn.Conv2d(c, 2 * c, 3, stride=2, padding=1, groups=c)", "c=4", {}, "DepthwiseConv2D"),
    ("nn.Conv2d(c, out, 3, padding=1, groups=g)", "c=4, out=8, g=4", {}, "DepthwiseConv2D"),
    ("nn.Conv2d(c, out, 3, padding=1, groups=g)", "c=4, out=8, g=2", {}, "Conv2D"),
    ("nn.Conv2d(c, out, 3, padding=p, groups=g)", "c=4, out=8, g=4, p=1", {}, "DepthwiseConv2D"),
]


@pytest.mark.parametrize(("conv", "params", "kwargs", "expected"), VARIABLE)
def test_variable_channel_counts_are_exact(tmp_path, conv, params, kwargs, expected):
    conversion = convert_checked(
        tmp_path, block_source(conv, params), images(9), kwargs=kwargs or None
    )
    layer = conversion.keras_model.layer
    inner = layer.layers[-1] if isinstance(layer, tf.keras.Sequential) else layer
    assert type(inner).__name__ == expected


def test_a_runtime_choice_is_exact_in_both_branches(tmp_path):
    source = block_source("nn.Conv2d(c, out, 3, padding=1, groups=g)", "c=4, out=8, g=4")
    for g, expected in ((4, "DepthwiseConv2D"), (2, "Conv2D"), (1, "Conv2D")):
        conversion = convert_checked(tmp_path, source, images(8), kwargs={"g": g})
        assert type(conversion.keras_model.layer).__name__ == expected


@pytest.mark.parametrize(
    "conv",
    [
        "nn.Conv2d(4, 8, 3, stride=2, padding=1, groups=4)",
        "nn.Conv2d(4, 4, 3, padding=2, dilation=2, groups=4, bias=False)",
    ],
)
def test_float64_is_exact_to_round_off(tmp_path, conv):
    conversion = convert_checked(tmp_path, block_source(conv), images(9), dtype=torch.float64)
    assert conversion.max_abs_error < 1e-12


@pytest.mark.parametrize(
    "conv",
    [
        "nn.Conv1d(4, 4, 5, padding=2, groups=4)",
        "nn.Conv1d(4, 8, 3, stride=2, padding=1, groups=4, bias=False)",
        "nn.Conv1d(c, c, 3, padding=2, dilation=2, groups=c)",
    ],
)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_conv1d_depthwise_is_exact(tmp_path, conv, dtype):
    params = "c=4" if "(c," in conv else ""
    source = block_source(conv, params, dims=1)
    conversion = convert_checked(tmp_path, source, images(11, dims=1), dtype=dtype)
    assert "DepthwiseConv1D" in keras_types(conversion)
    if dtype == torch.float64:
        assert conversion.max_abs_error < 1e-12


def test_translations_read_like_keras():
    assert translated_layer(block_source("nn.Conv2d(4, 8, 3, stride=2, padding=1, groups=4)")) == (
        "tf.keras.Sequential([tf.keras.layers.ZeroPadding2D(1), tf.keras.layers.DepthwiseConv2D("
        "3, strides=2, depth_multiplier=2, depthwise_initializer=TorchDepthwiseInit("
        "torch_default_kernel()), bias_initializer=torch_default_bias(9))])"
    )
    same = translated_layer(block_source("nn.Conv2d(c, c, 3, padding=1, groups=c)", "c=4"))
    assert same == (
        "tf.keras.layers.DepthwiseConv2D(3, padding='same', depthwise_initializer="
        "TorchDepthwiseInit(torch_default_kernel()), bias_initializer=torch_default_bias(9))"
    )
    assert translated_layer(block_source("nn.Conv1d(4, 4, 5, groups=4)", dims=1)).startswith(
        "tf.keras.layers.DepthwiseConv1D(5, "
    )
    # One input channel is a plain convolution; grouped convs stay grouped Conv2Ds; Keras has
    # no DepthwiseConv3D.
    assert translated_layer(block_source("nn.Conv2d(1, 8, 3)")).startswith(
        "tf.keras.layers.Conv2D(8, 3, "
    )
    assert "groups=2" in translated_layer(block_source("nn.Conv2d(4, 8, 3, groups=2)"))
    conv3d = translated_layer(block_source("nn.Conv3d(4, 4, 3, groups=4)", dims=3))
    assert conv3d.startswith("tf.keras.layers.Conv3D(4, 3, groups=4, ")


def test_a_runtime_choice_reads_as_a_commented_conditional():
    code = translate_source(block_source("nn.Conv2d(c, out, 3, groups=g)", "c=4, out=8, g=4"))
    assert "# depthwise convs as DepthwiseConv2D (fast on CPU), others as Conv2D" in code
    layer = translated_layer(block_source("nn.Conv2d(c, out, 3, groups=g)", "c=4, out=8, g=4"))
    assert layer.startswith(
        "tf.keras.layers.DepthwiseConv2D(3, depth_multiplier=out // c, depthwise_initializer="
    )
    assert " if g == c != 1 else tf.keras.layers.Conv2D(out, 3, groups=g, " in layer
    assert layer.count("name='layer'") == 2  # both branches named after the attribute


def test_non_divisible_output_channels_are_refused():
    with pytest.raises(torch2tf.TranslationError, match=r"out_channels \(6\) must be divisible"):
        translate_source(block_source("nn.Conv2d(4, 6, 3, groups=4)"))


# ---- initial distributions (seeded): torch's fans are k and C*m*k; Keras's would be k*C, k*m


def _kernels(tmp_path, init: str, c: int = 256, m: int = 1, k: int = 5, variable=False):
    """(torch's, Keras's) initial depthwise weights of Conv2d(c, c*m, k, groups=c) in Keras's
    layout, with ``init`` (an init call on self.layer.weight, or empty: the default);
    ``variable``: the counts are constructor arguments (the choice is made at run time)."""
    source = block_source(f"nn.Conv2d({c}, {c * m}, {k}, groups={c})")
    if variable:
        conv = f"nn.Conv2d(c, out, {k}, groups=g)"
        source = block_source(conv, f"c={c}, out={c * m}, g={c}")
    if init:
        source = source.replace("        self.act =", f"        {init}\n        self.act =")
    torch.manual_seed(0)
    torch_model = load_module(tmp_path, source).Net()
    tf.keras.utils.set_random_seed(0)
    keras_model = load_module(tmp_path, translate_source(source)).Net()
    keras_model(tf.zeros((1, k, k, 3)))
    layer = keras_model.layer
    assert type(layer).__name__ == "DepthwiseConv2D"
    assert layer.kernel.shape == (k, k, c, m)
    torch_kernel = torch_model.layer.weight.detach().numpy()
    return torch_kernel, layer.kernel.numpy(), layer.bias.numpy()


def test_default_initialisation_has_torchs_bounds(tmp_path):
    # kaiming_uniform_(a=sqrt(5)): U(+-1/sqrt(fan_in)), fan_in = k*k (in/groups = 1); the bias
    # has the same bound. Keras's own fans would give a bound 16 times smaller here.
    torch_kernel, kernel, bias = _kernels(tmp_path, "")
    bound = 1 / 5
    assert np.abs(torch_kernel).max() <= bound
    for values in (kernel, bias):
        assert np.abs(values).max() <= bound
    assert np.abs(kernel).max() > 0.95 * bound
    # std of U(+-b) is b/sqrt(3); 6400 draws: standard error ~1%, bound 5%
    assert abs(kernel.std() - bound / np.sqrt(3)) < 0.05 * bound / np.sqrt(3)
    assert abs(torch_kernel.std() - kernel.std()) < 0.05 * kernel.std()


@pytest.mark.parametrize(
    ("init", "std"),
    [
        # fan_out measured from torch below: C*m*k*k, not divided by groups
        (
            "nn.init.kaiming_normal_(self.layer.weight, mode='fan_out', nonlinearity='relu')",
            lambda fan_in, fan_out: np.sqrt(2 / fan_out),
        ),
        ("nn.init.kaiming_normal_(self.layer.weight)", lambda fan_in, fan_out: np.sqrt(2 / fan_in)),
        (
            "nn.init.xavier_uniform_(self.layer.weight)",
            lambda fan_in, fan_out: np.sqrt(2 / (fan_in + fan_out)),
        ),
        ("nn.init.normal_(self.layer.weight, std=0.02)", lambda fan_in, fan_out: 0.02),
    ],
    ids=["kaiming-fan-out", "kaiming-fan-in", "xavier", "normal"],
)
@pytest.mark.parametrize("variable", [False, True], ids=["literal", "variable"])
@pytest.mark.parametrize("m", [1, 2])
def test_init_calls_draw_torchs_distribution(tmp_path, init, std, m, variable):
    c = 256 // m
    torch_kernel, kernel, _ = _kernels(tmp_path, init, c=c, m=m, variable=variable)
    fans = torch.nn.init._calculate_fan_in_and_fan_out(torch.empty(c * m, 1, 5, 5))
    assert fans == (25, c * m * 25)
    expected = std(*fans)
    assert abs(torch_kernel.std() - expected) < 0.05 * expected  # the expectation is torch's
    assert abs(kernel.std() - expected) < 0.05 * expected
    assert abs(kernel.mean()) < 5 * expected / np.sqrt(kernel.size)


LOOP = """
import torch.nn as nn


def dw(c, stride):
    return nn.Sequential(nn.Conv2d(c, c, 3, stride, 1, groups=c, bias=False), nn.BatchNorm2d(c))


class Net(nn.Module):
    def __init__(self, c=256):
        super().__init__()
        self.pre = nn.Conv2d(3, c, 1)
        self.body = dw(c, 2)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out")
                if m.bias is not None:
                    nn.init.zeros_(m.bias)

    def forward(self, x):
        return self.body(self.pre(x))
"""


def test_an_init_loop_over_modules_reaches_depthwise_layers(tmp_path):
    """torchvision's loop (kaiming_normal_ fan_out on every Conv2d), kept as a loop over the
    Keras layers: isinstance covers DepthwiseConv2D, and torch_init draws with torch's fans."""
    code = translate_source(LOOP)
    assert "isinstance(m, (tf.keras.layers.Conv2D, tf.keras.layers.DepthwiseConv2D))" in code
    tf.keras.utils.set_random_seed(0)
    model = load_module(tmp_path, code).Net()
    model(tf.zeros((1, 8, 8, 3)))
    depthwise = model.body.layers[0].layers[-1]  # after its ZeroPadding2D
    assert type(depthwise).__name__ == "DepthwiseConv2D"
    kernel = depthwise.kernel.numpy()
    std = np.sqrt(2 / (256 * 9))  # torch's fan_out: C*m*k*k
    assert abs(kernel.std() - std) < 0.05 * std
    pre = model.pre.layers[-1] if isinstance(model.pre, tf.keras.Sequential) else model.pre
    assert abs(pre.kernel.numpy().std() - np.sqrt(2 / 256)) < 0.1 * np.sqrt(2 / 256)
    assert np.all(pre.bias.numpy() == 0)


def test_torch_init_on_a_built_depthwise_layer_uses_torchs_fans():
    from torch2tf.keras_helpers.initializers import torch_init

    tf.keras.utils.set_random_seed(0)
    layer = tf.keras.layers.DepthwiseConv2D(5, depth_multiplier=2)
    layer.build((None, 9, 9, 128))
    init = tf.keras.initializers.VarianceScaling(2.0, "fan_out", "untruncated_normal")
    torch_init(layer, "kernel", init)
    std = np.sqrt(2 / (256 * 25))
    assert abs(layer.kernel.numpy().std() - std) < 0.05 * std
    unbuilt = tf.keras.layers.DepthwiseConv2D(3)
    torch_init(unbuilt, "kernel", init)
    assert type(unbuilt.depthwise_initializer).__name__ == "TorchDepthwiseInit"


# ---- weights


def test_weights_move_as_c_times_m_plus_j(tmp_path):
    """torch's output channel c*m+j is input channel c's j-th filter, Keras's (c, j)."""
    source = block_source("nn.Conv2d(4, 12, 3, groups=4)")
    conversion = convert_checked(tmp_path, source, images(7))
    weight = conversion.torch_model.layer.weight.detach().numpy()  # (12, 1, 3, 3)
    kernel = conversion.keras_model.layer.kernel.numpy()  # (3, 3, 4, 3)
    for c in range(4):
        for j in range(3):
            np.testing.assert_array_equal(kernel[:, :, c, j], weight[c * 3 + j, 0])
    assert weight_difference(conversion.torch_model, conversion.keras_model) == 0.0


# ---- training parity

TRAINED = """
import torch
import torch.nn as nn
import torch.nn.functional as F


class Net(nn.Module):
    def __init__(self, classes=10):
        super().__init__()
        self.expand = nn.Conv2d(1, 16, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(16)
        self.dw = nn.Conv2d(16, 32, 3, stride=2, padding=1, groups=16, bias=False)
        self.bn2 = nn.BatchNorm2d(32)
        self.fc = nn.Linear(32, classes)

    def forward(self, x):
        x = F.relu6(self.bn1(self.expand(x)))
        x = F.relu6(self.bn2(self.dw(x)))
        return self.fc(x.mean([2, 3]))
"""


def test_a_depthwise_net_trains_like_torch(tmp_path):
    """scikit-learn's digits as 1x8x8 images, Adam, 60 steps in float64: the
    loss trajectory and the weights within 1e-6 of torch's."""
    data, labels = digits_images()
    torch.manual_seed(0)
    model = load_module(tmp_path, textwrap.dedent(TRAINED)).Net().double()
    conversion = torch2tf.convert(model, inputs=torch.from_numpy(data[:16]))
    assert conversion.passed, conversion.table()
    assert type(conversion.keras_model.dw.layers[-1]).__name__ == "DepthwiseConv2D"
    keras_model = conversion.keras_model
    torch_optimizer = torch.optim.Adam(model.parameters(), lr=0.03)
    torch_losses, tf_losses = train_side_by_side(
        model, conversion, torch_optimizer, data, labels, 60, 24
    )
    assert np.max(np.abs(tf_losses - torch_losses) / np.abs(torch_losses)) < 1e-6
    assert weight_difference(model, keras_model) < 1e-6
    assert torch_losses[-5:].mean() < 0.8 * torch_losses[:5].mean()  # it learns


def test_a_runtime_chosen_depthwise_net_exports_and_reloads(tmp_path):
    """The .keras file keeps the chosen layer and TorchDepthwiseInit (registered)."""
    source = block_source("nn.Conv2d(c, out, 3, padding=1, groups=g)", "c=4, out=8, g=4")
    conversion = convert_checked(tmp_path, source, images(8))
    exports = conversion.export(tmp_path / "out", ["keras", "savedmodel"])
    assert exports["keras"]["passed"] and exports["savedmodel"]["passed"], exports


def test_an_init_loop_over_layers_made_in_init_wraps_the_depthwise_initializer():
    """The loop read at translation (every layer made in __init__) sets each layer's
    initializer: the depthwise one drawn with torch's fans."""
    source = textwrap.dedent(
        """\
        import torch.nn as nn


        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.pre = nn.Conv2d(3, 8, 1)
                self.layer = nn.Conv2d(8, 8, 3, padding=1, groups=8, bias=False)
                for m in self.modules():
                    if isinstance(m, nn.Conv2d):
                        nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")

            def forward(self, x):
                return self.layer(self.pre(x))
        """
    )
    assert translated_layer(source) == (
        "tf.keras.layers.DepthwiseConv2D(3, padding='same', use_bias=False, "
        "depthwise_initializer=TorchDepthwiseInit(tf.keras.initializers.VarianceScaling(2.0, "
        "'fan_out', 'untruncated_normal')))"
    )
