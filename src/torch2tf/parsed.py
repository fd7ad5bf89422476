"""A parsed file with the position and parent of each node, shared by the passes."""

from __future__ import annotations

from collections.abc import Mapping
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
