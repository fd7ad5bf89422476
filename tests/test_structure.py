"""convert() checks the Keras twin against the live torch module tree before moving weights."""

import live_tree
import pytest
import torch
from live_tree import Gated, Head, SharedLayers, Stack
from torch import nn

import torch2tf
from torch2tf.structure import StructureError

X = torch.randn(8, 6, generator=torch.Generator().manual_seed(0))


def test_matching_trees_convert():
    model = Gated(6, kind="tanh", norm=True)
    result = torch2tf.convert(model, args=(6,), kwargs={"kind": "tanh", "norm": True})
    assert result.passed


def test_branch_taken_on_an_argument_convert_was_not_given():
    model = Gated(6, kind="tanh")
    with pytest.raises(StructureError) as err:
        torch2tf.convert(model, args=(6,))
    message = str(err.value)
    assert "act: torch has Tanh() (translates to " in message
    assert "Keras has ReLU" in message


def test_optional_submodule_present_in_torch_only():
    model = Gated(6, norm=True)
    with pytest.raises(StructureError, match=r"norm: torch has LayerNorm\(\(6,\), eps=1e-05"):
        torch2tf.convert(model, args=(6,))


def test_optional_submodule_present_in_keras_only():
    model = Gated(6)
    with pytest.raises(StructureError, match=r"norm: torch has nothing here, Keras has "):
        torch2tf.convert(model, args=(6,), kwargs={"norm": True})


def test_module_list_from_a_helper_reading_changed_settings(monkeypatch):
    monkeypatch.setitem(live_tree.SETTINGS, "depth", 3)  # the generated module keeps depth 2
    model = Stack(6)
    with pytest.raises(StructureError) as err:
        torch2tf.convert(model, args=(6,))
    assert (
        "blocks.2: torch has Linear(in_features=6, out_features=6, bias=True), "
        "the Keras model has nothing here"
    ) in str(err.value)


def test_module_list_changed_after_construction():
    model = Stack(6)
    model.blocks = model.blocks[:1]
    with pytest.raises(StructureError, match=r"blocks\.1: torch has nothing here, Keras has Dense"):
        torch2tf.convert(model, args=(6,))


def test_submodule_passed_as_argument_of_another_width():
    backbone = nn.Sequential(nn.Linear(6, 12), nn.ReLU(), nn.Linear(12, 6))
    model = Head(backbone, 6, 2)
    other = nn.Sequential(nn.Linear(6, 16), nn.ReLU(), nn.Linear(16, 6))
    with pytest.raises(StructureError) as err:
        torch2tf.convert(model, args=(other, 6, 2))
    message = str(err.value)
    assert (
        "backbone.0: torch has Linear(in_features=6, out_features=12, bias=True) with weights "
        "(as Keras layout) (6, 12), (12,), Keras has Dense with weights (6, 16), (16,)"
    ) in message
    assert "backbone.2: torch has Linear(in_features=12, out_features=6" in message


def test_submodule_passed_as_argument_of_another_class():
    model = Head(nn.Sequential(nn.Linear(6, 6), nn.GELU()), 6, 2)
    other = nn.Sequential(nn.Linear(6, 6), nn.SiLU())
    with pytest.raises(StructureError, match=r"backbone\.1: torch has GELU\(approximate='none'\)"):
        torch2tf.convert(model, args=(other, 6, 2))


def test_submodule_passed_as_argument_converts_when_it_matches():
    backbone = nn.Sequential(nn.Linear(6, 12), nn.ReLU(), nn.Linear(12, 6))
    result = torch2tf.convert(Head(backbone, 6, 2), args=(backbone, 6, 2))
    assert result.passed


def test_a_module_held_under_two_names_converts_and_matches():
    model = SharedLayers(6)
    result = torch2tf.convert(model, args=(6,), inputs=(X,))
    assert [c.mode for c in result.checks] == ["eval", "train"]
    assert result.passed, result.table()


def test_a_module_held_under_two_names_must_be_one_keras_layer():
    model = SharedLayers(6)
    model.drop2 = nn.Dropout(0.1)  # torch now holds two; the generated model one
    with pytest.raises(StructureError) as err:
        torch2tf.convert(model, args=(6,), inputs=(X,))
    assert "drop2: torch holds a module of its own, the Keras model the layer of drop1" in str(
        err.value
    )
