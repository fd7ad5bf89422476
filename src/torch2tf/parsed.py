"""A parsed file with the position and parent of each node, shared by the passes."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Mapping
from typing import Any, NamedTuple

import libcst as cst
from libcst.metadata import MetadataWrapper, ParentNodeProvider, PositionProvider


class ParsedSource(NamedTuple):
    """A parsed file with the position and parent of each node."""

    module: cst.Module
    positions: Mapping[cst.CSTNode, Any]
    parents: Mapping[cst.CSTNode, cst.CSTNode]

    @classmethod
    def of(cls, module: cst.Module) -> ParsedSource:
        """Resolve positions and parents of ``module`` (which is used as is, not copied)."""
        wrapper = MetadataWrapper(module, unsafe_skip_copy=True)
        return cls(module, wrapper.resolve(PositionProvider), wrapper.resolve(ParentNodeProvider))


_CHILD_FIELDS: dict[type, tuple[str, ...]] = {}  # per node class: bounded by LibCST's classes


def descendants(node: cst.CSTNode) -> Iterator[cst.CSTNode]:
    """``node`` and every node below it, in source order (each before its children): a plain
    walk of the node fields, several times cheaper than a LibCST visitor where only finding
    nodes matters."""
    stack = [node]
    while stack:
        current = stack.pop()
        yield current
        cls = type(current)
        names = _CHILD_FIELDS.get(cls)
        if names is None:
            names = _CHILD_FIELDS[cls] = tuple(f.name for f in dataclasses.fields(cls))
        children: list[cst.CSTNode] = []
        for name in names:
            value = getattr(current, name)
            if isinstance(value, cst.CSTNode):
                children.append(value)
            elif isinstance(value, (list, tuple)):
                children.extend(v for v in value if isinstance(v, cst.CSTNode))
        stack.extend(reversed(children))
