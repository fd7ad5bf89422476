"""torch2tf: convert PyTorch models into readable tf.keras source, weights and a parity report.

``translate_source``/``translate_file`` are static and import neither torch nor TensorFlow;
``convert`` (and the training converters) import both on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from torch2tf.errors import Diagnostic, TranslationError
from torch2tf.translate import translate_file, translate_source

if TYPE_CHECKING:
    from torch2tf.constructor_records import recording
    from torch2tf.conversion import Conversion, ConversionError, convert
    from torch2tf.training import convert_loss, convert_optimizer

__all__ = [
    "Conversion",
    "ConversionError",
    "Diagnostic",
    "TranslationError",
    "convert",
    "convert_loss",
    "convert_optimizer",
    "recording",
    "translate_file",
    "translate_source",
]

_LAZY = {
    "convert": "torch2tf.conversion",
    "Conversion": "torch2tf.conversion",
    "ConversionError": "torch2tf.conversion",
    "convert_loss": "torch2tf.training",
    "convert_optimizer": "torch2tf.training",
    "recording": "torch2tf.constructor_records",
}


def __getattr__(name: str) -> Any:
    """Import the torch/TensorFlow side only when it is asked for."""
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'torch2tf' has no attribute {name!r}")
