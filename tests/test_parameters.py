"""nn.Parameter and register_buffer: translated to add_weight, moved by name, checked by value."""

import numpy as np
import pytest
import torch
from conftest import MODELS
from params_model import Scaled

import torch2tf
from torch2tf import TranslationError, translate_file, translate_source


def test_parameters_and_buffers_become_variables():
    code = translate_file(MODELS / "params_model.py")
    assert 'self.scale = self.add_weight(name="scale", shape=(hidden,), initializer="ones")' in code
    assert (
        "shape=(1, hidden),\n            initializer=tf.keras.initializers.RandomNormal(0.0, 0.02)"
        in code
    )
    assert "initializer=tf.keras.initializers.Constant(1.5),\n            trainable=False," in code
    assert 'name="offset", shape=(hidden,), initializer="zeros", trainable=False' in code


def test_values_move_and_outputs_match():
    torch.manual_seed(0)
    model = Scaled(5, 7)
    with torch.no_grad():
        model.offset += 0.3
        model.scale *= 2
    result = torch2tf.convert(model, args=(5, 7))
    assert result.passed, result.table()
    keras = result.keras_model
    np.testing.assert_array_equal(keras.offset, model.offset)
    np.testing.assert_array_equal(keras.bias2, model.bias2.detach())
    assert [v.trainable for v in (keras.scale, keras.bias2, keras.temperature, keras.offset)] == [
        True,
        True,
        False,
        False,
    ]
    mapping = result.parameter_map()
    assert mapping[model.scale] is keras.scale and mapping[model.fc.weight] is keras.fc.kernel


def test_a_tensor_computed_from_data_becomes_a_variable_holding_it():
    source = (
        "import torch\nimport torch.nn as nn\n\nclass Net(nn.Module):\n"
        "    def __init__(self):\n        super().__init__()\n"
        "        self.register_buffer('steps', torch.arange(3).cumsum(0))\n"
    )
    code = translate_source(source)
    assert '"steps",\n            tf.math.cumsum(tf.range(3, dtype=tf.int64), axis=0),' in code
    assert "def torch_variable(layer, name, value, trainable):" in code


def test_randn_parameter_has_torch_distribution():
    from torch2tf.generated import load_generated

    module = load_generated(translate_file(MODELS / "params_model.py"), "params_tf")
    values = np.asarray(module.Scaled(3, 20000).bias2)
    assert values.std() == pytest.approx(0.02, rel=0.05) and abs(values.mean()) < 1e-3


@pytest.mark.parametrize(
    "statement, message",
    [
        ("self.w = nn.Parameter(torch.frobnicate(3))", "torch.frobnicate is not translated"),
        ("self.register_buffer(name, torch.zeros(2))", "register_buffer is translated only"),
        ("w = nn.Parameter(torch.zeros(2))", "nn.Parameter is translated only"),
        # data or sizes? torch decides by the value's type; it once became tf.Tensor(name)
        ("self.w = torch.Tensor(name)", "torch.Tensor(...) of sizes or of a name"),
        ("self.w = torch.FloatTensor(name)", "torch.FloatTensor(...) of sizes or of a name"),
    ],
)
def test_untranslatable_tensors_are_refused(statement, message):
    source = (
        "import torch\nimport torch.nn as nn\n\nclass Net(nn.Module):\n"
        f"    def __init__(self, name):\n        super().__init__()\n        {statement}\n"
    )
    with pytest.raises(TranslationError) as info:
        translate_source(source, "net.py")
    assert message in str(info.value) and "net.py:7:" in str(info.value)


OPTIONAL_BIAS = """
import torch
import torch.nn as nn
from torch.nn.parameter import Parameter


class NLinear(nn.Module):
    def __init__(self, n, in_features, out_features, bias=True):
        super().__init__()
        self.weight = Parameter(torch.empty(n, in_features, out_features))
        self.bias = Parameter(torch.empty(n, out_features)) if bias else None
        self.reset_parameters()

    def reset_parameters(self):
        d_in_rsqrt = self.weight.shape[-2] ** -0.5
        nn.init.uniform_(self.weight, -d_in_rsqrt, d_in_rsqrt)
        if self.bias is not None:
            nn.init.uniform_(self.bias, -d_in_rsqrt, d_in_rsqrt)

    def forward(self, x):
        x = x.transpose(0, 1) @ self.weight
        x = x.transpose(0, 1)
        if self.bias is not None:
            x = x + self.bias
        return x
"""


