"""Layer rules of the MLP family: exact translated text, refusals, default init, and numeric
parity through the real pipeline (translate -> build -> transfer weights -> verify) in eval and
train mode, in float32 and, for a few rows, float64."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf
import torch
from layer_harness import (
    assert_gradients_match,
    convert_checked,
    load_module,
    module_source,
    normalised,
    translated_layer,
)

import torch2tf
from torch2tf import TranslationError, translate_source
from torch2tf.generated import load_generated

# --------------------------------------------------------------------------- inputs

SPECIAL = [0.0, 0.1, -0.1, 0.5, -0.5, 1.0, -1.0, 2.5, -2.5, 3.0, -3.0, 6.0, -6.0, 20.0, -20.0]


def spread(*shape: int, scale: float = 25.0) -> torch.Tensor:
    """Values covering every region of the activations: kinks, thresholds, tails (+-scale)."""
    count = int(np.prod(shape))
    special = torch.tensor(SPECIAL)[: count // 4]
    grid = torch.linspace(-scale, scale, count - len(special))
    values = torch.cat([special, grid])
    return values[torch.randperm(count, generator=torch.Generator().manual_seed(0))].reshape(shape)


def ints(*shape: int, high: int = 10) -> torch.Tensor:
    """Token ids that include 0 and high - 1 (the usual padding rows)."""
    ids = torch.randint(0, high, shape, generator=torch.Generator().manual_seed(0))
    ids.view(-1)[:2] = torch.tensor([0, high - 1])
    return ids


# --------------------------------------------------------------------------- translated text

TEXT = [
    ("nn.Identity(54, unused=0.1)", "tf.keras.layers.Identity()"),
    ("nn.Flatten()", "tf.keras.layers.Flatten()"),
    ("nn.Flatten(start_dim=1, end_dim=-1)", "tf.keras.layers.Flatten()"),
    ("nn.Flatten(0, 2)", "TorchFlatten(start_dim=0, end_dim=2)"),
    ("nn.Flatten(start_dim=2)", "TorchFlatten(start_dim=2)"),
    ("nn.Unflatten(1, (2, 4))", "TorchUnflatten(1, (2, 4))"),
    ("nn.AlphaDropout()", "tf.keras.layers.AlphaDropout(0.5)"),
    ("nn.AlphaDropout(p=0.2)", "tf.keras.layers.AlphaDropout(0.2)"),
    (
        "nn.BatchNorm1d(4, affine=False, track_running_stats=False)",
        "TorchBatchNorm(momentum=0.9, epsilon=1e-05, center=False, scale=False, "
        "track_running_stats=False)",
    ),
    ("nn.LayerNorm(8)", "tf.keras.layers.LayerNormalization(epsilon=1e-05)"),
    ("nn.LayerNorm([8])", "tf.keras.layers.LayerNormalization(epsilon=1e-05)"),
    (
        "nn.LayerNorm((4, 8), eps=1e-3, bias=False)",
        "tf.keras.layers.LayerNormalization(axis=[-2, -1], epsilon=0.001, center=False)",
    ),
    (
        "nn.LayerNorm(8, elementwise_affine=False)",
        "tf.keras.layers.LayerNormalization(epsilon=1e-05, center=False, scale=False)",
    ),
    (
        "nn.LayerNorm(size)",
        "tf.keras.layers.LayerNormalization(axis=torch_normalized_axes(size), epsilon=1e-05)",
    ),
    ("nn.RMSNorm(8)", "TorchRMSNorm()"),
    ("nn.RMSNorm(8, eps=1e-6)", "tf.keras.layers.RMSNormalization(epsilon=1e-06)"),
    ("nn.RMSNorm((4, 8), elementwise_affine=False)", "TorchRMSNorm(axis=[-2, -1], scale=False)"),
    (
        "nn.Embedding(10, 4)",
        "tf.keras.layers.Embedding(10, 4, "
        "embeddings_initializer=tf.keras.initializers.RandomNormal(0.0, 1.0))",
    ),
    ("nn.Embedding(10, 4, padding_idx=0)", "PaddedEmbedding(10, 4, padding_idx=0)"),
    ("nn.Embedding(10, 4, sparse=True)", None),  # same values and gradients: accepted
    ("nn.ReLU6()", "tf.keras.layers.ReLU(max_value=6.0)"),
    ("nn.LeakyReLU()", "tf.keras.layers.LeakyReLU(negative_slope=0.01)"),
    ("nn.LeakyReLU(0.2, inplace=True)", "tf.keras.layers.LeakyReLU(negative_slope=0.2)"),
    ("nn.LeakyReLU(-0.5)", 'ActivationWith("leaky_relu", negative_slope=-0.5)'),
    ("nn.PReLU()", "TorchPReLU()"),
    ("nn.PReLU(4, init=0.1)", "TorchPReLU(4, init=0.1)"),
    ("nn.ELU()", "tf.keras.layers.ELU()"),
    ("nn.ELU(alpha=0.5)", "tf.keras.layers.ELU(alpha=0.5)"),
    ("nn.CELU()", 'tf.keras.layers.Activation("celu")'),
    ("nn.CELU(2.0)", 'ActivationWith("celu", alpha=2.0)'),
    ("nn.SELU()", 'tf.keras.layers.Activation("selu")'),
    ("nn.GELU()", 'tf.keras.layers.Activation("gelu")'),
    ('nn.GELU(approximate="tanh")', 'ActivationWith("gelu", approximate=True)'),
    ("nn.SiLU(inplace=True)", 'tf.keras.layers.Activation("silu")'),
    ("nn.Mish()", 'tf.keras.layers.Activation("mish")'),
    ("nn.Sigmoid()", 'tf.keras.layers.Activation("sigmoid")'),
    ("nn.Tanh()", 'tf.keras.layers.Activation("tanh")'),
    ("nn.Softplus()", 'tf.keras.layers.Activation("softplus")'),
    ("nn.Softplus(beta=2, threshold=5)", "TorchSoftplus(beta=2, threshold=5)"),
    ("nn.Softsign()", 'tf.keras.layers.Activation("softsign")'),
    ("nn.Hardtanh()", 'tf.keras.layers.Activation("hard_tanh")'),
    ("nn.Hardtanh(-2.0, 0.5)", "TorchHardtanh(-2.0, 0.5)"),
    ("nn.Hardtanh(min_value=0.0, max_value=6.0)", "TorchHardtanh(0.0, 6.0)"),
    ("nn.Hardswish()", 'tf.keras.layers.Activation("hard_swish")'),
    ("nn.Hardsigmoid()", 'tf.keras.layers.Activation("hard_sigmoid")'),
    ("nn.LogSigmoid()", 'tf.keras.layers.Activation("log_sigmoid")'),
    ("nn.Softmax(dim=-1)", "tf.keras.layers.Softmax(axis=-1)"),
    ("nn.Softmax(1)", "tf.keras.layers.Softmax(axis=1)"),
    ("nn.LogSoftmax(dim=-1)", 'tf.keras.layers.Activation("log_softmax")'),
    ("nn.LogSoftmax(dim=0)", 'ActivationWith("log_softmax", axis=0)'),
    ("nn.Softmin(dim=1)", "TorchSoftmin(axis=1)"),
    ("nn.Softmax(dim=size)", "tf.keras.layers.Softmax(axis=int(size))"),
    ("nn.LogSoftmax(size)", 'ActivationWith("log_softmax", axis=int(size))'),
    ("nn.GLU()", 'tf.keras.layers.Activation("glu")'),
    ("nn.GLU(dim=1)", 'ActivationWith("glu", axis=1)'),
    ("nn.Tanhshrink()", 'tf.keras.layers.Activation("tanh_shrink")'),
    ("nn.Softshrink()", 'tf.keras.layers.Activation("soft_shrink")'),
    ("nn.Softshrink(1.5)", 'ActivationWith("soft_shrink", threshold=1.5)'),
    ("nn.Hardshrink()", 'tf.keras.layers.Activation("hard_shrink")'),
    ("nn.Hardshrink(lambd=2.0)", 'ActivationWith("hard_shrink", threshold=2.0)'),
    ("nn.Threshold(0.1, 20.0)", 'ActivationWith("threshold", threshold=0.1, default_value=20.0)'),
]


@pytest.mark.parametrize(("call", "expected"), TEXT, ids=[c for c, _ in TEXT])
def test_translated_text(call, expected):
    received = translated_layer(module_source(call, after=None, params="size=8"))
    if expected is not None:
        assert received == normalised(expected)


INIT_TEXT = [
    (
        "nn.PReLU(4)",
        "nn.init.constant_(m.weight, 0.1)",
        "TorchPReLU(4, alpha_initializer=tf.keras.initializers.Constant(0.1))",
    ),
    (
        "nn.Embedding(10, 4, padding_idx=0)",
        "nn.init.normal_(m.weight, std=0.02)",
        "PaddedEmbedding(10, 4, padding_idx=0, "
        "embeddings_initializer=tf.keras.initializers.RandomNormal(0.0, 0.02))",
    ),
    (
        "nn.LayerNorm(8)",
        "nn.init.uniform_(m.weight)",
        "tf.keras.layers.LayerNormalization(epsilon=1e-05, "
        "gamma_initializer=tf.keras.initializers.RandomUniform(0.0, 1.0))",
    ),
]


def with_init_loop(call: str, init: str, **kwargs) -> str:
    """``module_source`` plus an init method looping over the modules of the layer's type."""
    kind = call.split("(")[0]
    return module_source(call, extra_init="self.reset()", **kwargs) + (
        "\n    def reset(self):\n        for m in self.modules():\n"
        f"            if isinstance(m, {kind}):\n                {init}\n"
    )


