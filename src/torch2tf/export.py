"""What users ship: ``.keras``, SavedModel and TFLite files, each loaded back and verified.

Every artefact is written, then loaded in a fresh Python process that imports TensorFlow
alone (plus the generated module for ``.keras``; never torch, see ``export_check.py``) and
run on the verification inputs. Its outputs are compared with torch's. An artefact that
cannot be written, loaded or run, or that does not match, is removed and the reason
recorded: what is left has been verified. The results go into ``report.json`` under
``exports``.
"""

from __future__ import annotations

import inspect
import json
import os
import shutil
import subprocess
import sys
import tempfile
import traceback
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

if TYPE_CHECKING:
    import tensorflow as tf
    import torch

    from torch2tf.verify import Layouts


class Conversion(Protocol):
    """What an export needs of a :class:`torch2tf.conversion.Conversion` (no import of it,
    which imports this module)."""

    keras_model: tf.keras.Model
    torch_model: torch.nn.Module
    inputs: tuple[torch.Tensor, ...]
    layouts: Layouts
    class_name: str
    module_name: str
    import_name: str
    source: str
    sources: dict[str, str]
    rtol: float

    def files(self, helpers_module: str | None = None) -> dict[str, str]: ...

    def keras_inputs(self, *torch_tensors: torch.Tensor) -> tuple[tf.Tensor, ...]: ...


# Format -> absolute tolerance against torch (TFLite's kernels sum in other orders). The
# dynamic-range int8 TFLite file stores 8-bit weights: its error is measured, not bounded.
TOLERANCES: dict[str, float | None] = {
    "keras": 1e-5,
    "savedmodel": 1e-5,
    "tflite": 1e-4,
    "tflite-int8": None,
}
FORMATS = tuple(TOLERANCES)
CHECK_TIMEOUT = 600  # seconds for the fresh process to load and run every artefact


class ExportError(Exception):
    """An unknown export format; the message lists the known ones."""


def parse_formats(text: str | Iterable[str]) -> tuple[str, ...]:
    """``"keras,tflite"`` (or a list) -> the formats, checked, in a fixed order."""
    names = [n.strip() for n in (text.split(",") if isinstance(text, str) else text)]
    unknown = [n for n in names if n not in TOLERANCES]
    if unknown or not names:
        raise ExportError(
            f"unknown export format {', '.join(map(repr, unknown)) or 'none'}: expected "
            f"one or more of {', '.join(FORMATS)}, comma-separated"
        )
    return tuple(f for f in FORMATS if f in names)


def file_name(class_name: str, fmt: str) -> str:
    """The artefact's name in the output folder (a SavedModel is a folder)."""
    return {
        "keras": f"{class_name}.keras",
        "savedmodel": f"{class_name}_savedmodel",
        "tflite": f"{class_name}.tflite",
        "tflite-int8": f"{class_name}.int8.tflite",
    }[fmt]


