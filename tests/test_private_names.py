"""Layers of private classes (torch's ``_NLinear``, tests/models/private_layers.py) in the
generated code itself, used without torch2tf.convert: Keras names such a layer "_n_linear",
TensorFlow refuses that name scope when Keras traces the layer to build it, and Keras leaves
the scope it pushed on its global stack, so every model built afterwards names its weights
under it. The generated classes drop the leading "_" from their Keras names; the class and
attribute names stay torch's, and saving, loading and weight transfer still work."""

import importlib.util
import re
import sys
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf
import torch
from keras.src.backend.common import global_state  # Keras's stack of name scopes

import torch2tf
from torch2tf import translate_source

MODELS = Path(__file__).parent / "models"
SOURCE = (MODELS / "private_layers.py").read_text()


@pytest.fixture(scope="module")
def generated() -> dict:
    code = translate_source(SOURCE, "private_layers.py")
    namespace: dict = {"__name__": "private_layers_tf"}
    exec(compile(code, "private_layers_tf.py", "exec"), namespace)  # imports tensorflow alone
    return namespace


def _scopes() -> list:
    return list(global_state.get_global_attribute("name_scope_stack") or [])


def _dense_kernel_path(name: str) -> str:
    dense = tf.keras.layers.Dense(2, name=name)
    dense.build((None, 3))
    return dense.kernel.path


def _x() -> np.ndarray:
    return np.random.default_rng(0).standard_normal((5, 3, 4)).astype("float32")


def test_the_generated_classes_keep_torchs_names(generated):
    code = translate_source(SOURCE, "private_layers.py")
    for name in ("_NLinear", "_Block", "Block", "_ReluBlock", "_Twice", "Features"):
        assert re.search(rf"^class {name}\(", code, re.M), name
    model = generated["Features"]()
    attributes = ("embed", "block", "relu_block", "twice")
    assert [type(getattr(model, a)).__name__ for a in attributes] == [
        "_NLinear",
        "Block",
        "_ReluBlock",
        "_Twice",
    ]
    # once per private class's __init__: _ReluBlock inherits _Block's through Block, and
    # _Twice (nn.Module's __init__ in torch) gets one taking nothing, as torch's
    assert code.count('self.name = self.name.lstrip("_")') == 3
    assert "class _Twice(tf.keras.Model):\n    def __init__(self):\n" in code


def test_building_a_private_layer_leaves_keras_name_scopes_as_they_were(generated):
    before, first = _scopes(), _dense_kernel_path("before")
    prefix = first[: -len("before/kernel")]
    model = generated["Features"]()
    model(_x())  # Keras traces every layer to build it
    model.predict(_x(), verbose=0)  # and the whole model in a tf.function
    assert _scopes() == before
    names = {"embed": "n_linear", "block": "block", "relu_block": "relu_block", "twice": "twice"}
    for attribute, name in names.items():
        assert re.fullmatch(rf"{name}(_\d+)?", getattr(model, attribute).name), attribute
    assert not any(part.startswith("_") for w in model.weights for part in w.path.split("/"))
    # a model built afterwards names its weights as before, not under a leaked scope
    assert _dense_kernel_path("after") == f"{prefix}after/kernel"


def test_private_layers_are_numbered_as_keras_numbers_them(generated):
    layers = [generated["_NLinear"](3, 4, 2) for _ in range(3)]
    names = [layer.name for layer in layers]
    assert len(set(names)) == 3 and all(re.fullmatch(r"n_linear(_\d+)?", n) for n in names)
    # a Sequential (functional underneath) needs unique names
    sequential = tf.keras.Sequential([tf.keras.Input((3, 4)), generated["_ReluBlock"](4)])
    sequential.add(generated["_NLinear"](3, 4, 4))
    assert sequential(_x()).shape == (5, 3, 4)


def test_get_config_and_keras_files_round_trip(generated, tmp_path):
    before = _scopes()
    model = generated["Features"]()
    expected = model(_x()).numpy()
    rebuilt = generated["Features"].from_config(model.get_config())
    rebuilt(_x())
    rebuilt.set_weights(model.get_weights())
    np.testing.assert_allclose(rebuilt(_x()).numpy(), expected, atol=0, rtol=0)
    path = tmp_path / "features.keras"
    model.save(path)
    loaded = tf.keras.models.load_model(path)
    assert type(loaded.embed).__name__ == "_NLinear"
    assert not loaded.embed.name.startswith("_")
    np.testing.assert_allclose(loaded(_x()).numpy(), expected, atol=0, rtol=0)
    assert _scopes() == before