@pytest.mark.parametrize(("call", "init", "expected"), INIT_TEXT, ids=[c for c, _, _ in INIT_TEXT])
def test_init_code_becomes_initializer(call, init, expected):
    assert translated_layer(with_init_loop(call, init, after=None)) == normalised(expected)


REFUSED = [
    ("nn.Softmax()", "implicit dimension"),
    ("nn.LogSoftmax(dim=None)", "implicit dimension"),
    ("nn.Softmin()", "implicit dimension"),
    ("nn.Softmax(dim=1.5)", "dim= must be a literal integer"),
    ("nn.Embedding(10, 4, max_norm=1.0)", "max_norm"),
    ("nn.Embedding(10, 4, scale_grad_by_freq=True)", "scale_grad_by_freq"),
    ("nn.Embedding(10, 4, _freeze=True)", "_freeze"),
    ("nn.GELU(approximate=size)", "GELU(approximate=size) is not translated"),
    ("nn.AlphaDropout(1.0)", "0 <= rate < 1"),
    ("nn.LayerNorm(8, elementwise_affine=size)", "literal True or False"),
    ("nn.LayerNorm(8, dtype=torch.float64)", "dtype="),
    ("nn.LayerNorm(())", "empty normalized_shape"),
    ("nn.RMSNorm(8, elementwise_affine=size)", "literal True or False"),
    ('nn.Unflatten(1, (("a", 2), ("b", 4)))', "named shape"),
    ("nn.BatchNorm1d(4, momentum=None)", "momentum=None"),
    ("nn.ReLU6(slope=5)", "torch.nn.ReLU6"),  # a wrong call is reported, not guessed at
]


