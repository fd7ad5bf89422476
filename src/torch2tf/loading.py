"""Loading what ``torch2tf convert`` needs: the model class, a checkpoint, verification inputs.

Checkpoints are loaded safely: ``torch.load(weights_only=True)`` or safetensors; a file that
would need arbitrary unpickling is refused, and none of its code runs. Every problem is a
:class:`~torch2tf.errors.UsageError` with one clear message.
"""

from __future__ import annotations

import importlib.util
import pickle
import sys
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import torch

from torch2tf.errors import UsageError
from torch2tf.inputs import (
    InputError,
    InputSpec,
    float_dtype,
    forward_arity,
    infer_specs,
    make_inputs,
    suggestion,
)

# Keys under which training scripts commonly nest the model's state dict.
NESTED_STATE_KEYS = ("state_dict", "model_state_dict", "model")


def _first_line(err: BaseException) -> str:
    text = str(err).strip()
    return f"{type(err).__name__}: {text.splitlines()[0]}" if text else type(err).__name__


def _module_name(path: Path) -> str:
    """The stem, unless another module already has that name (never shadow ``json``...)."""
    name = path.stem if path.stem.isidentifier() else "torch2tf_input"
    existing = sys.modules.get(name)
    if existing is None or getattr(existing, "__file__", None) == str(path.resolve()):
        return name
    return f"torch2tf_input_{name}"


def load_class(path: Path, name: str) -> type:
    """Import ``path`` as a module (this runs it) and return its nn.Module class ``name``.

    A file inside a package (folders with ``__init__.py``) is imported as part of it, so that
    its relative imports work.
    """
    from torch2tf.project import project_of

    root, dotted = project_of(path)
    if "." in dotted:
        module_name = dotted
        sys.path.insert(0, str(root))
        try:
            module = importlib.import_module(dotted)
        except (Exception, SystemExit) as err:
            raise UsageError(f"cannot import {path}: it raised {_first_line(err)}") from None
        finally:
            _forget_path(str(root))
    else:
        module_name = _module_name(path)
        module = _import_file(path, module_name)
    cls = getattr(module, name, None)
    if not isinstance(cls, type) or not issubclass(cls, torch.nn.Module):
        found = sorted(
            n
            for n, v in vars(module).items()
            if isinstance(v, type)
            and issubclass(v, torch.nn.Module)
            and v.__module__ == module_name
        )
        raise UsageError(
            f"--class {name}: expected an nn.Module class defined in {path}, "
            f"received {'nothing by that name' if cls is None else type(cls).__name__}; "
            f"classes found: {', '.join(found) or 'none'}"
        )
    return cls


def _forget_path(folder: str) -> None:
    if folder in sys.path:  # the imported code may have removed it already
        sys.path.remove(folder)


def _import_file(path: Path, module_name: str) -> Any:
    spec = importlib.util.spec_from_file_location(module_name, path.resolve())
    if spec is None or spec.loader is None:
        raise UsageError(f"cannot import {path}: expected a Python source file")
    module = importlib.util.module_from_spec(spec)
    previous = sys.modules.get(module_name)
    sys.modules[module_name] = module  # dataclasses and pickling look the module up by name
    sys.path.insert(0, str(path.resolve().parent))
    try:
        spec.loader.exec_module(module)
    except (Exception, SystemExit) as err:
        if previous is None:
            sys.modules.pop(module_name, None)
        else:
            sys.modules[module_name] = previous
        raise UsageError(f"cannot import {path}: it raised {_first_line(err)}") from None
    finally:
        _forget_path(str(path.resolve().parent))
    return module


def construct(cls: type, args: Sequence[Any], kwargs: Mapping[str, Any]) -> torch.nn.Module:
    """``cls(*args, **kwargs)``; whatever the constructor raises becomes one clear line."""
    try:
        return cls(*args, **kwargs)
    except Exception as err:
        raise UsageError(
            f"cannot construct {cls.__name__} with --args {list(args)} --kwargs {dict(kwargs)}: "
            f"{_first_line(err)}"
        ) from None


def _refusal(path: Path, err: Exception) -> UsageError:
    lines = [line.strip().rstrip(".") for line in str(err).splitlines()]
    detail = next((line for line in lines if "GLOBAL" in line or "Unsupported" in line), "")
    if "GLOBAL" in detail:
        why = f"loading it needs arbitrary unpickling, which could run code ({detail})"
    else:
        why = (
            "torch.load(weights_only=True) cannot read it"
            + (f" ({detail})" if detail else "")
            + ": it is no plain state dict, and loading it any other way could run code"
        )
    return UsageError(
        f"--state-dict: refused {path}: {why}; nothing in it was run. Save "
        "model.state_dict() with torch.save, or use safetensors"
    )


