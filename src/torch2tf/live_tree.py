"""Keras source for live torch modules that have no source of the user's: a model that is a
torch container (an ``nn.Sequential`` a factory returned), and torch layers or layer classes
given to the model's constructor as arguments."""

from __future__ import annotations

import ast
import functools
import inspect
import types
from collections.abc import Callable, Sequence
from typing import Any

import torch

from torch2tf.errors import ConversionError
from torch2tf.generated import load_generated
from torch2tf.rules import Arg, Unsupported, class_reference
from torch2tf.rules.weight_norm import WRAPPABLE, torch_class, weight_normed
from torch2tf.translate import emit
from torch2tf.weights import rules_by_type


def _is_torch_class(cls: type) -> bool:
    return cls.__module__.split(".")[0] == "torch"


def _is_torch_layer_class(value: Any) -> bool:
    return isinstance(value, type) and issubclass(value, torch.nn.Module) and _is_torch_class(value)


def keras_argument(value: Any, generated: types.ModuleType, name: str = "argument") -> Any:
    """A constructor argument for the Keras class: torch layer classes are translated too."""
    if isinstance(value, functools.partial) and _is_torch_layer_class(value.func):
        # partial(nn.BatchNorm2d, eps=1e-3, momentum=0.01): the same partial of the maker
        # of the Keras layer, which takes torch's arguments (so momentum is torch's too).
        return functools.partial(
            layer_maker(value.func, name),
            *(keras_argument(a, generated, name) for a in value.args),
            **{k: keras_argument(v, generated, name) for k, v in value.keywords.items()},
        )
    if isinstance(value, type) and issubclass(value, torch.nn.Module):
        twin = getattr(generated, value.__name__, None)
        if not _is_torch_class(value) and isinstance(twin, type):
            return twin  # a class of the model's project (block=BasicBlock): its translation
        rule = rules_by_type().get(value)
        if rule is None:
            raise ConversionError(
                f"constructor argument {value.__name__}: expected a torch layer class that "
                "torch2tf translates, received one it does not"
            )
        try:
            return eval(class_reference(rule), vars(generated))  # source we generated ourselves
        except (TypeError, NameError, Unsupported):  # needs arguments, or a helper
            return layer_maker(value, name)
    if isinstance(value, torch.nn.Module) and not _is_torch_class(type(value)):
        cls = type(value)
        raise ConversionError(
            f"{name}: expected a torch layer or a Keras layer, received an instance of "
            f"{cls.__module__}.{cls.__qualname__}, whose constructor arguments torch2tf cannot "
            "know; convert it first and pass its Keras twin as "
            f"{name}: torch2tf.convert(<the {cls.__name__}>, args=[...], kwargs={{...}})"
            ".keras_model"
        )
    if isinstance(value, torch.nn.Module):  # e.g. a backbone built outside the model
        builder = emit(
            f"import tensorflow as tf\n\n\ndef build():\n    return {tree_expression(value)}\n"
        )
        return load_generated(builder, f"{type(value).__name__.lower()}_argument").build()
    if isinstance(value, (list, tuple)):
        return type(value)(keras_argument(v, generated, name) for v in value)
    cls = type(value)
    twin = getattr(generated, cls.__name__, None)
    if (
        isinstance(twin, type)
        and twin is not cls
        and twin.__qualname__ == cls.__qualname__
        and cls.__module__.split(".")[0] not in ("torch", "builtins", "numpy")
        and hasattr(value, "__dict__")
    ):
        # an instance of a plain class of the project (a block's config): the same state in
        # its translation, whose methods are the translated ones
        made = twin.__new__(twin)
        made.__dict__.update(
            {k: keras_argument(v, generated, name) for k, v in vars(value).items()}
        )
        return made
    return value


def _literal(value: Any) -> bool:
    """Whether ``repr(value)`` is source that makes ``value`` again."""
    try:
        return type(value) is type(ast.literal_eval(repr(value))) and (
            ast.literal_eval(repr(value)) == value or value != value  # NaN
        )
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return False