@pytest.mark.parametrize("bias", [True, False])
def test_a_parameter_or_none_by_a_conditional_expression(tmp_path, monkeypatch, bias):
    (tmp_path / "nlinear.py").write_text(OPTIONAL_BIAS, encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    from nlinear import NLinear

    code = translate_file(tmp_path / "nlinear.py")
    assert (
        "self.bias = (\n            self.add_weight(" in code
        and "if bias\n            else None" in code
    )
    torch.manual_seed(0)
    model = NLinear(3, 4, 5, bias=bias)
    result = torch2tf.convert(
        model, args=(3, 4, 5), kwargs={"bias": bias}, inputs=torch.randn(8, 3, 4)
    )
    assert result.passed, result.table()
    assert (result.keras_model.bias is None) is not bias


CELL = """
try:  # an optional import, as ncps writes it
    import torch
except ImportError:
    raise
import torch.nn as nn
import torch.nn.functional as F


class Cell(nn.Module):
    def __init__(self, n, bias=True):
        super().__init__()
        self.weight = nn.Parameter(torch.Tensor(2 * n, n))
        self.register_parameter("weight", self.weight)  # again: no-op in torch
        self.scale = nn.Parameter(data=torch.ones(1, n), requires_grad=True)
        if bias:
            self.bias_a = nn.Parameter(torch.Tensor(2 * n))
            self.bias_b = nn.Parameter(torch.Tensor(n))
            for tensor in [self.bias_a, self.bias_b]:
                nn.init.constant_(tensor, 0.5)
        else:
            self.register_parameter("bias_a", None)
            self.register_parameter("bias_b", None)

    def forward(self, x, state):
        h, c = state  # a tuple input
        z = F.linear(x, self.weight, self.bias_a)
        a, b = z.chunk(2, 1)
        out = torch.tanh(a) * self.scale + h
        if self.bias_b is not None:
            out = out + self.bias_b
        return out, c + torch.sigmoid(b)
"""


@pytest.mark.parametrize("bias", [True, False])
def test_a_cell_with_re_registered_listed_and_keyword_parameters(tmp_path, monkeypatch, bias):
    """deepctr-torch's and ncps's cells: register_parameter of the attribute's own Parameter
    (a no-op), an init loop over a list of parameters made in the same `if`, nn.Parameter(data=),
    `import torch` inside try, and a (h, c) tuple among the inputs (built from its shapes)."""
    (tmp_path / "cell_model.py").write_text(CELL, encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    from cell_model import Cell

    code = translate_file(tmp_path / "cell_model.py")
    assert "register_parameter" not in code and "import torch" not in code
    assert 'self.scale = self.add_weight(name="scale", shape=(1, n), initializer="ones")' in code
    # each bias initialised by the loop, only where the `if` makes it
    assert code.count("initializer=tf.keras.initializers.Constant(0.5)") == 2
    torch.manual_seed(0)
    model = Cell(4, bias=bias)
    with torch.no_grad():
        model.weight.normal_()
    inputs = (torch.randn(3, 4), (torch.randn(3, 4), torch.randn(3, 4)))
    result = torch2tf.convert(model, args=(4,), kwargs={"bias": bias}, inputs=inputs)
    assert result.passed, result.table()
    if bias:
        np.testing.assert_array_equal(result.keras_model.bias_a, np.full(8, 0.5, np.float32))


def test_register_parameter_of_another_attribute_ties_the_two(tmp_path, monkeypatch):
    """register_parameter("b1", self.b2) (deepctr-torch's AUGRUCell): both attributes hold
    b2's Parameter, the first b1 is dropped; one Keras variable, read under both names."""
    source = CELL.replace(
        "            self.bias_b = nn.Parameter(torch.Tensor(n))\n",
        "            self.bias_b = nn.Parameter(torch.Tensor(2 * n))\n"
        '            self.register_parameter("bias_a", self.bias_b)\n',
    ).replace("out = out + self.bias_b", "out = out + self.bias_b[:4]")
    (tmp_path / "tied_model.py").write_text(source, encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    from tied_model import Cell

    code = translate_file(tmp_path / "tied_model.py")
    assert "self.bias_a = self.bias_b" in code and 'name="bias_a"' not in code
    torch.manual_seed(0)
    model = Cell(4)
    assert model.bias_a is model.bias_b
    with torch.no_grad():
        for tensor in model.parameters():
            tensor.normal_()
    inputs = (torch.randn(3, 4), (torch.randn(3, 4), torch.randn(3, 4)))
    result = torch2tf.convert(model, args=(4,), inputs=inputs)
    assert result.passed, result.table()
    keras = result.keras_model
    assert keras.bias_a is keras.bias_b and len(keras.trainable_variables) == 3


def test_a_tie_after_a_use_of_the_first_parameter_is_refused(tmp_path):
    source = CELL.replace(
        "            self.bias_b = nn.Parameter(torch.Tensor(n))\n",
        "            self.first = self.bias_a * 2\n"
        "            self.bias_b = nn.Parameter(torch.Tensor(2 * n))\n"
        '            self.register_parameter("bias_a", self.bias_b)\n',
    )
    (tmp_path / "late_tie.py").write_text(source, encoding="utf-8")
    with pytest.raises(TranslationError, match=r"late_tie\.py:\d+:\d+: .*register_parameter"):
        translate_file(tmp_path / "late_tie.py")