def read_state_dict(path: Path) -> dict[str, torch.Tensor]:
    """Tensors of a checkpoint, loaded without arbitrary unpickling."""
    if not path.is_file():
        raise UsageError(f"--state-dict: cannot read {path}: no such file")
    if path.suffix == ".safetensors":
        try:
            from safetensors.torch import load_file
        except ImportError:
            raise UsageError(
                "--state-dict: reading .safetensors needs `pip install safetensors`"
            ) from None
        try:
            return load_file(str(path))
        except Exception as err:
            raise UsageError(f"--state-dict: cannot load {path}: {_first_line(err)}") from None
    try:
        with warnings.catch_warnings():  # e.g. "Detected pickle protocol 4": the error says it
            warnings.simplefilter("ignore")
            loaded = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as err:
        if "weights only load failed" in str(err).lower():
            raise _refusal(path, err) from None
        raise UsageError(
            f"--state-dict: cannot load {path}: not a torch checkpoint ({_first_line(err)})"
        ) from None
    except Exception as err:
        raise UsageError(
            f"--state-dict: cannot load {path}: not a torch checkpoint ({_first_line(err)})"
        ) from None
    if isinstance(loaded, dict):
        for key in NESTED_STATE_KEYS:
            if isinstance(loaded.get(key), dict):
                loaded = loaded[key]
                break
    if not isinstance(loaded, dict) or not all(
        isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in loaded.items()
    ):
        raise UsageError(
            f"--state-dict {path}: expected a mapping of names to tensors, received "
            f"{type(loaded).__name__}"
        )
    return loaded


def state_dict_problems(
    expected: Mapping[str, torch.Tensor], state: Mapping[str, torch.Tensor]
) -> list[str]:
    """Every missing key, unexpected key and shape mismatch, each naming its key."""
    problems = [
        f"missing key {k} (model shape {tuple(v.shape)})"
        for k, v in expected.items()
        if k not in state
    ]
    problems += [
        f"unexpected key {k} (checkpoint shape {tuple(v.shape)})"
        for k, v in state.items()
        if k not in expected
    ]
    problems += [
        f"{k}: checkpoint shape {tuple(v.shape)}, model shape {tuple(expected[k].shape)}"
        for k, v in state.items()
        if k in expected and v.shape != expected[k].shape
    ]
    return problems


def load_state_dict(model: torch.nn.Module, path: Path) -> None:
    """Load a checkpoint into ``model``, reporting every key problem at once."""
    state = read_state_dict(path)
    problems = state_dict_problems(model.state_dict(), state)
    if problems:
        raise UsageError(
            f"--state-dict {path} does not fit {type(model).__name__} "
            f"({len(problems)} problem{'s' * (len(problems) != 1)}):\n  " + "\n  ".join(problems)
        )
    try:
        model.load_state_dict(state)
    except Exception as err:
        raise UsageError(f"--state-dict {path}: {_first_line(err)}") from None


def random_inputs(model: torch.nn.Module, shape: tuple[int, ...]) -> tuple[torch.Tensor, ...]:
    """Seeded random input of ``shape`` in the model's floating dtype (``--input-shape``)."""
    return make_inputs(model, [InputSpec(float_dtype(model), shape)])


def verification_inputs(
    model: torch.nn.Module,
    shape: tuple[int, ...] | None,
    specs: Sequence[InputSpec] = (),
) -> tuple[torch.Tensor, ...]:
    """Inputs from ``specs`` (``--input``), of ``shape`` (``--input-shape``) or inferred, that
    the torch model is known to run on."""
    name = type(model).__name__
    if specs:
        _check_count(model, len(specs))
    try:
        if specs:
            inputs = make_inputs(model, list(specs))
            option = " ".join(f"--input {spec}" for spec in specs)
        elif shape is not None:
            inputs = random_inputs(model, shape)
            option = f"--input-shape {','.join(map(str, shape))}"
        else:
            inferred = infer_specs(model)
            inputs = make_inputs(model, inferred)
            option = f"the inferred input {' '.join(f'--input {spec}' for spec in inferred)}"
    except InputError as err:
        raise UsageError(f"--input {err}" if specs else str(err)) from None
    try:
        with torch.no_grad():
            model(*inputs)
    except Exception as err:
        hint = f"; pass the inputs, e.g. {suggestion(model)}" if not specs else ""
        raise UsageError(f"{option}: {name} cannot run on it ({_first_line(err)}){hint}") from None
    return inputs


def _check_count(model: torch.nn.Module, count: int) -> None:
    required, allowed, names = forward_arity(model)
    if required <= count and (allowed is None or count <= allowed):
        return
    expected = f"{required}" if required == allowed else f"{required} to {allowed}"
    if allowed is None:
        expected = f"at least {required}"
    raise UsageError(
        f"--input: expected {expected} (one per input of {type(model).__name__}.forward"
        f"({', '.join(names)})), received {count}"
    )


def conversion_errors() -> tuple[type[Exception], ...]:
    """Exceptions that mean 'this model cannot be converted', reported without a traceback."""
    from torch2tf.conversion import ConversionError
    from torch2tf.structure import StructureError
    from torch2tf.weights import WeightTransferError

    return (ConversionError, StructureError, WeightTransferError)
