"""The rule registry: one rule per torch name, keyed by its qualified name; the base
class of layer rules and the helpers rules share.

A layer rule is a class whose ``keras`` method has the torch constructor's own signature: the
engine binds the call's arguments to it, so a misspelt or unknown keyword is reported for free.
Arguments arrive as :class:`Arg` (the source text of the expression as the user wrote it);
defaults arrive as plain Python values. ``src`` turns either into source, ``const`` into a value.
The same class maps the live torch module's tensors onto the Keras layer's variables, so the
translation and the weight mapping of a layer sit side by side and cannot disagree.
"""

from __future__ import annotations

import ast
import inspect
import math
import operator
import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ClassVar

if TYPE_CHECKING:
    import numpy as np


class Arg(str):
    """Source text of one argument expression, exactly as written in the input file."""


class BoolArg(Arg):
    """An argument visibly a boolean tensor (a comparison, or a local made by one)."""


class Unsupported(Exception):
    """Raised by a rule for input it cannot translate exactly."""

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


_NOT_CONST = object()


def const(value: Any, default: Any = _NOT_CONST) -> Any:
    """The Python value of an argument if it is a constant, else ``default``.

    Constants are literals and arithmetic over them, with ``math``'s functions and constants
    (``1 / 3``, ``math.sqrt(5)``): evaluated here from the syntax tree, never executed.
    """
    if not isinstance(value, Arg):
        return value
    try:
        return ast.literal_eval(value)
    except (ValueError, SyntaxError):
        pass
    try:
        return _arithmetic(ast.parse(value, mode="eval").body)
    except (ValueError, SyntaxError, TypeError, ZeroDivisionError, OverflowError):
        return default


_OPERATORS = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv,
    ast.Pow: operator.pow,
    ast.Mod: operator.mod,
    ast.USub: operator.neg,
    ast.UAdd: operator.pos,
}
_MATH = {
    *("sqrt", "log", "exp", "pi", "e", "inf", "tau", "log2", "log10", "cos", "sin", "tanh"),
    *("erf", "erfc"),
}


def _arithmetic(node: ast.AST) -> float | int:
    if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)):
        return node.value
    if isinstance(node, ast.BinOp) and type(node.op) in _OPERATORS:
        return _OPERATORS[type(node.op)](_arithmetic(node.left), _arithmetic(node.right))
    if isinstance(node, ast.UnaryOp) and type(node.op) in _OPERATORS:
        return _OPERATORS[type(node.op)](_arithmetic(node.operand))
    if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
        if node.value.id == "math" and node.attr in _MATH:
            return getattr(math, node.attr)
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and not node.keywords:
        func = node.func
        if isinstance(func.value, ast.Name) and func.value.id == "math" and func.attr in _MATH:
            return getattr(math, func.attr)(*(_arithmetic(a) for a in node.args))
    raise ValueError("not a constant")


def src(value: Any) -> str:
    """Source text for an argument or a default value."""
    return str(value) if isinstance(value, Arg) else repr(value)


def keras_call(func: str, *args: str, **kwargs: str | None) -> str:
    """``func(a, b, k=v)`` from source fragments; keywords whose value is None are left out."""
    parts = list(args) + [f"{k}={v}" for k, v in kwargs.items() if v is not None]
    return f"{func}({', '.join(parts)})"


Example = tuple[str, str]
"""A rule's before/after: torch source and the Keras source torch2tf makes of it. Layers are
written as constructed in ``__init__``, functions and methods as called in ``forward(self, x,
y)``, initialisers as applied to ``self.layer = nn.Linear(4, 3)``. Tests translate each one and
docs/coverage.md shows them."""


