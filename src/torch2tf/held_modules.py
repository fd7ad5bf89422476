"""torch modules a model holds in plain Python lists and tuples (``self.stacks = [[block]]``).

torch registers only modules assigned as attributes or put in its containers; one kept in a
plain list is not among ``named_modules()`` (its parameters reach the model, if at all, through
an ``nn.ParameterList`` of them, as N-BEATS does). The Keras twin holds the same list, which Keras
tracks, so its weights sit at ``stacks[0][0].fc1``: weights move by these paths too.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import torch

PARAMETER_CONTAINERS = (torch.nn.ParameterList, torch.nn.ParameterDict)


def _held(value: Any, path: str) -> Iterator[tuple[str, torch.nn.Module]]:
    if isinstance(value, torch.nn.Module):
        yield path, value
    elif isinstance(value, (list, tuple)):
        for index, item in enumerate(value):
            yield from _held(item, f"{path}.{index}")


def all_named_modules(model: torch.nn.Module) -> list[tuple[str, torch.nn.Module]]:
    """``named_modules()``, then the modules held in plain lists of public attributes (and
    theirs), each once; parameter containers last, so the layers owning their tensors come
    first (a ParameterList of other modules' parameters adds nothing of its own)."""
    found = list(model.named_modules())
    seen = {id(m) for _, m in found}
    index = 0
    while index < len(found):
        path, module = found[index]
        index += 1
        for name, value in vars(module).items():
            if name.startswith("_") or not isinstance(value, (list, tuple)):
                continue
            for held_path, held in _held(value, f"{path}.{name}" if path else name):
                if id(held) in seen:
                    continue
                for inner, sub in held.named_modules():
                    if id(sub) not in seen:
                        seen.add(id(sub))
                        found.append((f"{held_path}.{inner}" if inner else held_path, sub))
    plain = [(p, m) for p, m in found if not isinstance(m, PARAMETER_CONTAINERS)]
    return plain + [(p, m) for p, m in found if isinstance(m, PARAMETER_CONTAINERS)]
