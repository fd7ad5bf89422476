"""Layers named at run time or used as values, var_mean/std_mean, legacy constants and
containers walked in forward (tests/models/named_layers.py), converted through the public API
and checked against torch in eval and train mode (float32: atol 1e-5, rtol 1e-4)."""

import importlib.util
import re
import sys
from pathlib import Path

import pytest
import tensorflow as tf
import torch
from torch import nn

import torch2tf
from torch2tf import TranslationError, translate_source
from torch2tf.rules import LAYERS
from torch2tf.rules.activations import BY_NAME, by_name_source

ATOL, RTOL = 1e-5, 1e-4
MODELS = Path(__file__).parent / "models" / "named_layers.py"


@pytest.fixture(scope="module")
def models():
    spec = importlib.util.spec_from_file_location("named_layers", MODELS)
    module = importlib.util.module_from_spec(spec)
    sys.modules["named_layers"] = module
    spec.loader.exec_module(module)
    yield module
    sys.modules.pop("named_layers", None)


def _inputs(*shape: int) -> tuple[torch.Tensor]:
    return (torch.randn(*shape, generator=torch.Generator().manual_seed(0)),)


CASES = [
    ("ActivationByName", {"d_in": 6, "d_out": 5}, (16, 6)),
    ("ActivationByName", {"d_in": 6, "d_out": 5, "activation": "ELU"}, (16, 6)),
    ("ActivationByName", {"d_in": 6, "d_out": 5, "activation": "Tanh"}, (16, 6)),
    ("LinearChosen", {"d_in": 6, "d_out": 5}, (16, 6)),
    ("LinearChosen", {"d_in": 6, "d_out": 5, "shared": False}, (16, 6)),
    ("StatsNorm", {"d_in": 6, "d_out": 4}, (16, 6)),
    ("NormaliserFromRegistry", {"d_in": 6}, (16, 6)),
    ("NormaliserFromRegistry", {"d_in": 6, "kind": "logsoftmax", "dim": 1}, (16, 6)),
    ("NormaliserFromRegistry", {"d_in": 6, "kind": "softmin", "dim": 0}, (16, 6)),
    ("IteratedBlocks", {"d": 6}, (16, 6)),
]


@pytest.mark.parametrize(
    ("name", "kwargs", "shape"), CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)]
)
def test_converts_and_matches_torch(models, name, kwargs, shape):
    torch.manual_seed(0)
    model = getattr(models, name)(**kwargs)
    result = torch2tf.convert(model, kwargs=kwargs, inputs=_inputs(*shape), atol=ATOL, rtol=RTOL)
    assert [c.mode for c in result.checks] == ["eval", "train"]
    assert result.passed, result.table()


def test_generated_text_names_what_it_picks():
    code = translate_source(MODELS.read_text(encoding="utf-8"))
    assert "self.activation = torch_activation(activation)()" in code
    assert "self.gelu = tf.keras.layers.Activation(" in code  # getattr with a literal name
    assert "Linear = nn_linear if shared else tf.keras.layers.Identity" in code
    assert "def nn_linear(in_features, out_features, bias=True, device=None, dtype=None):" in code
    assert "nn.Linear(dtype=...) other than None is not translated" in code
    assert "torch_var_mean(h, -1, keepdim=True)" in code
    assert "torch_std_mean(h, 1, correction=0, keepdim=True)" in code
    assert "tf.constant([0.5], dtype=tf.float32)" in code
    assert "-> tuple:" in code and "tuple((" in code
    assert "for layer in self.stem.layers:" in code
    assert "self.head.layers[-1](x)" in code and "len(self.head.layers)" in code
    assert "self.blocks[-1](x)" in code and "zip(self.blocks, self.norms)" in code


def _table() -> dict:
    namespace: dict = {"tf": tf}
    code = translate_source(
        "import torch.nn as nn\n\n\nclass M(nn.Module):\n"
        "    def __init__(self, a):\n        super().__init__()\n"
        "        self.act = getattr(nn, a)()\n\n"
        "    def forward(self, x):\n        return self.act(x)\n"
    )
    exec(compile(code, "<generated>", "exec"), namespace)  # helpers the table uses come along
    return namespace


