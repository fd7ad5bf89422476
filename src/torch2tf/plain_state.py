"""Python-side state of models (a cache's filled length, a step counter), kept out of the way
of the calls conversion makes that the torch model never had.

torch made its weights at construction; Keras makes them on the first call, which runs the
model's ``call``: a ``call`` keeping Python-side state would see that build call as a real one.
The weights it wrote are replaced by torch's at transfer, and the plain values it changed are
put back here. Verification likewise restores both models after each mode, plain values and
every torch buffer included (``state_dict`` leaves out the non-persistent ones).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any

import torch

from torch2tf.keras_api import KERAS_MODEL_ATTRIBUTES

_PLAIN = (bool, int, float, str, type(None))


def _plain_state(objects: Iterable[Any]) -> list[tuple[Any, str, Any]]:
    return [
        (obj, name, value)
        for obj in objects
        for name, value in vars(obj).items()
        if not name.startswith("_")
        and name != "training"
        and name not in KERAS_MODEL_ATTRIBUTES  # Keras's own (built, name, trainable, ...)
        and isinstance(value, _PLAIN)
    ]


def _restore(saved: list[tuple[Any, str, Any]]) -> None:
    for obj, name, value in saved:
        if getattr(obj, name, value) is not value:
            setattr(obj, name, value)


def _keras_layers(model: Any) -> list[Any]:
    return list(model._flatten_layers(include_self=True, recursive=True))


def _user_state(torch_model: torch.nn.Module) -> dict[str, set[str]]:
    """The plain attribute names of the user's module classes (not torch's), by class name."""
    names: dict[str, set[str]] = {}
    for module in torch_model.modules():
        if not type(module).__module__.startswith("torch."):
            found = {name for _, name, _ in _plain_state([module])}
            names.setdefault(type(module).__name__, set()).update(found)
    return names


def _twin_state(torch_model: torch.nn.Module, keras_model: Any) -> list[tuple[Any, str, Any]]:
    """Plain attributes of the Keras twins of the user's classes that torch's have too (not
    Keras's own layers' or helpers', whose build sets theirs)."""
    names = _user_state(torch_model)
    return [
        (layer, name, value)
        for layer, name, value in _plain_state(_keras_layers(keras_model))
        if name in names.get(type(layer).__name__, ())
    ]


def build_by_calling(
    torch_model: torch.nn.Module,
    model: Any,
    call: Callable[[bool], Any],
) -> None:
    """Run ``call(False)`` (the model's first call, in inference mode), and ``call(True)``
    too when that left layers unbuilt (layers only train mode runs, as Inception3's aux
    head); then restore the plain attributes (bools, numbers, strings, None) they changed on
    the twins of the user's classes. The train call's updates of moving statistics are
    replaced by torch's buffers at weight transfer."""
    saved = _twin_state(torch_model, model)
    call(False)
    if not all(layer.built for layer in _keras_layers(model)):
        call(True)
    _restore(saved)


@contextmanager
def plain_state_kept(torch_model: torch.nn.Module, keras_model: Any) -> Iterator[None]:
    """Both models' plain attributes and torch's buffers as they were, afterwards."""
    saved = _plain_state(torch_model.modules()) + _twin_state(torch_model, keras_model)
    buffers = [(b, b.detach().clone()) for b in torch_model.buffers()]
    try:
        yield
    finally:
        _restore(saved)
        with torch.no_grad():
            for buffer, value in buffers:
                buffer.copy_(value)
