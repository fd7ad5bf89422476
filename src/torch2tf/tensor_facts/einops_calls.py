"""einops on feature maps: which side of a pattern is channels-last (rules/einops_forms.py
moves that side's channel axis last)."""

from __future__ import annotations

import ast
import re

from torch2tf.tensor_facts.records import (
    MAP,
    PLAIN_FACT,
    UNKNOWN,
    UNKNOWN_FACT,
    ArgRewrite,
    Fact,
)
from torch2tf.tensor_facts.syntax import _argument, _literal, key_of

EINOPS_FUNCTIONS = frozenset(("einops.rearrange", "einops.repeat", "einops.reduce"))
EINOPS_LAYERS = frozenset(("einops.layers.torch.Rearrange", "einops.layers.torch.Reduce"))


def _map_rank(side: str) -> int | None:
    """The rank of one side of a pattern when it can be a feature map's (b c *spatial)."""
    groups = re.findall(r"\([^()]*\)|\.\.\.|[^\s()]+", side)
    return len(groups) if "..." not in groups and 3 <= len(groups) <= 5 else None


def _sides(pattern: ast.AST | None) -> tuple[str, str] | None:
    text = _literal(pattern)
    if not isinstance(text, str) or text.count("->") != 1:
        return None
    left, right = text.split("->")
    return left, right


class EinopsCalls:
    """Methods of the class pass (:mod:`torch2tf.tensor_facts.analysis`): einops functions and
    layers; a map in has its pattern's input side moved, a result feeding a map its output side."""

    def _einops(self, node: ast.Call, fact: Fact) -> Fact:
        if fact.kind == UNKNOWN:
            return UNKNOWN_FACT
        sides = _sides(_argument(node, "pattern", 1)[0])
        if fact.is_map and (fact.kind != MAP or sides is None):
            return self.error(
                node,
                "an einops call on a channels-last feature map is translated only with a "
                "literal pattern on the map itself",
                "write the pattern as a string literal, applied to the conv's output",
            )
        if fact.kind == MAP:
            self._rewrite(node, ArgRewrite(None, "_channels_last", ""), "True")
        rank = _map_rank(sides[1]) if sides is not None else None
        if rank is None:
            return PLAIN_FACT  # torch's order, as the pattern writes it
        # a result a conv takes (rearrange(x, 'b (h w) c -> b c h w')): its output side moved
        moved = ArgRewrite(None, "_map_output", "True")
        return self._origin(node, PLAIN_FACT, Fact(MAP, rank), [moved])

    def _einops_layer(self, node: ast.Call, call: ast.Call, fact: Fact) -> Fact:
        if fact.kind == UNKNOWN:
            return UNKNOWN_FACT
        if not fact.is_map:
            return PLAIN_FACT
        if fact.kind != MAP or _sides(_argument(call, "pattern", 0)[0]) is None:
            return self.error(
                node,
                "an einops layer on a channels-last feature map is translated only with a "
                "literal pattern",
                "write the pattern as a string literal",
            )
        self.out.channels_last_layers.add(key_of(call, self.analysis.lines))
        return PLAIN_FACT  # its output in torch's order, as the pattern writes it