ARGUMENTS = {
    "Threshold": (0.1, 20.0),
    "PReLU": (),
    "GLU": (),
    "Softmax": (0,),
    "LogSoftmax": (-1,),
    "Softmin": (1,),
}


@pytest.mark.parametrize("name", re.findall(r'"(\w+)": lambda', by_name_source()))
def test_every_activation_of_the_table_computes_torchs_function(name):
    namespace = _table()
    args = ARGUMENTS.get(name, ())
    keras_layer = namespace[BY_NAME](name)(*args)
    torch_layer = getattr(nn, name)(*args)
    x = _inputs(8, 6)[0] * 3
    want = torch_layer(x).detach().numpy()
    got = keras_layer(tf.constant(x.numpy())).numpy()
    assert abs(got - want).max() <= ATOL + RTOL * abs(want).max(), name


def test_an_activation_not_in_the_table_fails_loudly_at_run_time():
    namespace = _table()
    with pytest.raises(
        NotImplementedError, match=r"torch\.nn\.Softmax2d is not a translated activation"
    ):
        namespace[BY_NAME]("Softmax2d")
    assert "Softmax" in re.findall(r'"(\w+)": lambda dim', by_name_source())  # takes its dim


def test_the_table_holds_only_activations():
    names = set(re.findall(r'"(\w+)": lambda', by_name_source()))
    assert {"ReLU", "GELU", "ELU", "Tanh", "LeakyReLU", "SiLU"} <= names
    assert not names & {"Linear", "BatchNorm1d", "Dropout", "Sequential"}
    assert names <= {q.rsplit(".", 1)[1] for q in LAYERS}


def test_a_layer_class_value_whose_arguments_need_values_is_refused_precisely():
    source = (
        "from torch import nn\n\n\nclass M(nn.Module):\n"
        "    def __init__(self, d):\n        super().__init__()\n"
        "        norm = nn.GroupNorm\n        self.bn = norm(2, d)\n\n"
        "    def forward(self, x):\n        return self.bn(x)\n"
    )
    # (BatchNorm1d as a value takes (N, C) input only: see test_timm_idioms.py)
    with pytest.raises(
        TranslationError, match=r"<string>:7:16: error: torch\.nn\.GroupNorm used as a value"
    ):
        translate_source(source)


def test_a_normaliser_class_value_takes_its_dim_and_refuses_none_at_run_time():
    code = translate_source(MODELS.read_text(encoding="utf-8"))
    assert "def nn_softmax(dim):" in code and "Softmax(axis=int(dim))" in code
    namespace: dict = {}
    exec(compile(code, "<generated>", "exec"), namespace)
    x = _inputs(3, 4)[0]
    want = torch.log_softmax(x, dim=0).numpy()
    got = namespace["nn_logsoftmax"](dim=0)(tf.constant(x.numpy())).numpy()
    assert abs(got - want).max() <= ATOL + RTOL * abs(want).max()
    with pytest.raises(TypeError):  # torch's implicit dim is not guessed
        namespace["nn_softmax"](dim=None)
    with pytest.raises(TypeError):
        namespace["nn_softmax"]()


def test_legacy_constructor_sizes_stay_a_parameter_shape_and_are_refused_elsewhere():
    source = (
        "import torch\nfrom torch import nn\n\n\nclass M(nn.Module):\n"
        "    def __init__(self, d):\n        super().__init__()\n"
        "        self.w = nn.Parameter(torch.FloatTensor(d, 3))\n\n"
        "    def forward(self, x):\n        return x @ self.w + torch.DoubleTensor(2, 3)\n"
    )
    with pytest.raises(TranslationError) as err:
        translate_source(source)
    assert len(err.value.diagnostics) == 1, str(err.value)
    assert ":11:" in str(err.value) and "torch.DoubleTensor" in str(err.value)
