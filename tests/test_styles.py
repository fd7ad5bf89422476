"""MLP code as people write it: factories, import styles, base classes, layer classes as values."""

import ast
import re

import pytest
import torch
from conftest import MODELS
from styles_model import Configurable, Policy
from torch import nn

import torch2tf
from torch2tf import translate_file

CODE = translate_file(MODELS / "styles_model.py")


def test_factories_imports_and_annotations_translate():
    assert "from torch" not in CODE and "import functools" not in CODE  # no dangling imports
    assert "from typing import Optional" in CODE
    flat = re.sub(r"\s+", " ", CODE)
    # a layer class as a value takes torch's constructor arguments (inplace) too
    assert (
        "activation_fn: type[tf.keras.layers.Layer] = ( lambda inplace=False: "
        "tf.keras.layers.ReLU() ),"
    ) in flat
    assert "def forward" not in CODE
    assert "def call(self, obs: tf.Tensor, training=None) -> tf.Tensor:" in CODE
    assert "class Policy(Base):" in CODE and "class Base(tf.keras.Model):" in CODE
    assert (
        "mlp_block(hidden, hidden, (lambda inplace=False: tf.keras.layers.ReLU())) "
        "for _ in range(2)"
    ) in flat
    assert (
        "self.leaky = ( lambda inplace=False: tf.keras.layers.LeakyReLU(negative_slope=0.2) )()"
    ) in flat
    ast.parse(CODE)


@pytest.mark.parametrize("kwargs", [{}, {"norm": True}, {"hidden": 8}])
def test_policy_converts(kwargs):
    torch.manual_seed(0)
    result = torch2tf.convert(Policy(4, 2, **kwargs), args=(4, 2), kwargs=kwargs)
    assert result.passed, result.table()
    assert result.keras_model.depth == 2


@pytest.mark.parametrize(
    "kwargs",
    [{}, {"activation_fn": nn.ReLU}, {"activation_fn": nn.SiLU, "out_activation": nn.Sigmoid}],
)
def test_layer_classes_given_to_convert_are_translated(kwargs):
    torch.manual_seed(0)
    result = torch2tf.convert(Configurable(6, **kwargs), args=(6,), kwargs=kwargs)
    assert result.passed, result.table()


def test_module_instances_given_to_convert_are_converted_too():
    from styles_model import Wrapped

    torch.manual_seed(0)
    backbone = nn.Sequential(nn.Linear(6, 8), nn.Tanh(), nn.Linear(8, 8))
    result = torch2tf.convert(Wrapped(backbone, 3), args=(backbone, 3))
    assert result.passed, result.table()
    assert {t.torch_name for t in result.transfers} >= {"backbone.0.weight", "backbone.2.bias"}


def test_module_instances_without_a_rule_are_refused_clearly():
    class Odd(nn.Module):
        def forward(self, x):
            return x

    with pytest.raises(torch2tf.ConversionError, match="expected a torch layer"):
        torch2tf.convert(Configurable(6), args=(6,), kwargs={"activation_fn": Odd()})