def write_exports(
    conversion: Conversion,
    folder: Path,
    formats: Iterable[str],
    files: Mapping[str, str] | None = None,
) -> dict[str, dict[str, Any]]:
    """Write the artefacts of ``formats`` into ``folder`` and verify each; see the module
    docstring. ``files`` are the generated files as written beside them (relative path ->
    code; by default the conversion's own), which the ``.keras`` file is loaded with.
    Returns format -> ``{"file", "passed", "max_abs_error", "atol", ...}`` or
    ``{"file": None, "passed": False, "error": ...}``."""
    import tensorflow as tf  # here, so that the CLI checks --export before TensorFlow starts

    from torch2tf.verify import _numpy

    formats = parse_formats(formats)
    folder = Path(folder)
    model = conversion.keras_model
    inputs = [_numpy(x) for x in conversion.keras_inputs(*conversion.inputs)]
    names = input_names(model, len(inputs))
    signature = [
        tf.TensorSpec((None, *x.shape[1:]), tf.as_dtype(x.dtype), name=n)
        for x, n in zip(inputs, names, strict=True)
    ]
    # TFLite's builtin ops lower a loop over time steps only when its tensor lists have a
    # static element shape: a recurrent model's .tflite takes the verification inputs' shapes
    fixed = loops_over_time(model)
    tflite_signature = signature
    if fixed:
        tflite_signature = [
            tf.TensorSpec(x.shape, s.dtype, name=s.name)
            for x, s in zip(inputs, signature, strict=True)
        ]
    facts = conversion.layouts.inputs + [None] * len(inputs)

    def documented(fmt: str) -> list[dict[str, Any]]:
        """The signature's inputs, channels-last where the Keras twin is."""
        static = fixed and fmt.startswith("tflite")
        return [
            {
                "name": n,
                "shape": [x.shape[0] if static else None, *x.shape[1:]],
                "dtype": str(x.dtype),
                "layout": f.layout() if f is not None else "as torch",
            }
            for x, n, f in zip(inputs, names, facts, strict=False)
        ]

    results: dict[str, dict[str, Any]] = {}
    written: dict[str, Path] = {}
    with tempfile.TemporaryDirectory(prefix="torch2tf-export-") as scratch:
        scratch = Path(scratch)
        savedmodel = folder / file_name(conversion.class_name, "savedmodel")
        if "savedmodel" not in formats or fixed:  # TFLite's own SavedModel
            savedmodel = scratch / "savedmodel"
        writers = {
            "keras": lambda path: model.save(path),
            "savedmodel": lambda path: _write_savedmodel(model, signature, path),
            "tflite": lambda path: _write_tflite(savedmodel, path, quantize=False),
            "tflite-int8": lambda path: _write_tflite(savedmodel, path, quantize=True),
        }
        if any(f.startswith("tflite") for f in formats) and savedmodel.parent == scratch:
            try:
                _write_savedmodel(model, tflite_signature, savedmodel)
            except Exception as err:
                for fmt in formats:
                    if fmt.startswith("tflite"):
                        results[fmt] = _failed(f"cannot write the SavedModel: {_reason(err)}")
        for fmt in formats:
            if fmt in results:
                continue
            path = folder / file_name(conversion.class_name, fmt)
            try:
                writers[fmt](path)
                written[fmt] = path
            except Exception as err:
                _remove(path)
                results[fmt] = _failed(f"cannot write: {_reason(err)}")
        if written:
            expected = _expected_outputs(conversion)
            files = files or conversion.files()
            results.update(_verify(conversion, written, inputs, names, expected, scratch, files))
    for fmt, result in results.items():
        if not result["passed"] and fmt in written:
            _remove(written[fmt])  # only verified artefacts are shipped
            result["file"] = None
    static = {"fixed_shape": True} if fixed else {}  # the batch size included
    return {
        fmt: {
            **results[fmt],
            **(static if fmt.startswith("tflite") else {}),
            "inputs": documented(fmt),
        }
        for fmt in formats
    }


def loops_over_time(model: tf.keras.Model) -> bool:
    """Whether the model runs a Keras RNN layer (a while loop over time steps), whose .tflite
    file is converted for the verification inputs' shapes, batch size included: TFLite's
    builtin ops refuse the loop's tensor lists of an open batch size."""
    import tensorflow as tf

    return any(isinstance(layer, tf.keras.layers.RNN) for layer in model._flatten_layers())


def input_names(model: tf.keras.Model, count: int) -> list[str]:
    """The names of ``call``'s first ``count`` parameters: the signature's input names."""
    params = [
        p.name
        for p in inspect.signature(model.call).parameters.values()
        if p.name != "training" and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
    ]
    if len(params) < count:
        params += [f"input_{i}" for i in range(len(params), count)]
    return params[:count]


def _write_savedmodel(model: tf.keras.Model, signature: list[tf.TensorSpec], path: Path) -> None:
    """A SavedModel whose ``serving_default`` runs the model in inference mode (batch size
    left open), for TF Serving and ``tf.saved_model.load``."""
    import tensorflow as tf

    archive = tf.keras.export.ExportArchive()
    archive.track(model)
    archive.add_endpoint("serve", lambda *xs: model(*xs, training=False), input_signature=signature)
    archive.write_out(str(path), verbose=False)


def _write_tflite(savedmodel: Path, path: Path, *, quantize: bool) -> None:
    import tensorflow as tf

    converter = tf.lite.TFLiteConverter.from_saved_model(str(savedmodel))
    if quantize:  # dynamic range: int8 weights, float activations
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
    path.write_bytes(converter.convert())


