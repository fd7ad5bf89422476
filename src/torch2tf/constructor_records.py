"""``torch2tf.recording()``: remember the arguments every ``nn.Module`` is constructed with,
so a model a factory built (``resnet50()``) converts without restating them.

While recording, the ``__init__`` of every ``nn.Module`` class (those defined inside too) is
wrapped; the wrapper of the constructor that ``cls(...)`` runs records its arguments. Patching
``nn.Module.__new__`` instead would see them too, but CPython cannot undo that exactly (the
classes keep a Python-level ``__new__`` slot that then rejects arguments), and ``__new__`` also
runs for copies and unpickling, where no constructor runs.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import threading
import weakref
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from torch2tf.errors import ConversionError


@dataclass(frozen=True)
class Arguments:
    """The positional and keyword arguments one module was constructed with."""

    args: tuple[Any, ...] = ()
    kwargs: Mapping[str, Any] = field(default_factory=dict)


class _Records:
    """Arguments by module, dropped with the module. Keyed by ``id`` with a weak reference
    beside it, so modules that define ``__eq__`` without ``__hash__`` are recorded too."""

    def __init__(self) -> None:
        self._items: dict[int, tuple[weakref.ref, Arguments]] = {}

    def put(self, module: Any, arguments: Arguments) -> None:
        key = id(module)
        self._items[key] = (weakref.ref(module, lambda _: self._items.pop(key, None)), arguments)

    def get(self, module: Any) -> Arguments | None:
        ref, arguments = self._items.get(id(module), (None, None))
        return arguments if ref is not None and ref() is module else None


_records = _Records()
_lock = threading.Lock()
_depth = 0
_wrapped: dict[type, Callable[..., None]] = {}  # class -> its own __init__, while recording
_saved_hook: list[Any] = [None]  # nn.Module's own __init_subclass__, if it had one


def recorded_arguments(module: Any) -> Arguments | None:
    """The arguments ``module`` was constructed with inside :func:`recording`, if it was."""
    return _records.get(module)


def _constructor_owner(cls: type) -> type | None:
    """The class whose ``__init__`` ``cls(...)`` runs."""
    return next((c for c in cls.__mro__ if "__init__" in vars(c)), None)


def _snapshot(value: Any) -> Any:
    """``value`` with its dicts, lists and tuples copied (their other items kept): the
    arguments as passed, which the constructor may change (timm's ``ba.pop('block_type')``
    on its block arguments)."""
    if type(value) is dict:
        return {k: _snapshot(v) for k, v in value.items()}
    if type(value) in (list, tuple):
        return type(value)(_snapshot(v) for v in value)
    return value


def _wrap(cls: type) -> None:
    init = vars(cls).get("__init__")
    if cls in _wrapped or not inspect.isfunction(init):
        return

    @functools.wraps(init)
    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        # Only the constructor ``type(self)(...)`` runs sees the caller's arguments; the
        # ``super().__init__(...)`` calls it makes pass others.
        if _constructor_owner(type(self)) is cls and _records.get(self) is None:
            _records.put(self, Arguments(_snapshot(tuple(args)), _snapshot(dict(kwargs))))
        init(self, *args, **kwargs)

    _wrapped[cls] = init
    cls.__init__ = __init__


def _subclasses(cls: type) -> Iterator[type]:
    yield cls
    for sub in cls.__subclasses__():
        yield from _subclasses(sub)


def _install() -> None:
    import torch

    module = torch.nn.Module
    for cls in set(_subclasses(module)):
        _wrap(cls)
    own = vars(module).get("__init_subclass__")  # None: nn.Module defines none (torch 2.13)
    _saved_hook[:] = [own]

    def __init_subclass__(cls: type, **kwargs: Any) -> None:  # classes defined while recording
        if own is not None:
            own.__get__(None, cls)(**kwargs)
        else:
            super(module, cls).__init_subclass__(**kwargs)
        _wrap(cls)

    module.__init_subclass__ = classmethod(__init_subclass__)


def _uninstall() -> None:
    import torch

    (own,) = _saved_hook
    if own is None:
        del torch.nn.Module.__init_subclass__
    else:
        torch.nn.Module.__init_subclass__ = own
    for cls, init in _wrapped.items():
        cls.__init__ = init
    _wrapped.clear()


@contextlib.contextmanager
def recording() -> Iterator[None]:
    """Record the constructor arguments of every ``torch.nn.Module`` made inside.

    ``torch2tf.convert(model)`` then builds the Keras twin with the arguments ``model`` was
    constructed with, so a model built by a factory converts as it is::

        with torch2tf.recording():
            model = resnet50()
        result = torch2tf.convert(model)

    The records live as long as the modules do. The ``nn.Module`` classes are patched only
    while the outermost ``recording()`` is open and restored exactly on exit, exceptions
    included. Copies (``copy.deepcopy``) and unpickled modules run no constructor and have
    no record.
    """
    global _depth
    with _lock:
        if _depth == 0:
            _install()
        _depth += 1
    try:
        yield
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0:
                _uninstall()


def constructor_arguments(
    model: Any, args: Sequence[Any] | None, kwargs: Mapping[str, Any] | None
) -> tuple[list[Any], dict[str, Any]]:
    """The arguments to build ``model``'s Keras twin with: the explicit ones when given, else
    those recorded by :func:`recording`; checked against the class's constructor."""
    cls = type(model)
    recorded = recorded_arguments(model)
    if args is None and kwargs is None and recorded is not None:
        # a copy each time: a constructor run on them may change them (see _snapshot)
        args, kwargs = _snapshot(recorded.args), _snapshot(recorded.kwargs)
    args, kwargs = list(args or ()), dict(kwargs or {})
    try:
        signature = inspect.signature(cls)
    except (TypeError, ValueError):  # no signature to check against: Keras will tell
        return args, kwargs
    try:
        signature.bind(*args, **kwargs)
    except TypeError as err:
        if args or kwargs or recorded is not None:
            raise ConversionError(
                f"{cls.__name__}{signature}: cannot be constructed with args={args!r}, "
                f"kwargs={kwargs!r}: {err}"
            ) from None
        missing = [
            name
            for name, p in signature.parameters.items()
            if p.default is p.empty and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
        ]
        raise ConversionError(
            f"{cls.__name__} needs constructor arguments that torch2tf does not know: "
            f"{', '.join(missing)} (its constructor is {cls.__name__}{signature}). Either pass "
            "the ones the model was built with, torch2tf.convert(model, args=[...], "
            "kwargs={...}), or build the model inside `with torch2tf.recording():`, which "
            "records them, and convert it as it is"
        ) from None
    return args, kwargs


def known_arguments(model: Any, args: Any, kwargs: Any) -> tuple[list, dict] | None:
    """:func:`constructor_arguments`, or None where they are not known."""
    try:
        return constructor_arguments(model, args, kwargs)
    except ConversionError:
        return None