@pytest.mark.parametrize(("call", "message"), REFUSED, ids=[c for c, _ in REFUSED])
def test_refused(call, message):
    with pytest.raises(TranslationError) as caught:
        translate_source(module_source(call, after=None, params="size=8"))
    assert message in str(caught.value)


# --------------------------------------------------------------------------- numeric parity

# id: (layer, before, after, inputs)
NUMERIC = {
    "Identity": ("nn.Identity()", "nn.Linear(8, 8)", "nn.Linear(8, 3)", spread(16, 8)),
    "Flatten": ("nn.Flatten()", None, "nn.Linear(8, 3)", spread(16, 2, 4)),
    "Flatten-0-1": ("nn.Flatten(0, 1)", None, "nn.Linear(4, 3)", spread(16, 2, 4)),
    "Flatten-start2": ("nn.Flatten(start_dim=2)", None, "nn.Linear(4, 3)", spread(8, 2, 2, 2)),
    "Flatten-1-2": ("nn.Flatten(1, 2)", None, "nn.Linear(2, 3)", spread(8, 2, 2, 2)),
    "AlphaDropout": ("nn.AlphaDropout(0.2)", "nn.Linear(8, 8)", "nn.Linear(8, 3)", spread(16, 8)),
    "Unflatten": ("nn.Unflatten(1, (2, 4))", "nn.Linear(8, 8)", "nn.Linear(4, 3)", spread(16, 8)),
    "Unflatten-neg": ("nn.Unflatten(-1, (2, -1))", None, "nn.Linear(4, 3)", spread(4, 2, 8)),
    "BatchNorm1d-3d": ("nn.BatchNorm1d(4)", None, "nn.Linear(8, 3)", spread(16, 4, 8)),
    "BatchNorm1d-3d-no-affine": (
        "nn.BatchNorm1d(4, affine=False, momentum=0.3)",
        None,
        "nn.Linear(8, 3)",
        spread(16, 4, 8),
    ),
    "BatchNorm1d-3d-no-stats": (
        "nn.BatchNorm1d(4, track_running_stats=False)",
        None,
        "nn.Linear(8, 3)",
        spread(16, 4, 8),
    ),
    "BatchNorm1d-3d-after-Linear": (
        "nn.BatchNorm1d(4)",
        "nn.Linear(8, 8)",
        "nn.Linear(8, 3)",
        spread(16, 4, 8),
    ),
    "BatchNorm1d-2d-bare": (
        "nn.BatchNorm1d(8, affine=False, track_running_stats=False)",
        None,
        "nn.Linear(8, 3)",
        spread(16, 8),
    ),
    "BatchNorm1d-3d-bare": (
        "nn.BatchNorm1d(4, affine=False, track_running_stats=False)",
        None,
        "nn.Linear(8, 3)",
        spread(16, 4, 8),
    ),
    "LayerNorm": ("nn.LayerNorm(8)", "nn.Linear(8, 8)", "nn.Linear(8, 3)", spread(16, 8)),
    "LayerNorm-2d-shape": ("nn.LayerNorm((4, 8))", None, "nn.Linear(8, 3)", spread(16, 4, 8)),
    "LayerNorm-no-bias": ("nn.LayerNorm(8, bias=False)", None, "nn.Linear(8, 3)", spread(4, 4, 8)),
    "LayerNorm-no-affine": (
        "nn.LayerNorm(8, eps=1e-3, elementwise_affine=False)",
        None,
        "nn.Linear(8, 3)",
        spread(16, 8, scale=0.01),  # eps matters at this scale
    ),
    "RMSNorm": ("nn.RMSNorm(8)", None, "nn.Linear(8, 3)", spread(16, 8, scale=1e-3)),
    "RMSNorm-eps": ("nn.RMSNorm(8, eps=1e-6)", None, "nn.Linear(8, 3)", spread(16, 8, scale=1e-3)),
    "RMSNorm-2d-shape": ("nn.RMSNorm([4, 8])", None, "nn.Linear(8, 3)", spread(4, 4, 8)),
    "RMSNorm-no-affine": (
        "nn.RMSNorm(8, elementwise_affine=False)",
        None,
        "nn.Linear(8, 3)",
        spread(16, 8, scale=1e-3),
    ),
    "Embedding": ("nn.Embedding(10, 8)", None, "nn.Linear(8, 3)", ints(4, 5)),
    "Embedding-pad": ("nn.Embedding(10, 8, padding_idx=0)", None, "nn.Linear(8, 3)", ints(4, 5)),
    "Embedding-pad-neg": ("nn.Embedding(10, 8, padding_idx=-1)", None, None, ints(4, 5)),
    "ReLU6": ("nn.ReLU6()", None, "nn.Linear(8, 3)", spread(16, 8)),
    "LeakyReLU": ("nn.LeakyReLU()", None, "nn.Linear(8, 3)", spread(16, 8)),
    "LeakyReLU-neg": ("nn.LeakyReLU(-0.5)", None, "nn.Linear(8, 3)", spread(16, 8)),
    "PReLU": ("nn.PReLU()", None, "nn.Linear(8, 3)", spread(16, 8)),
    "PReLU-channels-2d": ("nn.PReLU(8)", None, "nn.Linear(8, 3)", spread(16, 8)),
    "PReLU-shared-3d": ("nn.PReLU()", None, "nn.Linear(8, 3)", spread(4, 4, 8)),
    "PReLU-channels-3d": ("nn.PReLU(4, init=0.1)", None, "nn.Linear(8, 3)", spread(4, 4, 8)),
    "ELU": ("nn.ELU()", None, "nn.Linear(8, 3)", spread(16, 8)),
    "ELU-alpha": ("nn.ELU(alpha=0.5)", None, "nn.Linear(8, 3)", spread(16, 8)),
    "CELU": ("nn.CELU()", None, "nn.Linear(8, 3)", spread(16, 8)),
    "CELU-alpha": ("nn.CELU(alpha=2.0)", None, "nn.Linear(8, 3)", spread(16, 8)),
    "SELU": ("nn.SELU()", None, "nn.Linear(8, 3)", spread(16, 8)),
    "GELU": ("nn.GELU()", None, "nn.Linear(8, 3)", spread(16, 8)),
    "GELU-tanh": ('nn.GELU(approximate="tanh")', None, "nn.Linear(8, 3)", spread(16, 8)),
    "SiLU": ("nn.SiLU()", None, "nn.Linear(8, 3)", spread(16, 8)),
    "Mish": ("nn.Mish()", None, "nn.Linear(8, 3)", spread(16, 8)),
    "Sigmoid": ("nn.Sigmoid()", None, "nn.Linear(8, 3)", spread(16, 8)),
    "Tanh": ("nn.Tanh()", None, "nn.Linear(8, 3)", spread(16, 8)),
    "Softplus": ("nn.Softplus()", None, "nn.Linear(8, 3)", spread(16, 8, scale=40.0)),
    "Softplus-beta": (
        "nn.Softplus(beta=2, threshold=5)",
        None,
        "nn.Linear(8, 3)",
        spread(16, 8, scale=8.0),
    ),
    "Softsign": ("nn.Softsign()", None, "nn.Linear(8, 3)", spread(16, 8)),
    "Hardtanh": ("nn.Hardtanh()", None, "nn.Linear(8, 3)", spread(16, 8, scale=3.0)),
    "Hardtanh-bounds": (
        "nn.Hardtanh(-2.0, 0.5)",
        None,
        "nn.Linear(8, 3)",
        spread(16, 8, scale=4.0),
    ),
    "Hardswish": ("nn.Hardswish()", None, "nn.Linear(8, 3)", spread(16, 8, scale=5.0)),
    "Hardsigmoid": ("nn.Hardsigmoid()", None, "nn.Linear(8, 3)", spread(16, 8, scale=5.0)),
    "LogSigmoid": ("nn.LogSigmoid()", None, "nn.Linear(8, 3)", spread(16, 8)),
    "Softmax-last": ("nn.Softmax(dim=-1)", None, "nn.Linear(8, 3)", spread(16, 8)),
    "Softmax-0": ("nn.Softmax(dim=0)", None, "nn.Linear(8, 3)", spread(16, 8)),
    "Softmax-1-3d": ("nn.Softmax(dim=1)", None, "nn.Linear(8, 3)", spread(4, 4, 8)),
    "LogSoftmax-last": ("nn.LogSoftmax(dim=-1)", None, "nn.Linear(8, 3)", spread(16, 8)),
    "LogSoftmax-1-3d": ("nn.LogSoftmax(dim=1)", None, "nn.Linear(8, 3)", spread(4, 4, 8)),
    "Softmin": ("nn.Softmin(dim=-1)", None, "nn.Linear(8, 3)", spread(16, 8)),
    "Softmin-0": ("nn.Softmin(dim=0)", None, "nn.Linear(8, 3)", spread(16, 8)),
    "GLU": ("nn.GLU()", None, "nn.Linear(4, 3)", spread(16, 8)),
    "GLU-1-3d": ("nn.GLU(dim=1)", None, "nn.Linear(8, 3)", spread(4, 4, 8)),
    "Tanhshrink": ("nn.Tanhshrink()", None, "nn.Linear(8, 3)", spread(16, 8, scale=4.0)),
    "Softshrink": ("nn.Softshrink()", None, "nn.Linear(8, 3)", spread(16, 8, scale=3.0)),
    "Softshrink-1.5": ("nn.Softshrink(1.5)", None, "nn.Linear(8, 3)", spread(16, 8, scale=3.0)),
    "Hardshrink": ("nn.Hardshrink()", None, "nn.Linear(8, 3)", spread(16, 8, scale=3.0)),
    "Hardshrink-2": ("nn.Hardshrink(2.0)", None, "nn.Linear(8, 3)", spread(16, 8, scale=3.0)),
    "Threshold": ("nn.Threshold(0.1, 20.0)", None, "nn.Linear(8, 3)", spread(16, 8, scale=3.0)),
}