def _expected_outputs(conversion: Conversion) -> list[np.ndarray]:
    """torch's outputs in eval mode on the verification inputs (the model is left as it was)."""
    import torch

    from torch2tf.layouts import to_keras
    from torch2tf.verify import _flatten, _numpy

    model = conversion.torch_model
    training = model.training
    model.eval()
    try:
        with torch.no_grad():
            out = model(*conversion.inputs)
    finally:
        model.train(training)
    out = to_keras(out, conversion.layouts.output)  # the Keras twin's layout
    return [_numpy(x) for x in _flatten(out)]


def _verify(
    conversion: Conversion,
    written: dict[str, Path],
    inputs: list[np.ndarray],
    names: list[str],
    expected: list[np.ndarray],
    scratch: Path,
    files: Mapping[str, str],
) -> dict[str, dict[str, Any]]:
    """Load every written artefact in a fresh TensorFlow-only process; compare with torch."""
    modules = scratch / "modules"
    for relative, code in files.items():  # what convert reached: all of it runs
        (modules / relative).parent.mkdir(parents=True, exist_ok=True)
        (modules / relative).write_text(code, encoding="utf-8")
    input_paths = []
    for index, x in enumerate(inputs):
        input_paths.append(str(scratch / f"input_{index}.npy"))
        np.save(input_paths[-1], x)
    spec = {
        "folder": str(scratch),
        "modules": str(modules),
        "module": conversion.import_name,
        "dtype": conversion.keras_model.dtype_policy.name,
        "inputs": input_paths,
        "input_names": names,
        "artefacts": [
            {"format": fmt, "loader": fmt.removesuffix("-int8"), "path": str(path.resolve())}
            for fmt, path in written.items()
        ],
    }
    (scratch / "spec.json").write_text(json.dumps(spec), encoding="utf-8")
    script = scratch / "export_check.py"
    shutil.copyfile(Path(__file__).with_name("export_check.py"), script)
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONNOUSERSITE": "1"}
    command = [sys.executable, str(script), str(scratch / "spec.json")]
    try:
        done = subprocess.run(
            command,
            capture_output=True,
            text=True,
            cwd=scratch,
            env=env,
            timeout=CHECK_TIMEOUT,
            check=False,
        )
        loaded = json.loads(done.stdout.strip().splitlines()[-1])
    except subprocess.TimeoutExpired:
        return {fmt: _failed(f"loading took over {CHECK_TIMEOUT} s") for fmt in written}
    except (json.JSONDecodeError, IndexError):
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        return {fmt: _failed(f"the loading process failed: {last}") for fmt in written}
    results = {}
    for fmt, path in written.items():
        outcome = loaded.get(fmt, {"error": "not loaded"})
        base = {"file": path.name}
        if loaded.get("torch_imported"):
            results[fmt] = _failed("loading it imported torch", base)
        elif "error" in outcome:
            results[fmt] = _failed(f"cannot load or run: {outcome['error']}", base)
        else:
            received = [np.load(p) for p in outcome["outputs"]]
            results[fmt] = {**base, **_compare(fmt, expected, received, conversion.rtol)}
    return results


def _compare(
    fmt: str, expected: list[np.ndarray], received: list[np.ndarray], rtol: float
) -> dict[str, Any]:
    atol = TOLERANCES[fmt]
    shapes = [x.shape for x in expected], [x.shape for x in received]
    if shapes[0] != shapes[1]:
        return _failed(f"outputs of shapes {shapes[1]}, expected {shapes[0]}")
    worst, within = 0.0, True
    for t, k in zip(expected, received, strict=True):
        diff = np.abs(t.astype(np.float64) - k.astype(np.float64))
        if diff.size:
            worst = max(worst, float(diff.max()))
            if atol is not None:
                within &= bool(np.all(diff <= atol + rtol * np.abs(t)))
    result: dict[str, Any] = {"passed": within, "max_abs_error": worst, "atol": atol}
    if atol is None:
        result["note"] = "int8 weights: error measured, not bounded"
    else:
        result["rtol"] = rtol
    if not within:
        result["error"] = f"max abs error {worst:.3e} exceeds atol {atol:g} + rtol {rtol:g}"
    return result


def _failed(error: str, base: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"file": None, **(base or {}), "passed": False, "error": error}


def _reason(err: Exception) -> str:
    return traceback.format_exception_only(type(err), err)[-1].strip().splitlines()[0]


def _remove(path: Path) -> None:
    if path.is_dir():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)
