"""Tensor methods apply only to tensors: ``.flatten()``/``.split()``/``.view()`` called on a
Python object (a string, a tuple tree, a list) stay as written, and on a value whose kind cannot
be told (another package's function) they are reported, never rewritten into TF ops."""

import sys

import numpy as np
import pytest
import torch

import torch2tf
from torch2tf import TranslationError, translate_source

SOURCE = '''
import torch
from torch import nn


class Sizes:
    """Not a module: a tree of sizes, with a method named like a tensor method."""

    def __init__(self, *sizes):
        self.sizes = sizes

    def flatten(self):
        return [int(s) for s in self.sizes]


def sizes_of(*sizes):
    return Sizes(*sizes)


def twice(x):
    return x * 2


class Net(nn.Module):
    def __init__(self, spec="8,16"):
        super().__init__()
        d_in, hidden = (int(s) for s in spec.split(","))
        widths = sizes_of(d_in, hidden).flatten()
        self.fc = nn.Linear(widths[0], widths[1])
        self.out = nn.Linear(hidden, 3)

    def forward(self, x):
        h = twice(self.fc(x)).flatten(1)
        parts = []
        parts = torch.stack([h, h])
        return self.out(parts.mean(0)) + h.view(h.size(0), -1).sum()
'''


def test_methods_of_python_objects_stay_as_written():
    code = translate_source(SOURCE)
    assert 'spec.split(",")' in code  # a str: not tf.split
    assert "sizes_of(d_in, hidden).flatten()" in code  # a tree of this file's class
    assert "torch_flatten(twice(self.fc(x)), 1)" in code  # a function of a tensor: a tensor
    assert "tf.reduce_mean(parts, axis=0)" in code  # rebound from [] to a torch result


def test_method_of_a_value_of_unknown_kind_is_reported_at_its_position():
    source = SOURCE.replace("from torch import nn", "from torch import nn\nfrom trees import make")
    source = source.replace("sizes_of(d_in, hidden).flatten()", "make(d_in, hidden).flatten()")
    with pytest.raises(TranslationError) as caught:
        translate_source(source)
    message = str(caught.value)
    assert "<string>:29:18: error: cannot tell whether make(...) returns a tensor" in message
    assert ".flatten() is neither translated as Tensor.flatten()" in message


def test_python_object_methods_convert_and_match_torch(tmp_path, monkeypatch):
    (tmp_path / "object_methods.py").write_text(SOURCE)
    monkeypatch.syspath_prepend(str(tmp_path))
    sys.modules.pop("object_methods", None)
    import object_methods

    torch.manual_seed(0)
    model = object_methods.Net("8,16")
    inputs = torch.randn(4, 8)
    result = torch2tf.convert(model, args=("8,16",), inputs=inputs)
    assert result.passed, result.table()
    keras_out = np.asarray(result.keras_model(inputs.numpy()))
    np.testing.assert_allclose(keras_out, model.eval()(inputs).detach().numpy(), 1e-4, 1e-5)


def test_assigning_into_a_tensor_is_reported_and_into_a_dict_is_not():
    source = """
import math
import torch
from torch import nn


class PositionalEncoding(nn.Module):
    def __init__(self, d_model=16, max_len=50):
        super().__init__()
        position = torch.arange(max_len).unsqueeze(1)
        div_term = torch.exp(torch.arange(0, d_model, 2) * (-math.log(10000.0) / d_model))
        pe = torch.zeros(max_len, d_model)
        pe[:, 0::2] = torch.sin(position * div_term)
        names = {}
        names["pe"] = "sinusoidal"
        self.register_buffer("pe", pe)

    def forward(self, x):
        return x + self.pe[: x.size(1)]
"""
    with pytest.raises(TranslationError) as caught:
        translate_source(source)
    problems = str(caught.value).splitlines()
    assert problems == [
        "<string>:13:9: error: assigning into a tensor (pe = torch.zeros(...)) is not "
        "translated: TensorFlow tensors cannot be changed in place (hint: build it whole "
        "(torch.stack, torch.cat, torch.where of the parts))"
    ]
