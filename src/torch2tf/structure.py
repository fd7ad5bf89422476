"""Check the Keras twin's layer tree against the live torch module tree, before weights move.

The translation reads the model's source; the live model is what actually ran. Where the two
can disagree (a branch of ``__init__`` taken on an argument ``convert`` was not given, a
``ModuleList`` filled by a helper reading module-level state, a submodule passed in, a module
changed after construction), every difference is listed by module path with what torch holds
and what Keras holds, instead of a late and generic weight-transfer error.
"""

from __future__ import annotations

import re
from typing import Any

import torch

from torch2tf.held_modules import PARAMETER_CONTAINERS
from torch2tf.keras_api import keras_attribute
from torch2tf.rules import Unsupported
from torch2tf.weights import IGNORED_BUFFERS, keras_child, rule_for

_CALLEE = re.compile(r"\s*([\w.]+)\(")
_ACTIVATION_NAME = re.compile(r"""\s*[\w.]*Activation\(\s*["'](\w+)["']\s*\)\s*$""")


CONTAINERS = (torch.nn.Sequential, torch.nn.ModuleList, torch.nn.ModuleDict)


class StructureError(Exception):
    """The Keras twin is not built like the live torch model; the message lists every place."""


def _torch_text(module: torch.nn.Module) -> str:
    extra = module.extra_repr().replace("\n", " ")
    return f"{type(module).__name__}({extra})"


def _shapes(shapes: list[tuple[int, ...]]) -> str:
    return ", ".join(str(tuple(s)) for s in shapes) or "none"


def _keras_text(obj: Any) -> str:
    if isinstance(obj, (list, tuple)):
        return f"a list of {len(obj)}"
    if isinstance(obj, dict):
        return f"a dict of {len(obj)}"
    weights = getattr(obj, "weights", None)
    shapes = f" with weights {_shapes([tuple(w.shape) for w in weights])}" if weights else ""
    return f"{type(obj).__name__}{shapes}"


def _expected_source(module: torch.nn.Module) -> str | None:
    """The Keras constructor source the layer rule gives for this live module, if any."""
    rule = rule_for(module)
    if rule is None or isinstance(module, CONTAINERS):
        return None
    try:
        return rule().keras(**rule.arguments(module))
    except (Unsupported, TypeError, ValueError):
        return None


def _class_matches(module: torch.nn.Module, obj: Any) -> bool:
    """Whether the Keras object is of the kind the torch module translates to."""
    if type(module) is torch.nn.ModuleList:
        return isinstance(obj, (list, tuple))
    if type(module) is torch.nn.ModuleDict:  # a subclass is translated under its own name
        return isinstance(obj, dict)
    names = {klass.__name__ for klass in type(obj).__mro__}
    if isinstance(module, torch.nn.Sequential) and type(module) is torch.nn.Sequential:
        return "Sequential" in names
    if rule_for(module) is None:  # a class of the user's: translated under its own name
        return type(module).__name__ in names
    source = _expected_source(module)
    callee = _CALLEE.match(source) if source else None
    if callee is None:
        return True  # nothing to compare against
    expected = callee.group(1).rpartition(".")[2]
    layers = getattr(obj, "layers", None) if "Sequential" in names else None
    if layers and "Padding" in type(layers[0]).__name__ and expected != "Sequential":
        # padding written out before the layer, where the source's stride was a variable
        names = {klass.__name__ for klass in type(layers[-1]).__mro__}
    if expected not in names:
        return False
    activation = _ACTIVATION_NAME.match(source)
    if activation is not None and callable(getattr(obj, "activation", None)):
        return _same_activation(activation.group(1), obj.activation)
    return True


def _same_activation(name: str, function: Any) -> bool:
    """Whether Keras's activation ``name`` is ``function`` (names have aliases: hard_swish)."""
    import tensorflow as tf

    try:
        expected = tf.keras.activations.get(name)
    except ValueError:
        return True  # not a Keras name: nothing to compare against
    return function is expected or getattr(function, "__name__", None) == name


def _children(obj: Any) -> dict[str, Any] | None:
    """The Keras object's sub-layers by the name torch would give them (None: not knowable)."""
    if isinstance(obj, (list, tuple)):
        return {str(i): item for i, item in enumerate(obj)}
    if isinstance(obj, dict):
        return {str(k): v for k, v in obj.items()}
    if isinstance(obj, torch.nn.Module):
        return None
    if type(obj).__name__ == "Sequential" and hasattr(obj, "layers"):
        return None  # named by index or by layer name: looked up one by one
    found = {}
    for name, value in vars(obj).items():
        if name.startswith("_"):
            continue
        if isinstance(value, (list, tuple, dict)) and value:
            items = value.values() if isinstance(value, dict) else value
            if all(hasattr(v, "weights") and hasattr(v, "call") for v in items):
                found[name] = value
        elif hasattr(value, "weights") and hasattr(value, "call") and value is not obj:
            found[name] = value
    return found