class LayerRule:
    """Translates one torch layer class into a Keras layer and maps its weights."""

    torch: ClassVar[str]
    """Qualified name of the torch class, e.g. ``torch.nn.Linear``."""
    examples: ClassVar[tuple[Example, ...]] = ()
    takes_training: ClassVar[bool] = False
    """Whether the layer behaves differently in training (then ``training=`` is passed)."""
    initializers: ClassVar[dict[str, str]] = {}
    """torch parameter name -> the Keras constructor argument that initialises it."""
    swapped_fans: ClassVar[frozenset[str]] = frozenset()
    """Parameters whose Keras variable keeps torch's layout (Embedding's (num, dim)): there
    Keras reads fan_in from the other axis, so fan-based initializers swap their mode."""
    flat_value: ClassVar[tuple[str, str] | None] = None
    """For a layer whose Keras form depends on its input's layout: (its Keras class, a
    subclass refusing, when built, any input but (N, features), where both layouts agree),
    which the layer used as a value makes (a registry's ``nn.BatchNorm1d``)."""

    def __init__(
        self, init_overrides: dict[str, str] | None = None, channels_last: bool = False
    ) -> None:
        self.init_overrides = init_overrides or {}
        # Whether the tensor facts place this layer on a channels-last feature map.
        self.channels_last = channels_last

    def keras(self, *args: Any, **kwargs: Any) -> str:
        """Keras constructor source; subclasses use the torch constructor's signature."""
        raise NotImplementedError

    def initializer(self, param: str, default: str | None) -> str | None:
        """Initialiser source for ``param``: the file's own init code wins over torch's default."""
        source = self.init_overrides.get(param)
        if source is None:
            return default
        if param in self.swapped_fans:
            swapped = {"'fan_in'": "'fan_out'", "'fan_out'": "'fan_in'"}
            source = re.sub("'fan_in'|'fan_out'", lambda m: swapped[m.group()], source)
        return source

    def rank_sensitive(self, arguments: dict[str, Any]) -> bool:
        """Whether building on 2-D input could give this layer wrong weights or fail.

        ``arguments`` are the constructor's bound arguments. The translator builds a model at
        construction on a 2-D input only when no layer of the class says yes.
        """
        return False

    def output_features(self, arguments: dict[str, Any]) -> Any:
        """The size of its output's last axis on 2-D input, when the bound constructor
        ``arguments`` fix it (``Linear``'s ``out_features``); None otherwise."""
        return None

    def fed_features(self, arguments: dict[str, Any]) -> Any:
        """For a rank-sensitive layer built right on 2-D input of this many features (the
        bound constructor ``arguments`` fix it; ``BatchNorm1d``'s ``num_features``): the
        translator builds on 2-D when the layer made before it outputs that many. None: never.
        """
        return None

    def input_features(self, *args: Any, **kwargs: Any) -> Arg | None:
        """The size of the last input axis, when the constructor's arguments fix it."""
        return None

    @classmethod
    def arguments(cls, module: Any) -> dict[str, Any]:
        """Constructor arguments that rebuild a live ``module``, read from its attributes.

        torch layers keep their constructor arguments as attributes of the same name; a flag
        such as Linear's ``bias`` is stored as a tensor or None. Arguments the module does not
        keep only shape its initial values, which conversion replaces with the real ones.
        """
        values: dict[str, Any] = {}
        for name, param in inspect.signature(cls.keras).parameters.items():
            if name in ("self", "device", "dtype") or param.kind in (
                param.VAR_POSITIONAL,
                param.VAR_KEYWORD,
            ):
                continue
            if not hasattr(module, name):
                if param.default is param.empty:
                    raise Unsupported(f"cannot read {name!r} from {type(module).__name__}")
                continue
            value = getattr(module, name)
            if isinstance(param.default, bool) and not isinstance(value, bool):
                value = value is not None
            if type(value).__module__.startswith("torch"):
                raise Unsupported(f"{type(module).__name__}.{name} is not a plain value")
            values[name] = value
        return values

    @staticmethod
    def weights(module: Any) -> list[np.ndarray]:
        """The torch module's tensors, in the order of the Keras layer's ``weights``."""
        return []

    @staticmethod
    def keras_variables(layer: Any) -> list[Any]:
        """The Keras variables ``weights`` fills: all of the layer's, unless a sublayer's
        are moved by the rule of a torch submodule (MultiheadAttention's out_proj)."""
        return list(layer.weights)


