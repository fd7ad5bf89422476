"""What the tensor facts know an attribute of ``__init__`` holds: a torch layer, a module of a
project class, a Sequential of those, or each branch's layer."""

from __future__ import annotations

import ast
from dataclasses import dataclass, field


@dataclass
class _Layer:
    """A layer (``qualified``, built by ``call``) or, for ``qualified == MODULE``, an instance
    of one of ``classes`` (project classes of the file)."""

    qualified: str
    call: ast.AST  # the constructor call; for a module passed in, the value assigned
    elements: list[_Layer | None] = field(default_factory=list)  # a Sequential's, in order
    classes: tuple[str, ...] = ()
    repeated: bool = False  # a Sequential of ``elements`` repeated a number of times
    keys: list[str] = field(default_factory=list)
    """A Sequential's element names where they are not indices (``OrderedDict`` keys,
    ``add_module`` names; ``*`` for a name computed at run time)."""

    def path_of(self, index: int) -> str:
        return self.keys[index] if index < len(self.keys) else str(index)

    def add(self, key: str, element: _Layer | None) -> None:
        """A layer appended under ``key`` (``add_module``, an attribute of a subclass)."""
        self.keys = [self.path_of(i) for i in range(len(self.elements))] + [key]
        self.elements.append(element)


MODULE = "module"
ALTERNATIVES = "alternatives"
"""An attribute assigned in each branch of an ``if`` of ``__init__`` (SqueezeNet's
``features`` per version): ``elements`` holds each branch's layer, applied alike."""
