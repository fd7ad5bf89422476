"""Device plumbing has no meaning in a Keras model: it is dropped or becomes inert strings."""

import pytest
import torch
from conftest import MODELS
from device_model import OnDevice

import torch2tf
from torch2tf import translate_file

CODE = translate_file(MODELS / "device_model.py")


def test_device_plumbing_is_removed_cleanly():
    assert (
        'TorchDevice(\n        "cuda" if bool(tf.config.list_physical_devices("GPU")) else "cpu"'
        in CODE
    )
    assert "self.to(" not in CODE and ".cpu()" not in CODE and "x = x" not in CODE
    assert "device=self.device" not in CODE
    assert "import torch" not in CODE


def test_device_model_converts():
    torch.manual_seed(0)
    result = torch2tf.convert(OnDevice(5), args=(5,))
    assert result.passed, result.table()
    assert result.keras_model.device.type in ("cpu", "cuda")
    assert result.keras_model.device == model_device(result.keras_model)


def model_device(keras_model):
    """A fresh device of the same spec, made by the generated module's own TorchDevice."""
    return type(keras_model.device)(str(keras_model.device))


DEVICE_CODE = """
import torch


def describe(spec, index=None):
    device = torch.device(spec) if index is None else torch.device(spec, index)
    return device.type, device.index, device == torch.device(str(device)), device == spec
"""


def test_device_type_and_index_are_torchs(tmp_path):
    path = tmp_path / "devices.py"
    path.write_text(DEVICE_CODE)
    namespace: dict = {}
    exec(torch2tf.translate_file(path), namespace)  # noqa: S102  (our own generated code)
    torch_namespace: dict = {}
    exec(DEVICE_CODE, torch_namespace)  # noqa: S102
    for case in [("cpu",), ("cuda:1",), ("cuda", 2), ("mps",)]:
        assert namespace["describe"](*case) == torch_namespace["describe"](*case), case
    for bad in ("auto", "cpu:x", "CPU"):
        with pytest.raises(RuntimeError):
            torch_namespace["describe"](bad)
        with pytest.raises(RuntimeError):
            namespace["describe"](bad)
