"""Init loops of recommender-style code (one attribute's named_parameters(), a literal list of
parameters, the slices of a stacked parameter) become initializers with torch's distributions;
the models convert and match torch."""

import math

import numpy as np
import pytest
import torch
from conftest import MODELS
from ctr_style import AttentionPooling, CrossLayers, DeepTower

import torch2tf
from torch2tf import TranslationError, translate_file, translate_source
from torch2tf.generated import load_generated

CODE = translate_file(MODELS / "ctr_style.py")


@pytest.fixture(scope="module")
def generated():
    return load_generated(CODE, "ctr_style_tf")


def test_container_named_parameters_loop_reaches_only_that_container(generated):
    model = generated.DeepTower(400, [300], init_std=0.05)
    model(np.zeros((1, 400), np.float32))
    assert np.asarray(model.linears[0].kernel).std() == pytest.approx(0.05, rel=0.03)
    bound = 1 / math.sqrt(400)  # the bias keeps torch's default: U(+-1/sqrt(fan_in))
    bias = np.asarray(model.linears[0].bias)
    assert np.abs(bias).max() <= bound and bias.std() == pytest.approx(bound / math.sqrt(3), 0.2)
    assert not np.asarray(model.out.kernel).any() and not np.asarray(model.out.bias).any()


def test_slices_of_a_stacked_parameter_get_the_fans_of_one_slice(generated):
    model = generated.CrossLayers(300, layer_num=3)
    kernels = np.asarray(model.kernels)
    expected = math.sqrt(2 / (300 + 300))  # xavier_normal_ of one (300, 300) slice
    assert kernels.std() == pytest.approx(expected, rel=0.03)
    torch_kernels = CrossLayers(300, layer_num=3).kernels.detach().numpy()
    assert torch_kernels.std() == pytest.approx(expected, rel=0.03)
    assert not np.asarray(model.bias).any()
    assert "TorchSlices(" in CODE and "TorchSlices(tf.keras.initializers.Zeros" not in CODE


def test_a_literal_list_of_parameters_initialises_each(generated):
    model = generated.AttentionPooling(500, attention_factor=300)
    expected = math.sqrt(2 / (500 + 300))
    assert np.asarray(model.attention_W).std() == pytest.approx(expected, rel=0.03)
    assert not np.asarray(model.attention_b).any()


@pytest.mark.parametrize(
    "cls, args, inputs",
    [
        (DeepTower, (8, [16, 16]), (4, 8)),
        (CrossLayers, (8,), (4, 8)),
        (AttentionPooling, (6,), (4, 3, 6)),
    ],
)
def test_converted_models_match(cls, args, inputs):
    torch.manual_seed(0)
    result = torch2tf.convert(cls(*args), args=args, inputs=torch.randn(*inputs))
    assert result.passed, result.table()


def test_a_slice_loop_that_may_miss_slices_of_values_is_refused():
    source = (
        "import torch\nimport torch.nn as nn\n\nclass Net(nn.Module):\n"
        "    def __init__(self, n):\n        super().__init__()\n"
        "        self.w = nn.Parameter(torch.zeros(4, n, n))\n"
        "        for i in range(2):\n            nn.init.xavier_normal_(self.w[i])\n"
    )
    with pytest.raises(TranslationError, match=r"net\.py:9:\d+: .*range\(2\) may not reach"):
        translate_source(source, "net.py")