# float64 max abs error per case where formulas differ beyond float64 round-off.
FLOAT64 = {
    "LayerNorm-no-affine": 1e-12,
    "RMSNorm": 1e-12,
    "RMSNorm-no-affine": 1e-12,
    "GELU": 1e-8,  # tf: 0.5x*erfc(-x/sqrt2), torch: 0.5x*(1+erf(x/sqrt2)); 5e-9 in the far tail
    "Softplus-beta": 1e-12,
    "PReLU-channels-3d": 1e-12,
    "BatchNorm1d-3d": 1e-12,
    "Threshold": 1e-12,
    "BatchNorm1d-3d-no-stats": 1e-12,
}


@pytest.mark.parametrize("case", NUMERIC)
def test_numeric_parity(tmp_path, case):
    layer, before, after, inputs = NUMERIC[case]
    conversion = convert_checked(tmp_path, module_source(layer, before, after), inputs)
    if inputs.is_floating_point():  # off the kinks, where sub-gradients may differ
        inputs = inputs + 0.01 * torch.randn(
            inputs.shape, generator=torch.Generator().manual_seed(2)
        )
    assert_gradients_match(conversion, inputs)


@pytest.mark.parametrize("case", FLOAT64)
def test_numeric_parity_float64(tmp_path, case):
    layer, before, after, inputs = NUMERIC[case]
    conversion = convert_checked(
        tmp_path, module_source(layer, before, after), inputs, dtype=torch.float64
    )
    assert conversion.keras_model.dtype_policy.name == "float64"
    assert conversion.max_abs_error <= FLOAT64[case]


