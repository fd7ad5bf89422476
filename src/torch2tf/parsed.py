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


def _field_names(cls: type) -> tuple[str, ...]:
    names = _CHILD_FIELDS.get(cls)
    if names is None:
        names = _CHILD_FIELDS[cls] = tuple(f.name for f in dataclasses.fields(cls))
    return names


def descendants(node: cst.CSTNode) -> Iterator[cst.CSTNode]:
    """``node`` and every node below it, in source order (each before its children): a plain
    walk of the node fields, several times cheaper than a LibCST visitor where only finding
    nodes matters."""
    stack = [node]
    while stack:
        current = stack.pop()
        yield current
        children: list[cst.CSTNode] = []
        for name in _field_names(type(current)):
            value = getattr(current, name)
            if isinstance(value, cst.CSTNode):
                children.append(value)
            elif isinstance(value, (list, tuple)):
                children.extend(v for v in value if isinstance(v, cst.CSTNode))
        stack.extend(reversed(children))


def code_reusing(old: cst.Module, old_code: str, new: cst.Module) -> str:
    """``new.code``, where ``new`` is ``old`` with some statements at its top changed, added or
    removed and ``old_code`` is ``old.code``: the statements the two share (the same objects)
    at the end are copied from ``old_code`` instead of being generated again (a large file's
    codegen is a large share of translating it)."""
    shared = 0
    for before, after in zip(reversed(old.body), reversed(new.body), strict=False):
        if before is not after:
            break
        shared += 1
    same_frame = (
        new.footer is old.footer
        and new.has_trailing_newline == old.has_trailing_newline
        and (new.default_newline, new.default_indent) == (old.default_newline, old.default_indent)
    )
    if not shared or not same_frame:
        return new.code
    head_old = _head_code(old, len(old.body) - shared)
    if not old_code.startswith(head_old):
        return new.code
    return _head_code(new, len(new.body) - shared) + old_code[len(head_old) :]


def _head_code(module: cst.Module, statements: int) -> str:
    return "".join(module.code_for_node(n) for n in [*module.header, *module.body[:statements]])


def identity_if_unchanged(original: cst.CSTNode, updated: cst.CSTNode) -> cst.CSTNode:
    """``original`` when ``updated`` (LibCST's copy after visiting the children) holds the very
    same children, else ``updated``: a transformer keeping the nodes it did not change lets
    :func:`code_reusing` skip them."""
    for name in _field_names(type(original)):
        before, after = getattr(original, name), getattr(updated, name)
        if before is after:
            continue
        if not (
            isinstance(before, (list, tuple))
            and isinstance(after, (list, tuple))
            and len(before) == len(after)
            and all(b is a for b, a in zip(before, after, strict=True))
        ):
            return updated
    return original