@pytest.fixture(scope="module")
def converted():
    spec = importlib.util.spec_from_file_location("private_layers", MODELS / "private_layers.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["private_layers"] = module
    try:
        spec.loader.exec_module(module)
        torch.manual_seed(0)
        x = torch.randn(5, 3, 4, generator=torch.Generator().manual_seed(0))
        yield torch2tf.convert(module.Features(), inputs=(x,), atol=1e-5, rtol=1e-4)
    finally:
        sys.modules.pop("private_layers", None)


def test_convert_transfers_the_weights_of_private_layers(converted):
    result = converted
    assert result.passed, result.table()
    paths = {t.torch_name: t.keras_name for t in result.transfers}
    assert paths["embed.weight"] == f"{result.keras_model.embed.name}/weight"
    assert not any(p.startswith("_") for p in paths.values())


def test_private_layers_export_and_reload_in_a_fresh_process(converted, tmp_path):
    """The .keras file, the SavedModel (traced in a tf.function) and TFLite, each loaded back
    by TensorFlow alone and compared with torch."""
    exports = converted.export(tmp_path / "out", ["keras", "savedmodel", "tflite"])
    assert set(exports) == {"keras", "savedmodel", "tflite"}
    assert all(e["passed"] for e in exports.values()), exports


FLOWS = {
    "__init__.py": "",
    "base.py": """
import torch
from torch import nn


class Flow(nn.Module):
    def __init__(self, d: int) -> None:
        super().__init__()
        self.shift = nn.Parameter(torch.randn(d))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.shift
""",
    "mixing.py": """
import torch
from torch import nn

from .base import Flow


class _Scaled(Flow):
    def __init__(self, d: int) -> None:
        super().__init__(d)
        self.linear = nn.Linear(d, d)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear(x) + self.shift


class _Shifted(Flow):
    pass


class Pipeline(nn.Module):
    def __init__(self, d: int = 4) -> None:
        super().__init__()
        self.scaled = _Scaled(d)
        self.shifted = _Shifted(d)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.shifted(self.scaled(x))
""",
}


def _import_fresh(root: Path, name: str):
    """``privflows.<name>`` from ``root``, forgetting any privflows imported before."""
    for key in [k for k in sys.modules if k.split(".")[0] == "privflows"]:
        del sys.modules[key]
    sys.path.insert(0, str(root))
    try:
        return importlib.import_module(f"privflows.{name}")
    finally:
        sys.path.remove(str(root))


def test_a_private_class_without_init_over_a_base_of_another_file(tmp_path):
    """_Shifted inherits __init__ from Flow, a class of another file of the project: its Keras
    twin gets one passing everything on (and Flow's get_config, so .keras files rebuild it)."""
    for name, text in FLOWS.items():
        (tmp_path / "torch" / "privflows").mkdir(parents=True, exist_ok=True)
        (tmp_path / "torch" / "privflows" / name).write_text(text)
    try:
        torch.manual_seed(0)
        model = _import_fresh(tmp_path / "torch", "mixing").Pipeline(4)
        x = torch.randn(5, 4, generator=torch.Generator().manual_seed(0))
        result = torch2tf.convert(model, inputs=(x,))
        assert result.passed, result.table()
        mixing = result.files()["privflows/mixing.py"]
        assert "class _Shifted(Flow):\n    def __init__(self, *args, **kwargs):\n" in mixing
        exports = result.export(tmp_path / "out", ["keras"])
        assert exports["keras"]["passed"], exports
        for path, code in result.files().items():  # the generated package, used without convert
            (tmp_path / "tf" / path).parent.mkdir(parents=True, exist_ok=True)
            (tmp_path / "tf" / path).write_text(code)
        (tmp_path / "tf" / "privflows" / "__init__.py").touch()
        before, first = _scopes(), _dense_kernel_path("before")
        generated = _import_fresh(tmp_path / "tf", "mixing")
        keras_model = generated.Pipeline(4)
        keras_model(x.numpy())
        assert _scopes() == before
        assert re.fullmatch(r"shifted(_\d+)?", keras_model.shifted.name)
        prefix = first[: -len("before/kernel")]
        assert _dense_kernel_path("after") == f"{prefix}after/kernel"
    finally:
        for key in [k for k in sys.modules if k.split(".")[0] == "privflows"]:
            del sys.modules[key]