def test_nonliteral_normalized_shape(tmp_path):
    source = module_source("nn.LayerNorm(size)", None, "nn.Linear(8, 3)", params="size=(4, 8)")
    convert_checked(tmp_path, source, spread(4, 4, 8))
    source = module_source("nn.RMSNorm(size)", None, "nn.Linear(8, 3)", params="size=8")
    convert_checked(tmp_path, source, spread(4, 4, 8))


# --------------------------------------------------------------------------- behaviour


def _keras_twin(tmp_path, source: str, inputs, *args):
    """The torch model and a freshly initialised Keras twin (no weights copied), built."""
    module = load_module(tmp_path, source)
    generated = load_generated(translate_source(source), f"{module.__name__}_tf")
    torch_model, keras_model = module.Net(*args), generated.Net(*args)
    keras_model(tf.constant(inputs.numpy()))
    return torch_model, keras_model


DETERMINISTIC_INIT = [
    ("nn.PReLU()", spread(4, 8)),
    ("nn.PReLU(4)", spread(4, 4, 8)),
    ("nn.PReLU(4, init=-0.5)", spread(4, 4, 8)),
    ("nn.LayerNorm((4, 8))", spread(4, 4, 8)),
    ("nn.RMSNorm(8)", spread(4, 8)),
    ("nn.BatchNorm1d(4)", spread(4, 4, 8)),
]


