"""Convert a live torch model: translate its class, build the Keras twin, move weights, verify."""

from __future__ import annotations

import ast
import contextlib
import inspect
import json
import os
import shutil
import tempfile
import types
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import tensorflow as tf
import torch

from torch2tf.translate import translate_source
from torch2tf.verify import Check, check
from torch2tf.weights import Transfer, keras_layer_at, transfer_weights

DEFAULT_BATCH = 16


class ConversionError(Exception):
    """The model cannot be converted; the message says why."""


@dataclass
class Conversion:
    """The result of :func:`convert`."""

    keras_model: tf.keras.Model
    source: str
    """The generated TensorFlow source of the whole file that defines the class."""
    class_name: str
    module_name: str
    checks: list[Check]
    transfers: list[Transfer]
    torch_model: torch.nn.Module = field(repr=False)
    atol: float = 1e-5
    rtol: float = 1e-4

    @property
    def passed(self) -> bool:
        return all(c.passed for c in self.checks)

    @property
    def max_abs_error(self) -> float:
        return max(c.max_abs_error for c in self.checks)

    @property
    def first_divergent_layer(self) -> str | None:
        return next((c.first_divergent_layer for c in self.checks if not c.passed), None)

    @property
    def report(self) -> dict[str, Any]:
        """JSON-ready report: overall verdict and error, per mode and per layer."""
        return {
            "model": self.class_name,
            "dtype": self.keras_model.dtype_policy.name,
            "passed": self.passed,
            "max_abs_error": self.max_abs_error,
            "atol": self.atol,
            "rtol": self.rtol,
            "first_divergent_layer": self.first_divergent_layer,
            "checks": [
                {k: v for k, v in c.to_dict().items() if k != "layers"} for c in self.checks
            ],
            "layers": [
                {"mode": c.mode, **layer.__dict__} for c in self.checks for layer in c.layers
            ],
            "weights": [
                {"torch": t.torch_name, "keras": t.keras_name, "shape": list(t.shape)}
                for t in self.transfers
            ],
        }

    def parameter_map(self) -> dict[torch.nn.Parameter, tf.Variable]:
        """Each torch parameter -> the Keras variable holding it (for optimizer conversion)."""
        variables = {}
        for path, module in self.torch_model.named_modules():
            params = list(module.parameters(recurse=False))
            if not params:
                continue
            layer = keras_layer_at(self.keras_model, path)
            trainable = list(layer.trainable_weights)
            variables.update(zip(params, trainable, strict=True))
        return variables

    def save(self, outdir: str | Path) -> Path:
        """Write the source, the weights and ``report.json`` into ``outdir``, atomically.

        Files are written into a temporary folder first and moved into place only once all of
        them exist, so a failure never leaves half-written output; other files in ``outdir``
        are left alone.
        """
        outdir = Path(outdir)
        outdir.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{outdir.name}.", dir=outdir.parent))
        try:
            (staging / f"{self.module_name}.py").write_text(self.source, encoding="utf-8")
            self.keras_model.save_weights(staging / f"{self.class_name}.weights.h5")
            (staging / "report.json").write_text(
                json.dumps(self.report, indent=2) + "\n", encoding="utf-8"
            )
            if not outdir.exists():
                staging.rename(outdir)
                return outdir
            for item in staging.iterdir():
                os.replace(item, outdir / item.name)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        return outdir

    def table(self) -> str:
        """A readable summary: one line per layer and mode, then the verdict."""
        rows = [f"{'mode':<6} {'layer':<28} {'torch':<14} {'keras':<20} {'max abs err':>12}  ok"]
        for c in self.checks:
            for layer in c.layers:
                rows.append(
                    f"{c.mode:<6} {layer.layer:<28} {layer.torch_type:<14} "
                    f"{layer.keras_type:<20} {layer.max_abs_error:>12.3e}  "
                    f"{'yes' if layer.passed else 'NO'}"
                )
            rows.append(
                f"{c.mode:<6} {'(whole model)':<28} {'':<14} {'':<20} "
                f"{c.max_abs_error:>12.3e}  {'yes' if c.passed else 'NO'}"
            )
        verdict = "PASSED" if self.passed else "FAILED (first divergent layer: "
        if not self.passed:
            verdict += f"{self.first_divergent_layer or 'whole model'})"
        rows.append(
            f"{verdict}: max abs error {self.max_abs_error:.3e} "
            f"(atol {self.atol:g}, rtol {self.rtol:g})"
        )
        return "\n".join(rows)