def layer_maker(cls: type, name: str = "argument") -> Callable[..., Any]:
    """A class named as torch ``cls`` that, called with its constructor arguments, returns the
    exact Keras layer, for a torch layer class given to a model's constructor and constructed
    by it."""
    rule = rules_by_type().get(cls)
    if rule is None:
        raise ConversionError(
            f"{name}: expected a torch layer class that torch2tf translates, received "
            f"{cls.__module__}.{cls.__qualname__}"
        )
    signature = inspect.signature(rule().keras)
    builders: dict[str, Callable[[], Any]] = {}  # Keras source -> its builder, emitted once

    def make(*args: Any, **kwargs: Any) -> Any:
        try:
            bound = signature.bind(*args, **kwargs)
        except TypeError as err:
            raise ConversionError(f"{name}: {cls.__name__}(...): {err}") from None
        for key, value in bound.arguments.items():
            if not _literal(value):
                raise ConversionError(
                    f"{name}: {cls.__name__}({key}=...): expected a plain value (a number, "
                    f"string, bool, None or a tuple of them), received {type(value).__name__}"
                )
        try:
            source = rule().keras(*bound.args, **bound.kwargs)
        except Unsupported as err:
            raise ConversionError(f"{name}: {cls.__name__}: {err.message}") from None
        if source not in builders:
            code = emit(f"import tensorflow as tf\n\n\ndef build():\n    return {source}\n")
            builders[source] = load_generated(code, f"{cls.__name__.lower()}_maker").build
        return builders[source]()

    # a class named as torch's, as code dispatching on the value sees it (timm's
    # get_norm_act_layer: a type, looked up by ``__name__``; a function it would call as is)
    return type(
        cls.__name__,
        (),
        {
            "__new__": staticmethod(lambda _, *args, **kwargs: make(*args, **kwargs)),
            "__doc__": f"torch.nn.{cls.__name__}'s constructor arguments -> the Keras layer.",
            "__module__": __name__,
        },
    )


TREE_BUILDER = "build_model"


def tree_expression(module: torch.nn.Module, path: str = "") -> str:
    """Keras source rebuilding a live torch module tree made of translated layers only."""
    if weight_normed(module) is not None:
        return _weight_normed_expression(module, path)
    children = [
        tree_expression(child, f"{path}.{name}" if path else name)
        for name, child in module.named_children()
    ]
    if isinstance(module, torch.nn.ModuleDict):
        items = ", ".join(f"{k!r}: {c}" for k, c in zip(module.keys(), children, strict=True))
        return f"{{{items}}}"
    if isinstance(module, torch.nn.ModuleList):
        return f"[{', '.join(children)}]"
    rule = rules_by_type().get(type(module))
    if rule is None:
        raise ConversionError(
            f"{path or 'the model'}: expected a torch layer that torch2tf translates, or a "
            f"class defined in a source file; received {type(module).__name__}"
        )
    if isinstance(module, torch.nn.Sequential):
        names = [name for name, _ in module.named_children()]
        if all(name.isdigit() for name in names):
            return rule().keras(*(Arg(c) for c in children))
        items = ", ".join(f"({n!r}, {c})" for n, c in zip(names, children, strict=True))
        return rule().keras(Arg(f"OrderedDict([{items}])"))
    try:
        return rule().keras(**rule.arguments(module))
    except Unsupported as err:
        raise ConversionError(f"{path}: {err.message}") from None


def _weight_normed_expression(module: torch.nn.Module, path: str) -> str:
    """``TorchWeightNorm(<the layer>, dim=...)`` for a layer weight_norm wrapped (either API)."""
    rule = rules_by_type().get(torch_class(module))
    if rule is None or rule.torch not in WRAPPABLE:
        raise ConversionError(
            f"{path or 'the model'}: weight_norm is translated only around "
            f"{', '.join(sorted(WRAPPABLE))}; received {torch_class(module).__name__}"
        )
    try:
        layer = rule().keras(**rule.arguments(module))
    except Unsupported as err:
        raise ConversionError(f"{path}: {err.message}") from None
    trainable = "" if weight_normed(module)[0].requires_grad else ", g_trainable=False"
    return f"TorchWeightNorm({layer}, dim={_hook_dim(module)}{trainable})"


def _hook_dim(module: torch.nn.Module) -> int:
    """The dim torch's weight_norm keeps (-1: none, the whole tensor's norm)."""
    for hook in module._forward_pre_hooks.values():
        if type(hook).__name__ == "WeightNorm":
            return hook.dim
    return module.parametrizations.weight[0].dim


def tree_source(model: torch.nn.Module, input_shape: Sequence[int] | None = None) -> str:
    """Generated source for a model that is a torch container, built from its module tree.

    A Keras Sequential is built for one input rank: ``input_shape`` (the verification input's,
    batch size left open) builds it at construction.
    """
    expression = tree_expression(model)
    build = ""
    if input_shape is not None and isinstance(model, torch.nn.Sequential):
        build = f"    model.build({(None, *input_shape[1:])!r})\n"
    return emit(
        "import tensorflow as tf\n\n\n"
        f"def {TREE_BUILDER}():\n"
        f'    """The Keras twin of a torch {type(model).__name__}, rebuilt from its modules."""\n'
        f"    model = {expression}\n{build}    return model\n"
    )