def class_reference(rule: type[LayerRule], *args: Any, **kwargs: Any) -> str:
    """Source of a zero-argument callable making the Keras layer for ``torch_class(*args)``.

    Used where torch code passes a layer class (or a ``functools.partial`` of one) as a value
    and constructs it later: a bare Keras class when the translation is ``Class()``, else a
    lambda. Raises TypeError or Unsupported when the layer needs other arguments.
    """
    source = rule().keras(*args, **kwargs)
    head = source[:-2]
    if "inplace" in inspect.signature(rule.keras).parameters:
        # torch's inplace=True saves memory only; code constructing the class may pass it
        return f"(lambda inplace=False: {source})"
    if source.endswith("()") and "(" not in head:
        return head
    return f"(lambda: {source})"


def constructor(rule: type[LayerRule]) -> tuple[str, str] | None:
    """(parameters, Keras source) of a function taking the torch constructor's arguments and
    making the Keras layer, for a layer class used as a value and constructed later. None when
    the rule needs an argument's value to translate. ``device``, ``dtype`` and parameters
    defaulting to None are not taken, so a call passing one fails loudly, not ignored; but one
    whose None the rule refuses (Softmax's implicit dim) is taken, required. (layer_factory's
    functions take ``device`` (placement only) and ``dtype``, raising unless it is None.)"""
    signature = list(inspect.signature(rule.keras).parameters.values())[1:]
    signature = [
        p.replace(default=p.empty) if _refuses_none(rule, signature, p) else p for p in signature
    ]
    optional = [p.name for p in signature if p.default not in (p.empty, None)]
    fixed: set[str] = set()
    made = _constructor(rule, signature, fixed)
    for name in optional:  # options the rule needs literal stay at torch's default, not taken
        if made is not None:
            break
        fixed.add(name)
        made = _constructor(rule, signature, fixed)
    for name in sorted(fixed) if made is not None else ():  # take back what it can after all
        again = _constructor(rule, signature, fixed - {name})
        if again is not None:
            fixed.discard(name)
            made = again
    return made


def _refuses_none(rule: type[LayerRule], signature: list, param: inspect.Parameter) -> bool:
    """Whether the rule refuses ``param`` at its None default but takes it given at run time."""
    if param.default is not None or param.name in ("device", "dtype"):
        return False
    required = {p.name: Arg(p.name) for p in signature if p.default is p.empty}
    try:
        rule().keras(**required)
    except Unsupported:
        pass
    except TypeError:
        return False
    else:
        return False
    try:
        rule().keras(**required, **{param.name: Arg(param.name)})
    except (TypeError, Unsupported):
        return False
    return True


def _constructor(rule: type[LayerRule], signature: list, fixed: set[str]) -> tuple[str, str] | None:
    """constructor() taking every parameter but ``fixed`` (left at its default)."""
    params: list[str] = []
    arguments: dict[str, Any] = {}
    keyword_only = False
    for p in signature:
        if p.kind is p.VAR_POSITIONAL:
            params.append(f"*{p.name}")
            keyword_only = True
            continue
        if p.kind is p.VAR_KEYWORD:
            params.append(f"**{p.name}")
            continue
        if p.name in ("device", "dtype") or p.default is None:
            continue  # optional overrides (Hardtanh's min_value) stay at their None default
        if p.name in fixed:
            arguments[p.name] = p.default
            continue
        if p.kind is p.KEYWORD_ONLY and not keyword_only:
            params.append("*")
            keyword_only = True
        params.append(p.name if p.default is p.empty else f"{p.name}={p.default!r}")
        arguments[p.name] = Arg(p.name)
    try:
        source = rule().keras(**arguments)
    except (TypeError, Unsupported):
        return None
    try:
        on_map = rule(channels_last=True).keras(**arguments)
    except (TypeError, Unsupported):
        # Refused on a feature map: so is this value there, a layer the tensor facts do not know.
        on_map = source
    if source != on_map:  # the layout of its input decides, which a value does not know
        if rule.flat_value is None or not source.startswith(rule.flat_value[0] + "("):
            return None
        source = rule.flat_value[1] + source.removeprefix(rule.flat_value[0])  # 2-D only
    return ", ".join(params), source