@pytest.mark.parametrize(
    ("call", "inputs"), DETERMINISTIC_INIT, ids=[c for c, _ in DETERMINISTIC_INIT]
)
def test_default_init_is_torchs(tmp_path, call, inputs):
    torch_model, keras_model = _keras_twin(tmp_path, module_source(call, after=None), inputs)
    expected = [t.detach().numpy() for t in torch_model.layer.parameters()]
    expected += [t.numpy() for t in torch_model.layer.buffers() if t.is_floating_point()]
    received = [v.numpy() for v in keras_model.layer.weights]
    assert len(received) == len(expected)
    for e, r in zip(expected, received, strict=True):
        np.testing.assert_array_equal(r, e)


def _ks_statistic(a: np.ndarray, b: np.ndarray) -> float:
    """Two-sample Kolmogorov-Smirnov D."""
    a, b = np.sort(a.ravel()), np.sort(b.ravel())
    grid = np.concatenate([a, b])
    cdf_a = np.searchsorted(a, grid, side="right") / a.size
    cdf_b = np.searchsorted(b, grid, side="right") / b.size
    return float(np.abs(cdf_a - cdf_b).max())


@pytest.mark.parametrize("padding", ["", ", padding_idx=3", ", padding_idx=-1"])
def test_embedding_default_init_is_standard_normal(tmp_path, padding):
    source = module_source(f"nn.Embedding(1000, 64{padding})", after=None)
    torch_model, keras_model = _keras_twin(tmp_path, source, ints(2, 3, high=1000))
    torch_weight = torch_model.layer.weight.detach().numpy()
    keras_weight = keras_model.layer.embeddings.numpy()
    n = torch_weight.size
    critical = 1.95 * np.sqrt(2 / n)  # 0.1 % level
    assert _ks_statistic(torch_weight, keras_weight) < critical
    assert _ks_statistic(np.random.default_rng(0).uniform(-0.05, 0.05, n), keras_weight) > 0.4
    zero_rows = np.flatnonzero(~keras_weight.any(axis=1)).tolist()
    assert zero_rows == np.flatnonzero(~torch_weight.any(axis=1)).tolist()
    assert zero_rows == ({"": [], ", padding_idx=3": [3], ", padding_idx=-1": [999]}[padding])


