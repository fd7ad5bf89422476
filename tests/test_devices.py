"""Device plumbing has no meaning in a Keras model: it is dropped or becomes inert strings."""

import torch
from conftest import MODELS
from device_model import OnDevice

import torch2tf
from torch2tf import translate_file

CODE = translate_file(MODELS / "device_model.py")


def test_device_plumbing_is_removed_cleanly():
    assert 'return "cuda" if bool(tf.config.list_physical_devices("GPU")) else "cpu"' in CODE
    assert "self.to(" not in CODE and ".cpu()" not in CODE and "x = x" not in CODE
    assert "device=self.device" not in CODE
    assert "import torch" not in CODE


def test_device_model_converts():
    torch.manual_seed(0)
    result = torch2tf.convert(OnDevice(5), args=(5,))
    assert result.passed, result.table()
    assert result.keras_model.device in ("cpu", "cuda")
