"""Diagnostics at file:line:col, with the positions (and parents) of the input's nodes computed
only when first needed."""

from __future__ import annotations

from collections.abc import Mapping

import libcst as cst
from libcst.metadata import MetadataWrapper, ParentNodeProvider, PositionProvider

from torch2tf.errors import Diagnostic


class LazyMetadata(Mapping):
    """One kind of metadata of the input's nodes, computed on first use. Positions are only
    needed for diagnostics, parents only by some passes; each costs about as much as the
    rest of an error-free translation."""

    def __init__(self, wrapper: MetadataWrapper, provider: type) -> None:
        self._wrapper = wrapper
        self._provider = provider
        self._values: Mapping | None = None

    def _resolved(self) -> Mapping:
        if self._values is None:
            self._values = self._wrapper.resolve(self._provider)
        return self._values

    def __getitem__(self, node: cst.CSTNode):
        return self._resolved()[node]

    def __iter__(self):
        return iter(self._resolved())

    def __len__(self) -> int:
        return len(self._resolved())


class Reporter:
    """Collects the problems of one file, in the order the passes find them."""

    def __init__(self, wrapper: MetadataWrapper, path: str) -> None:
        self.path = path
        self.positions = LazyMetadata(wrapper, PositionProvider)
        self.parents = LazyMetadata(wrapper, ParentNodeProvider)
        self.diagnostics: list[Diagnostic] = []

    def error(self, node: cst.CSTNode, message: str, hint: str = "") -> None:
        start = self.positions[node].start
        self.diagnostics.append(Diagnostic(self.path, start.line, start.column + 1, message, hint))