def test_embedding_init_override_keeps_padding_row_random(tmp_path):
    # torch: an init call after construction overwrites the zeroed padding row too.
    source = with_init_loop(
        "nn.Embedding(50, 8, padding_idx=0)", "nn.init.normal_(m.weight, std=0.02)", after=None
    )
    _, keras_model = _keras_twin(tmp_path, source, ints(2, 3, high=50))
    weight = keras_model.layer.embeddings.numpy()
    assert weight[0].any() and weight.std() == pytest.approx(0.02, rel=0.2)


def test_embedding_padding_row_gets_no_gradient(tmp_path):
    source = module_source("nn.Embedding(10, 4, padding_idx=2)", after="nn.Linear(4, 3)")
    ids = ints(6, 5)
    ids[0, :3] = 2
    conversion = convert_checked(tmp_path, source, ids)
    torch_model, keras_model = conversion.torch_model, conversion.keras_model
    torch_model.zero_grad()
    torch_model(ids).square().sum().backward()
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(tf.square(keras_model(tf.constant(ids.numpy()))))
    (grad,) = tape.gradient(loss, [keras_model.layer.embeddings])
    grad = tf.convert_to_tensor(grad).numpy()
    expected = torch_model.layer.weight.grad.numpy()
    assert not expected[2].any() and not grad[2].any()
    np.testing.assert_allclose(grad, expected, atol=1e-5, rtol=1e-4)


def test_batchnorm_3d_running_statistics(tmp_path):
    inputs = spread(8, 4, 6) + torch.arange(4.0)[:, None] * 3
    source = module_source("nn.BatchNorm1d(4, momentum=0.2)", after=None)
    torch_model, keras_model = _keras_twin(tmp_path, source, inputs)
    torch_model.train()
    for step in range(3):
        batch = inputs * (step + 1)
        expected = torch_model(batch).detach().numpy()
        received = keras_model(tf.constant(batch.numpy()), training=True).numpy()
        np.testing.assert_allclose(received, expected, atol=1e-5, rtol=1e-4)
    bn = keras_model.layer
    np.testing.assert_allclose(bn.moving_mean.numpy(), torch_model.layer.running_mean, rtol=1e-5)
    np.testing.assert_allclose(bn.moving_variance.numpy(), torch_model.layer.running_var, rtol=1e-5)