def _compare(module: torch.nn.Module, obj: Any, path: str, problems: list[str]) -> None:
    where = path or "(the model)"
    if isinstance(module, PARAMETER_CONTAINERS) and isinstance(obj, (list, tuple, dict)):
        # nn.ParameterList(block.parameters()): the same variables, in a Keras list
        if len(obj) != len(module) or not all(hasattr(v, "assign") for v in _values(obj)):
            problems.append(
                f"{where}: torch has {len(module)} parameters, Keras {_keras_text(obj)}"
            )
        return
    if getattr(obj, "embedding", None) is not None and type(obj).__name__ == "TorchTiedDense":
        return  # its one weight is the Embedding's variable, compared there
    if not _class_matches(module, obj):
        expected = _expected_source(module) or _torch_text(module)
        problems.append(
            f"{where}: torch has {_torch_text(module)} (translates to {expected.strip()}), "
            f"Keras has {_keras_text(obj)}"
        )
        return
    rule = rule_for(module)
    if rule is not None and not isinstance(module, CONTAINERS):
        expected_shapes = [tuple(a.shape) for a in rule.weights(module)]
        variables = rule.keras_variables(obj) if hasattr(obj, "weights") else []
        received = [tuple(w.shape) for w in variables]
        if expected_shapes != received:
            problems.append(
                f"{where}: torch has {_torch_text(module)} with weights (as Keras layout) "
                f"{_shapes(expected_shapes)}, Keras has {_keras_text(obj)}"
            )
        return
    own = [(n, t) for n, t in module.named_parameters(recurse=False)]
    own += [(n, b) for n, b in module.named_buffers(recurse=False) if b is not None]
    for name, tensor in own:
        if name in IGNORED_BUFFERS:
            continue
        variable = getattr(obj, name, None)
        if not hasattr(variable, "assign"):
            problems.append(
                f"{path + '.' if path else ''}{name}: torch has a tensor of shape "
                f"{tuple(tensor.shape)}, Keras {type(obj).__name__} has no variable of that name"
            )
        elif tuple(variable.shape) != tuple(tensor.shape):
            problems.append(
                f"{path + '.' if path else ''}{name}: torch has shape {tuple(tensor.shape)}, "
                f"Keras has shape {tuple(variable.shape)}"
            )
    torch_children = dict(module.named_children())
    for name, child in torch_children.items():
        child_path = f"{path}.{name}" if path else name
        try:
            keras = keras_child(obj, name)
        except (AttributeError, IndexError, KeyError, ValueError, TypeError):
            keras = None
        if keras is None:
            problems.append(
                f"{child_path}: torch has {_torch_text(child)}, the Keras model has nothing here"
            )
            continue
        _compare(child, keras, child_path, problems)
    _compare_shared(module, obj, path, torch_children, problems)
    keras_children = _children(obj)
    if keras_children is None:
        layers = list(getattr(obj, "layers", ()))
        if not torch_children and [type(layer).__name__ for layer in layers] == ["Identity"]:
            layers = []  # torch's empty Sequential: the Identity makes Keras's callable
        count = len(layers)
        if isinstance(module, torch.nn.Sequential) and count > len(torch_children):
            problems.append(
                f"{where}: torch holds {len(torch_children)} layers, Keras {count}: the last "
                f"{count - len(torch_children)} are not in torch"
            )
        return
    named = [n for n, child in module._modules.items() if child is not None]
    known = {keras_attribute(n) for n in named} | set(named)
    for name, value in keras_children.items():
        if name not in known and not (name.endswith("_") and name[:-1] in torch_children):
            child_path = f"{path}.{name}" if path else name
            problems.append(f"{child_path}: torch has nothing here, Keras has {_keras_text(value)}")


def _values(obj: Any) -> list[Any]:
    return list(obj.values()) if isinstance(obj, dict) else list(obj)


def _compare_shared(
    module: torch.nn.Module, obj: Any, path: str, children: dict, problems: list[str]
) -> None:
    """A submodule held under a second name (``self.b = self.a``), which torch lists once: the
    Keras model must hold the same layer under both names, and one layer only there."""
    seen: dict[int, str] = {}
    for name in children:
        try:
            layer = keras_child(obj, name)
        except (AttributeError, IndexError, KeyError, ValueError, TypeError):
            continue
        if hasattr(layer, "weights") and id(layer) in seen:
            problems.append(
                f"{path + '.' if path else ''}{name}: torch holds a module of its own, the Keras "
                f"model the layer of {seen[id(layer)]}"
            )
        seen.setdefault(id(layer), name)
    for name, child in module._modules.items():
        if child is None or name in children:
            continue
        first = next((n for n, c in children.items() if c is child), None)
        if first is None:
            continue
        try:
            shared = keras_child(obj, name) is keras_child(obj, first)
        except (AttributeError, IndexError, KeyError, ValueError, TypeError):
            shared = False
        if not shared:
            child_path = f"{path}.{name}" if path else name
            problems.append(
                f"{child_path}: torch holds the same module as {first}, the Keras model another"
            )


def check_structure(torch_model: torch.nn.Module, keras_model: Any) -> None:
    """Raise :class:`StructureError` listing every place the two trees differ.

    Compared per module path: the kind of layer (the one its rule translates to, or the same
    class name for the user's classes), container lengths, the shapes of weights and of the
    model's own tensors, and Keras layers torch has no module for.
    """
    problems: list[str] = []
    _compare(torch_model, keras_model, "", problems)
    if problems:
        raise StructureError(
            "the Keras model is not built like the live torch model (was it constructed with "
            "other arguments than the ones given to convert, or changed after construction?):"
            "\n  " + "\n  ".join(problems)
        )
