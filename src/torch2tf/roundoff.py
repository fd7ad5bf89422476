"""The verdict on a deep float32 (float16, bfloat16) model's output, or on a layer's holding
many others: against torch's own round-off when the plain tolerance is missed but every layer
inside is within it.

Each layer is checked fed torch's own input, so its error is that layer's alone. The whole
output is checked from the model's input: it carries the round-off of every layer before it,
and through a deep net that alone can exceed atol + rtol * |torch| (torchvision's inception_v3
in float32: logits 3.2e-3 from torch's while torch's own float32 logits are 1.9e-3 from its
float64 ones). Then the same torch model in float64 (a deep copy, on the same inputs in the
same mode, dropout off) is the reference both float32 outputs are measured against: the Keras
output is accepted when it is within ``FACTOR`` times as far from it as torch's own float32
output is (measured: 0.9 to 2.4 times for inception_v3's logits), and torch's own round-off
is small beside the output (``CONDITION``: a chaotic net's float32 output is noise in either
framework, which nothing could verify). A translation error that no single layer shows but the
whole output does (in code between the layers, or small per-layer errors adding up) is more
than that, and fails: one input channel scaled by 1 + 1e-5 in Inception3's own forward puts
its logits 15 times torch's round-off away.

Train mode is judged alike: the float64 copy runs in train mode on the same batch (BatchNorm on
its statistics), with dropout and random draws off as in the comparison itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

FACTOR = 4.0
"""How many times torch's own round-off the Keras output may be from torch's float64 one.
Measured for inception_v3's logits (75x75, batch 8, 6 inputs, eval and train mode): 0.9 to
2.4 times; for a 40-layer tanh MLP of gain 2, 2.4 times."""

CONDITION = {"float32": 1e-3, "float16": 1e-2, "bfloat16": 1e-2}
"""By precision, the most torch's own round-off may be, as a fraction of the largest |float64
output|, for the comparison to say anything: beyond it the model is too ill-conditioned in that
precision (a chaotic net's float32 output is noise) and any output as noisy as torch's would
pass. float16 rounds 8000 times coarser than float32: a 10-layer tanh MLP of gain 2 is 6e-3
off in float16 (accepted), a 20-layer one 2.6e-2 (refused)."""

LOW_PRECISION = (torch.float32, torch.float16, torch.bfloat16)


@dataclass
class RoundOff:
    """The whole output against torch's float64 output (max abs errors over the outputs)."""

    dtype: str
    """The precision judged: the dtype of torch's (floating) output."""
    torch_error: float | None
    """torch's own output in ``dtype`` -> torch's float64 output: torch's round-off."""
    keras_error: float | None
    """The Keras output -> torch's float64 output."""
    factor: float
    """Accepted when ``keras_error <= factor * torch_error``, output by output, and
    ``torch_error <= CONDITION[dtype] * scale``."""
    passed: bool
    scale: float | None = None
    """The largest |torch's float64 output|."""
    reason: str | None = None
    """Why the comparison cannot accept: no float64 reference, or torch's own round-off too
    large (then ``passed`` is False)."""

    def describe(self) -> str:
        if self.torch_error is None or self.keras_error is None:
            return f"no float64 reference: {self.reason}"
        ratio = self.keras_error / self.torch_error if self.torch_error else float("inf")
        text = (
            f"{self.keras_error:.3e} from torch's float64 output, torch's own {self.dtype} "
            f"{self.torch_error:.3e} ({ratio:.2f}x, accepted up to {self.factor:g}x)"
        )
        return f"{text}; {self.reason}" if self.reason else text


def low_precision(outputs: list[Any]) -> str | None:
    """The dtype of the first float32/float16/bfloat16 tensor among torch's outputs."""
    for value in outputs:
        if isinstance(value, torch.Tensor) and value.dtype in LOW_PRECISION:
            return str(value.dtype).removeprefix("torch.")
    return None


def as_float64(value: Any) -> Any:
    """Floating tensors in float64 (in tuples, lists and dicts too); the rest as it is."""
    if isinstance(value, torch.Tensor):
        return value.to(torch.float64) if value.dtype in LOW_PRECISION else value
    if isinstance(value, tuple) and hasattr(value, "_fields"):  # a named tuple
        return type(value)(*(as_float64(v) for v in value))
    if isinstance(value, (list, tuple)):
        return type(value)(as_float64(v) for v in value)
    if isinstance(value, dict):
        return {k: as_float64(v) for k, v in value.items()}
    return value


def _array(value: Any) -> np.ndarray:
    if isinstance(value, torch.Tensor):
        value = value.detach().cpu()
        if value.is_floating_point():
            value = value.to(torch.float64)
        return value.numpy()
    return np.asarray(value)


def _distance(a: np.ndarray, b: np.ndarray) -> float:
    a, b = a.astype(np.float64), b.astype(np.float64)
    diff = np.where(np.isnan(a) & np.isnan(b), 0.0, np.abs(a - b))
    return float(diff.max()) if diff.size else 0.0


def judge(
    dtype: str,
    torch_outputs: list[Any],
    float64_outputs: list[Any],
    keras_outputs: list[Any],
    within_tolerance: list[bool],
    factor: float = FACTOR,
    condition: float | None = None,
) -> RoundOff:
    """Output by output (flattened, as :func:`torch2tf.verify.compare` pairs them): one
    within the plain tolerance passes; any other needs ``keras <= factor * torch`` in max abs
    distance from torch's float64 output, and ``torch <= condition * max |float64 output|``
    (``condition`` by default ``CONDITION[dtype]``)."""
    condition = CONDITION.get(dtype, CONDITION["float32"]) if condition is None else condition
    worst_torch = worst_keras = scale = 0.0
    reason = None
    passed = len(torch_outputs) == len(float64_outputs) == len(keras_outputs)
    outputs = zip(torch_outputs, float64_outputs, keras_outputs, within_tolerance, strict=False)
    for single, double, received, within in outputs:
        if single is None or double is None or received is None:
            passed &= single is None and double is None and received is None
            continue
        single, double, received = _array(single), _array(double), _array(received)
        if not single.shape == double.shape == received.shape:
            return RoundOff(dtype, None, None, factor, False, reason="output shapes differ")
        own, ours = _distance(single, double), _distance(received, double)
        finite = np.abs(double[np.isfinite(double)])
        largest = float(finite.max()) if finite.size else 0.0
        worst_torch, worst_keras = max(worst_torch, own), max(worst_keras, ours)
        scale = max(scale, largest)
        if within:
            continue
        if own > condition * largest:
            passed = False
            reason = (
                f"torch's own {dtype} output is {own:.3e} from its float64 one, over "
                f"{condition:g} of its largest value {largest:.3e}: too ill-conditioned to "
                f"verify in {dtype} (convert the model in float64)"
            )
        passed &= ours <= factor * own
    return RoundOff(dtype, worst_torch, worst_keras, factor, passed, scale, reason)
