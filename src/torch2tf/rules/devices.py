"""Device plumbing, which has no meaning in a Keras model: TensorFlow places ops itself.

Device values become strings (``TorchDevice``, a ``str`` with torch's ``.type`` and
``.index``), so code that stores, passes or inspects them keeps working; moving
tensors and modules (``.to(device)``, ``.cuda()``) is dropped elsewhere (tensor methods, and
``self.to(device)`` statements in the engine).
"""

from __future__ import annotations

from torch2tf.rules.functional import paren, unparen
from torch2tf.rules.registry import function, method, src


@function(
    "torch.device", examples=(("device = torch.device('cpu')", "device = TorchDevice('cpu')"),)
)
def device(type, index=None):
    """torch.device(spec) -> TorchDevice(spec): the spec string, with torch's .type, .index and
    equality (a label; TensorFlow places ops itself)."""
    return (
        f"TorchDevice({src(type)})" if index is None else f"TorchDevice({src(type)}, {src(index)})"
    )


@function(
    "torch.cuda.is_available",
    examples=(
        ("gpu = torch.cuda.is_available()", "gpu = bool(tf.config.list_physical_devices('GPU'))"),
    ),
)
def cuda_is_available():
    """torch.cuda.is_available() -> whether TensorFlow sees a GPU."""
    return 'bool(tf.config.list_physical_devices("GPU"))'


@function(
    "torch.cuda.device_count",
    examples=(
        ("n = torch.cuda.device_count()", "n = len(tf.config.list_physical_devices('GPU'))"),
    ),
)
def cuda_device_count():
    """torch.cuda.device_count() -> the number of GPUs TensorFlow sees."""
    return 'len(tf.config.list_physical_devices("GPU"))'


@function(
    "torch.backends.mps.is_available",
    examples=(("mps = torch.backends.mps.is_available()", "mps = False"),),
)
def mps_is_available():
    """torch.backends.mps.is_available() -> False: TensorFlow has no MPS device."""
    return "False"


@method(
    "cpu",
    "cuda",
    examples=(
        ("x.cpu()", "x"),
        ("x.cuda()", "x"),
    ),
)
def to_device(self, device=None, non_blocking=False, memory_format=None):
    """Tensor.cpu() / .cuda() -> the tensor itself: TensorFlow places ops itself."""
    return paren(unparen(src(self)))


@function(
    "torch.jit.is_scripting",
    "torch.jit.is_tracing",
    examples=(("scripted = torch.jit.is_scripting()", "scripted = False"),),
)
def jit_is_scripting():
    """torch.jit.is_scripting() / is_tracing() -> False: TensorFlow code is neither."""
    return "False"
