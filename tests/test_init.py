"""Init code (apply, init methods, direct calls, calculate_gain) -> Keras initializer arguments."""

import math

import numpy as np
import pytest
import torch
from conftest import MODELS
from init_model import Applied, Method

import torch2tf
from torch2tf import translate_file, translate_source
from torch2tf.generated import load_generated

CODE = translate_file(MODELS / "init_model.py")


@pytest.fixture(scope="module")
def generated():
    return load_generated(CODE, "init_model_tf")


def test_apply_with_a_module_function_drops_the_function():
    assert "def init_weights" not in CODE
    assert "kernel_initializer=tf.keras.initializers.Orthogonal(1.6666666666666667)" in CODE
    assert "# apply(init_weights) is applied through initializer arguments." in CODE


def test_orthogonal_with_tanh_gain(generated):
    kernel = np.asarray(generated.Applied(40).fc1.kernel)  # (40, 32): columns orthogonal
    gram = kernel.T @ kernel
    np.testing.assert_allclose(gram, (5 / 3) ** 2 * np.eye(32), atol=1e-4)
    torch_weight = Applied(40).fc1.weight.detach().numpy()  # torch's, for the same property
    np.testing.assert_allclose(torch_weight @ torch_weight.T, (5 / 3) ** 2 * np.eye(32), atol=1e-4)


def test_kaiming_normal_fan_out_and_constant_bias(generated):
    model = generated.Method(512)
    std = np.asarray(model.fc1.kernel).std()
    assert std == pytest.approx(math.sqrt(2 / 32), rel=0.05)  # fan_out = 32 outputs
    assert np.asarray(Method(512).fc1.weight.detach()).std() == pytest.approx(std, rel=0.05)
    np.testing.assert_array_equal(model.fc2.bias, np.full(4, 0.01, np.float32))


def test_init_order_follows_torch(generated):
    model = generated.Ordered(3)
    np.testing.assert_array_equal(model.early.kernel, np.ones((3, 3)))  # apply ran after zeros_
    assert np.abs(np.asarray(model.late.kernel)).max() <= 1 / math.sqrt(3)  # created later
    assert not np.all(np.asarray(model.late.kernel) == 1)


@pytest.mark.parametrize("name, args", [("Applied", (6,)), ("Method", (6,)), ("Ordered", (6,))])
def test_converted_models_match(name, args):
    import init_model

    torch.manual_seed(0)
    result = torch2tf.convert(getattr(init_model, name)(*args), args=args)
    assert result.passed, result.table()


def test_apply_over_layers_built_elsewhere_runs_on_the_keras_layers():
    source = (
        "import torch.nn as nn\n\ndef block(n):\n    return nn.Linear(n, n)\n\n"
        "class Net(nn.Module):\n    def __init__(self):\n        super().__init__()\n"
        "        self.body = block(3)\n        self.apply(self._init)\n\n"
        "    def _init(self, m):\n        if isinstance(m, nn.Linear):\n"
        "            nn.init.zeros_(m.weight)\n"
    )
    code = translate_source(source, "net.py")
    assert (
        "for m in torch_modules(self):\n            if isinstance(m, tf.keras.layers.Dense):"
        in code
    )
    assert 'torch_init(m, "kernel", tf.keras.initializers.Zeros())' in code
    net = load_generated(code, "net_tf").Net()
    net.body(np.ones((1, 3), np.float32))
    np.testing.assert_array_equal(net.body.kernel, np.zeros((3, 3)))


TRUNCATED = """
import torch
import torch.nn as nn
from torch.nn.parameter import Parameter


class Frequencies(nn.Module):
    def __init__(self, n, k, sigma):
        super().__init__()
        self._sigma = sigma
        self.weight = Parameter(torch.empty(n, k))
        self.reset_parameters()

    def reset_parameters(self):
        bound = self._sigma * 3
        nn.init.trunc_normal_(self.weight, 0.0, self._sigma, a=-bound, b=bound)

    def forward(self, x):
        return x @ self.weight
"""


def test_trunc_normal_with_computed_bounds_is_torchs_distribution():
    from scipy import stats

    code = translate_source(TRUNCATED, "frequencies.py")
    assert "0.0, self._sigma, -(self._sigma * 3), (self._sigma * 3)" in code
    assert "initializer=TorchTruncatedNormal(" in code
    weight = np.asarray(load_generated(code, "frequencies_tf").Frequencies(400, 400, 0.1).weight)
    torch.manual_seed(0)
    reference = load_torch_class(TRUNCATED, "Frequencies")(400, 400, 0.1).weight.detach().numpy()
    assert np.abs(weight).max() <= 0.3 and weight.std() == pytest.approx(reference.std(), rel=0.02)
    assert stats.ks_2samp(weight.ravel(), reference.ravel()).pvalue > 1e-3


def load_torch_class(source: str, name: str):
    namespace: dict = {}
    exec(compile(source, "<torch source>", "exec"), namespace)  # our own test source
    return namespace[name]
