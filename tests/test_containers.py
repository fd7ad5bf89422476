"""Sequential, ModuleList and ModuleDict: translated text, weight paths, numerics, training."""

import numpy as np
import pytest
import tensorflow as tf
import torch
from conftest import MODELS
from containers_model import Stacked

import torch2tf
from torch2tf import translate_file, translate_source


@pytest.fixture(scope="module")
def conversion():
    torch.manual_seed(0)
    model = Stacked(6, 8, 3, 4)
    return model, torch2tf.convert(model, args=(6, 8, 3, 4))


def test_containers_become_keras_and_python_containers():
    code = translate_file(MODELS / "containers_model.py")
    assert "self.stem = tf.keras.Sequential(\n            [\n" in code
    assert "self.blocks = [Block(width, 0.1) for _ in range(depth)]" in code
    assert 'self.body = tf.keras.Sequential([*layers], name="body")' in code
    assert 'self.heads = {\n            "main": tf.keras.layers.Dense(' in code
    assert "x = self.stem(x, training=training)" in code


def test_weights_move_by_torch_paths(conversion):
    model, result = conversion
    moved = {t.torch_name for t in result.transfers}
    assert moved == {k for k in model.state_dict() if not k.endswith("num_batches_tracked")}
    keras = result.keras_model
    np.testing.assert_array_equal(
        keras.blocks[2].linear.kernel, model.blocks[2].linear.weight.detach().T
    )
    np.testing.assert_array_equal(keras.stem.layers[2].moving_variance, model.stem[2].running_var)
    np.testing.assert_array_equal(keras.heads["aux"].bias, model.heads["aux"].bias.detach())


def test_outputs_match_in_both_modes(conversion):
    _, result = conversion
    assert result.passed, result.table()
    assert {c.mode for c in result.checks} == {"eval", "train"}
    assert "blocks.1.linear" in {layer.layer for layer in result.checks[0].layers}


def test_training_reaches_layers_called_in_a_loop(conversion):
    _, result = conversion
    x = tf.ones((4, 6))
    eval_runs = [result.keras_model(x, training=False)[0] for _ in range(2)]
    train_runs = [result.keras_model(x, training=True)[0] for _ in range(2)]
    np.testing.assert_array_equal(eval_runs[0], eval_runs[1])
    assert not np.array_equal(train_runs[0], train_runs[1])  # Block's dropout is active


def test_ordered_dict_sequential_keeps_the_names():
    from ordered_model import Named

    code = translate_file(MODELS / "ordered_model.py")
    assert 'tf.keras.layers.ReLU(name="act")' in code and "OrderedDict" not in code
    torch.manual_seed(0)
    result = torch2tf.convert(Named(4), args=(4,))
    assert result.passed, result.table()
    assert {t.torch_name for t in result.transfers} >= {"body.fc1.weight", "head.out.bias"}
    tree = torch2tf.convert(result.torch_model.body)  # a live OrderedDict Sequential, no source
    assert tree.passed and 'name="fc2"' in tree.source


def test_ordered_dict_with_computed_keys_names_layers_at_run_time():
    source = (
        "from collections import OrderedDict\nimport torch.nn as nn\n\n"
        "class Net(nn.Module):\n    def __init__(self, key):\n        super().__init__()\n"
        "        self.seq = nn.Sequential(OrderedDict([(key, nn.Linear(2, 2))]))\n"
    )
    code = translate_source(source, "net.py")
    assert "tf.keras.Sequential(\n            torch_named_layers(" in code
    assert "def torch_named_layers(layers):" in code


def test_module_dict_subclass_and_add_module_keep_names_and_order():
    """nn.ModuleDict subclass -> TorchModuleDict subclass (its modules by key, in order);
    add_module on a model, a Sequential and a dict -> torch_add_module."""
    from module_dict_model import Mixture

    code = translate_file(MODELS / "module_dict_model.py")
    assert "class Experts(TorchModuleDict):" in code
    assert 'torch_add_module(self.body, "experts", Experts(width, count))' in code
    assert "for name, expert in self.items():" in code
    assert "total = total + expert(x, training=training)" in code
    torch.manual_seed(0)
    model = Mixture(5, 3, 2)
    result = torch2tf.convert(model, args=(5, 3, 2))
    assert result.passed, result.table()
    keras = result.keras_model
    assert keras.body.layers[1].keys() == ["expert0", "expert1", "expert2"]
    assert [layer.name for layer in keras.body.layers][1:] == ["experts", "drop"]
    paths = {layer.layer for layer in result.checks[1].layers}
    assert {"body.experts.expert2.0", "body.experts", "head"} <= paths
    np.testing.assert_array_equal(
        keras.body.layers[1]["expert1"].layers[0].kernel,
        model.body.experts.expert1[0].weight.detach().T,
    )
