"""The rewrite of one file: the parts of the translator, each in a module of its own under
:mod:`torch2tf.translation`, combined into the one LibCST transformer that visits the file."""

from __future__ import annotations

import libcst as cst

from torch2tf.translation.calls import CallRewrite
from torch2tf.translation.feature_checks import FeatureCheckRewrite
from torch2tf.translation.masked import MaskedAssignRewrite
from torch2tf.translation.references import ReferenceRewrite
from torch2tf.translation.structure import StructureRewrite
from torch2tf.translation.stubs import StubRecording
from torch2tf.translation.weights import WeightRewrite


class Translator(
    StubRecording,
    StructureRewrite,
    ReferenceRewrite,
    FeatureCheckRewrite,
    CallRewrite,
    MaskedAssignRewrite,
    WeightRewrite,
):
    """The rewrite of one file: one LibCST visit, each part of which lives in its own module."""

    # Whitespace and comments are nearly half the nodes of a file and no part rewrites them:
    # passed over without the dispatch (and the copy LibCST makes of each node it visits).
    def on_visit(self, node: cst.CSTNode) -> bool:
        if type(node) in _LAYOUT_NODES:
            return False
        return super().on_visit(node)

    def on_leave(self, original: cst.CSTNode, updated: cst.CSTNode):
        if type(original) in _LAYOUT_NODES:
            return updated
        return super().on_leave(original, updated)


_LAYOUT_NODES = frozenset(
    {
        cst.SimpleWhitespace,
        cst.ParenthesizedWhitespace,
        cst.TrailingWhitespace,
        cst.Newline,
        cst.EmptyLine,
        cst.Comment,
    }
)