def test_alpha_dropout_training_formula():
    """Same affine correction: each output is a*x + b (kept) or the dropped value, alike."""
    torch.manual_seed(0)
    x = spread(64, 32, scale=3.0)
    p = 0.2
    expected = torch.nn.AlphaDropout(p).train()(x).numpy()
    keras_layer = tf.keras.layers.AlphaDropout(p, seed=0)
    received = keras_layer(tf.constant(x.numpy()), training=True).numpy()
    alpha = 1.7580993408473766  # -SELU scale * alpha
    a = ((1 - p) * (1 + p * alpha**2)) ** -0.5
    kept, dropped = a * x.numpy() + a * alpha * p, np.full(x.shape, a * alpha * (p - 1))
    for out in (expected, received):
        is_kept = np.isclose(out, kept, atol=1e-6)
        assert np.all(is_kept | np.isclose(out, dropped, atol=1e-6))
        assert 0.7 < is_kept.mean() < 0.9
    eval_out = keras_layer(tf.constant(x.numpy()), training=False).numpy()
    np.testing.assert_array_equal(eval_out, x.numpy())


def test_alpha_dropout_eval_parity(tmp_path):
    # verify() zeroes only tf.keras.layers.Dropout rates, so the train check needs an engine
    # change; eval (the identity) is checked here through the real pipeline.
    module = load_module(tmp_path, module_source("nn.AlphaDropout(0.2)", "nn.Linear(8, 8)"))
    model = module.Net().eval()
    conversion = torch2tf.convert(model, inputs=spread(16, 8))
    assert conversion.checks[0].mode == "eval" and conversion.checks[0].passed


def test_generated_code_passes_ruff(tmp_path):
    layers = [call for call, _ in TEXT] + ["nn.Embedding(10, 4, padding_idx=size)"]
    lines = "\n".join(f"        self.l{i} = {call}" for i, call in enumerate(layers))
    source = (
        "import torch.nn as nn\n\n\nclass Net(nn.Module):\n"
        f"    def __init__(self, size=8):\n        super().__init__()\n{lines}\n\n"
        "    def forward(self, x):\n        return self.l0(x)\n"
    )
    generated = translate_source(source)
    for helper in ("TorchFlatten", "ActivationWith", "TorchPReLU", "PaddedEmbedding"):
        assert f"class {helper}(" in generated
    path = tmp_path / "generated.py"
    path.write_text(generated, encoding="utf-8")
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "ruff",
            "check",
            "--isolated",
            "--line-length",
            "100",
            "--select",
            "E,F,W,B,UP",
            str(path),
        ],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_live_sequential_reads_arguments_from_modules():
    """convert() of a factory-built container rebuilds every layer from its attributes."""
    torch.manual_seed(0)
    model = torch.nn.Sequential(
        torch.nn.Linear(8, 8),
        torch.nn.LayerNorm(8, bias=False),
        torch.nn.GELU(approximate="tanh"),
        torch.nn.PReLU(8, init=0.1),
        torch.nn.RMSNorm(8),
        torch.nn.Softplus(beta=2.0, threshold=5.0),
        torch.nn.Hardtanh(-2.0, 0.5),
        torch.nn.LeakyReLU(0.2),
        torch.nn.CELU(2.0),
        torch.nn.Softshrink(0.1),
        torch.nn.Threshold(-0.05, 3.0),
        torch.nn.Unflatten(1, (2, 4)),
        torch.nn.GLU(dim=1),
        torch.nn.Flatten(),
        torch.nn.Identity(),
        torch.nn.Linear(4, 3),
        torch.nn.LogSoftmax(dim=1),
    )
    conversion = torch2tf.convert(model, inputs=spread(16, 8, scale=3.0))
    assert conversion.passed, conversion.table()
    assert "TorchSoftplus(beta=2.0, threshold=5.0)" in conversion.source
    embedding = torch.nn.Sequential(torch.nn.Embedding(10, 4, padding_idx=-1), torch.nn.Softmin(2))
    conversion = torch2tf.convert(embedding, inputs=ints(4, 5))
    assert conversion.passed, conversion.table()
    assert "padding_idx=9" in conversion.source