@contextlib.contextmanager
def _dtype_policy(name: str) -> Iterator[None]:
    """Layers created inside take ``name`` as their variable and compute dtype."""
    old = tf.keras.config.dtype_policy()
    tf.keras.config.set_dtype_policy(name)
    try:
        yield
    finally:
        tf.keras.config.set_dtype_policy(old)


def _definitions_only(source: str) -> str:
    """The generated module without its top-level statements that do work (example runs)."""
    tree = ast.parse(source)
    keep = (ast.Import, ast.ImportFrom, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)

    def harmless(node: ast.stmt) -> bool:
        if isinstance(node, keep):
            return True
        if isinstance(node, (ast.Assign, ast.AnnAssign)) and node.value is not None:
            return not any(isinstance(n, ast.Call) for n in ast.walk(node.value))
        return False

    tree.body = [n for n in tree.body if harmless(n)]
    return ast.unparse(tree)


def load_generated(source: str, name: str) -> types.ModuleType:
    """Execute generated source (definitions only) as a fresh module."""
    module = types.ModuleType(name)
    code = compile(_definitions_only(source), f"<torch2tf: {name}>", "exec")
    exec(code, module.__dict__)
    return module


def _model_dtype(model: torch.nn.Module) -> torch.dtype:
    for tensor in list(model.parameters()) + list(model.buffers()):
        if tensor.is_floating_point():
            return tensor.dtype
    return torch.get_default_dtype()


def infer_inputs(model: torch.nn.Module, batch: int = DEFAULT_BATCH) -> tuple[torch.Tensor, ...]:
    """Random inputs for the first Linear layer's ``in_features`` (fixed seed)."""
    for module in model.modules():
        if isinstance(module, torch.nn.Linear):
            generator = torch.Generator().manual_seed(0)
            shape = (batch, module.in_features)
            return (torch.randn(shape, generator=generator, dtype=_model_dtype(model)),)
    raise ConversionError(
        f"cannot infer an input shape for {type(model).__name__}: expected a Linear layer, "
        "received none; pass inputs=(tensor, ...)"
    )


def _source_of(cls: type) -> tuple[str, str]:
    try:
        path = inspect.getsourcefile(cls)
    except TypeError:
        path = None
    if path is None or not Path(path).exists():
        raise ConversionError(
            f"cannot find the source file of {cls.__qualname__}: expected a class defined in "
            "a .py file"
        )
    return Path(path).read_text(encoding="utf-8"), path


def convert(
    model: torch.nn.Module,
    args: Sequence[Any] = (),
    kwargs: Mapping[str, Any] | None = None,
    inputs: torch.Tensor | Sequence[torch.Tensor] | None = None,
    *,
    atol: float = 1e-5,
    rtol: float = 1e-4,
) -> Conversion:
    """Convert a live torch model into a Keras model with the same weights, and verify it.

    Args:
        model: the torch model; its class must be defined in a source file.
        args: positional arguments the model's class was constructed with.
        kwargs: keyword arguments the model's class was constructed with.
        inputs: a tensor or tuple of tensors to verify on; random inputs of the inferred
            shape (first Linear's ``in_features``) when omitted.
        atol: absolute tolerance of the comparison.
        rtol: relative tolerance of the comparison.

    Returns:
        A :class:`Conversion` with ``keras_model``, ``source``, ``max_abs_error``, ``passed``
        and ``report`` (per mode and per layer).
    """
    cls = type(model)
    text, path = _source_of(cls)
    source = translate_source(text, path)
    module_name = Path(path).stem
    generated = load_generated(source, module_name)
    keras_cls = getattr(generated, cls.__name__, None)
    if keras_cls is None:
        raise ConversionError(f"{cls.__name__} is not defined at the top level of {path}")
    dtype = _model_dtype(model)
    policy = str(dtype).removeprefix("torch.")
    with _dtype_policy(policy):
        keras_model = keras_cls(*args, **dict(kwargs or {}))
    if inputs is None:
        inputs = infer_inputs(model)
    elif isinstance(inputs, torch.Tensor):
        inputs = (inputs,)
    inputs = tuple(inputs)
    if not keras_model.built or not keras_model.weights:
        from torch2tf.verify import _to_tf

        keras_model(*_to_tf(inputs), training=False)
    transfers = transfer_weights(model, keras_model)
    checks = [
        check(model, keras_model, inputs, mode, atol=atol, rtol=rtol) for mode in ("eval", "train")
    ]
    return Conversion(
        keras_model, source, cls.__name__, module_name, checks, transfers, model, atol, rtol
    )