def layer_factory(rule: type[LayerRule], name: str) -> str | None:
    """Source of ``def name(<torch's parameters>)`` returning the Keras layer; see constructor."""
    made = constructor(rule)
    if made is None:
        return None
    params, source = made
    short = rule.torch.removeprefix("torch.")
    # torch's device= (placement: the same values, as where the layer is built directly) and
    # dtype= (timm passes **dd): taken, dtype refused unless None
    names = inspect.signature(rule.keras).parameters
    overrides = [n for n in ("device", "dtype") if n in names and "**" not in params]
    check = ""
    if overrides:
        params += "".join(f", {n}=None" for n in overrides)
    if "dtype" in overrides:
        message = f"{short}(dtype=...) other than None is not translated"
        check = f"    if dtype is not None:\n        raise ValueError({message!r})\n"
    return (  # registered, so a model given it as an argument saves it by name
        '@tf.keras.utils.register_keras_serializable(package="torch2tf")\n'
        f"def {name}({params}):\n"
        f'    """{short} used as a value: its constructor arguments -> the Keras layer."""\n'
        f"{check}"
        f"    return {source}\n"
    )


LAYERS: dict[str, type[LayerRule]] = {}


def layer(cls: type[LayerRule]) -> type[LayerRule]:
    """Class decorator registering a layer rule under its torch name."""
    LAYERS[cls.torch] = cls
    return cls


def bind(
    func: Callable[..., Any], args: list[Arg], kwargs: dict[str, Arg]
) -> inspect.BoundArguments:
    """Bind source arguments to a rule's torch signature (TypeError names a bad argument)."""
    bound = inspect.signature(func).bind(*args, **kwargs)
    bound.apply_defaults()
    return bound


FUNCTIONS: dict[str, Callable[..., str]] = {}
"""Qualified torch function name -> a function with its signature returning TensorFlow source."""

INITIALIZERS: dict[str, Callable[..., str]] = {}
"""Qualified ``torch.nn.init`` name -> a function with its signature returning an initializer."""


METHODS: dict[str, Callable[..., str]] = {}
"""Tensor method name (``view``) -> a function taking the tensor's source first, then the
method's own arguments, returning TensorFlow source."""


def examples_of(rule: object) -> tuple[Example, ...]:
    """A rule's examples: a layer rule's ``examples`` (its own, not a base class's), a function
    rule's ``examples=``."""
    if isinstance(rule, type):
        return vars(rule).get("examples", ())
    return getattr(rule, "examples", ())


def method(
    *names: str, examples: tuple[Example, ...] = ()
) -> Callable[[Callable[..., str]], Callable[..., str]]:
    """Decorator registering a torch.Tensor method rule under one or more method names."""

    def register(func: Callable[..., str]) -> Callable[..., str]:
        func.examples = (*getattr(func, "examples", ()), *examples)  # type: ignore[attr-defined]
        for name in names:
            METHODS[name] = func
        return func

    return register


def function(
    *names: str, examples: tuple[Example, ...] = ()
) -> Callable[[Callable[..., str]], Callable[..., str]]:
    """Decorator registering a torch function rule under one or more qualified names."""

    def register(func: Callable[..., str]) -> Callable[..., str]:
        func.examples = (*getattr(func, "examples", ()), *examples)  # type: ignore[attr-defined]
        for name in names:
            FUNCTIONS[name] = func
        return func

    return register


def initializer(
    *names: str, examples: tuple[Example, ...] = ()
) -> Callable[[Callable[..., str]], Callable[..., str]]:
    """Decorator registering a ``torch.nn.init`` rule under one or more qualified names."""

    def register(func: Callable[..., str]) -> Callable[..., str]:
        func.examples = (*getattr(func, "examples", ()), *examples)  # type: ignore[attr-defined]
        for name in names:
            INITIALIZERS[name] = func
        return func

    return register


def function_value(name: str) -> str | None:
    """``(lambda x: <TensorFlow source>)`` for a torch function used as a value
    (``activation=F.gelu``), for calls with one tensor: another argument fails loudly, never
    silently differs. None when one tensor does not translate the call on its own."""
    rule = FUNCTIONS[name]
    try:
        bound = bind(rule, [Arg("x")], {})
        body = rule(*bound.args, **bound.kwargs)
        names = {n.id for n in ast.walk(ast.parse(body, mode="eval")) if isinstance(n, ast.Name)}
    except (TypeError, Unsupported, SyntaxError):
        return None
    return f"(lambda x: {body})" if names <= {"x", "tf", "math"} else None
