"""Dims moved to the channels-last axes: softmax, reductions, flatten, size, permute/transpose,
view, chunk/split.
"""

from __future__ import annotations

import ast
import math
from dataclasses import replace

from torch2tf.tensor_facts.records import (
    FLAT,
    MAP,
    MAPS,
    PLAIN,
    PLAIN_FACT,
    SCALAR_FACT,
    UNKNOWN,
    UNKNOWN_FACT,
    ArgRewrite,
    Fact,
)
from torch2tf.tensor_facts.syntax import _argument, _literal


class Axes:
    """Methods of the class pass (:mod:`torch2tf.tensor_facts.analysis`): calls whose dim
    arguments are rewritten to the Keras axes, and the fact they give."""

    def _softmax(self, node: ast.Call, param: tuple[str, int], fact: Fact) -> Fact:
        value, where = _argument(node, *param)
        axis = self._moved(_literal(value), fact.rank)
        if axis is None:
            return self.error(node, "softmax over a feature map needs a literal dim")
        self._rewrite(node, where, repr(axis))
        return fact

    def _reduce(self, node: ast.Call, param: tuple[str, int], fact: Fact) -> Fact:
        value, where = _argument(node, *param)
        dims = _literal(value, "unknown")
        keepdim = _literal(_argument(node, "keepdim", param[1] + 1)[0], False)
        if value is None:
            return SCALAR_FACT  # a reduction to a 0-d tensor: it broadcasts in any layout
        many = isinstance(dims, (tuple, list))
        axes = [self._moved(d, fact.rank) for d in (dims if many else [dims])]
        if None in axes or not isinstance(keepdim, bool):
            return self.error(node, "a reduction over a feature map needs literal dims and keepdim")
        self._rewrite(node, where, repr(type(dims)(axes) if many else axes[0]))
        torch_dims = {d % fact.rank for d in (dims if many else [dims])}
        if keepdim:
            spatial = set(range(2, fact.rank))
            return replace(fact, spatial=(1,) * len(spatial)) if torch_dims == spatial else fact
        rank = fact.rank - len(torch_dims)
        if 1 in torch_dims or rank <= 2:
            return PLAIN_FACT  # no channel axis left, or (N, C): the same in both
        return Fact(MAP, rank, fact.channels, fact.channels_from)

    def _flatten(self, node: ast.Call, fact: Fact, index: int) -> Fact:
        start = _literal(_argument(node, "start_dim", index)[0], 0)
        end = _literal(_argument(node, "end_dim", index + 1)[0], -1)
        if start == 1 and end in (-1, fact.rank - 1):
            return self._flattened(fact)
        if start == 2 and end in (-1, fact.rank - 1) and fact.rank >= 4:
            # (N, C, H*W...): Keras merges its spatial axes 1.. -2 and keeps C last
            self._rewrite(node, _argument(node, "start_dim", index)[1], "1")
            self._rewrite(node, _argument(node, "end_dim", index + 1)[1], "-2")
            spatial = fact.spatial
            merged = None if spatial is None else (math.prod(spatial),)
            return replace(fact, rank=3, spatial=merged)
        return self.error(
            node,
            "only flatten(x, 1) and flatten(x, 2) of a feature map are translated yet",
            "flatten from dim 1 or 2 to the end",
        )

    def _size(self, node: ast.Call, fact: Fact) -> Fact:
        value, where = _argument(node, "dim", 0)
        if value is None:  # all sizes, in torch's order (N, C, *spatial)
            self._rewrite(node, ArgRewrite(None, "_channels_last", ""), "True")
            return PLAIN_FACT
        axis = self._moved(_literal(value), fact.rank)
        if axis is None:
            return self.error(
                node, "x.size() of a feature map needs a literal dim (its axes are reordered)"
            )
        if axis != _literal(value):
            self._rewrite(node, where, repr(axis))
        return SCALAR_FACT

    @staticmethod
    def _flattened(fact: Fact) -> Fact:
        """torch's flatten from dim 1 of a map: (C, *S) order, unless every size in S is 1."""
        if fact.spatial is not None and set(fact.spatial) == {1}:
            return PLAIN_FACT
        return Fact(FLAT, 2, fact.channels, fact.channels_from, fact.spatial)

    def _is_batch_flatten(self, node: ast.Call) -> bool:
        """``x.view(x.size(0), -1)`` / ``x.reshape(x.shape[0], -1)``."""
        receiver = ast.dump(node.func.value)
        if len(node.args) != 2 or node.keywords or _literal(node.args[1]) != -1:
            return False
        batch = node.args[0]
        if isinstance(batch, ast.Call) and isinstance(batch.func, ast.Attribute):
            return (
                batch.func.attr == "size"
                and ast.dump(batch.func.value) == receiver
                and [_literal(a) for a in batch.args] == [0]
            )
        if isinstance(batch, ast.Subscript) and isinstance(batch.value, ast.Attribute):
            return (
                batch.value.attr == "shape"
                and ast.dump(batch.value.value) == receiver
                and _literal(batch.slice) == 0
            )
        return False

    def _dims(self, node: ast.Call, name: str, offset: int, rank: int | None):
        """(torch's full permutation, where the dims are written) of a permute/transpose call;
        None when not literal."""
        args = node.args[offset:]
        if name == "permute":
            if node.keywords or not args:
                return None
            many = len(args) == 1 and isinstance(args[0], (ast.Tuple, ast.List))
            dims = _literal(args[0]) if many else [_literal(a) for a in args]
            if not isinstance(dims, (tuple, list)) or not all(isinstance(d, int) for d in dims):
                return None
            rank = len(dims)
            if not all(-rank <= d < rank for d in dims):
                return None
            return [d % rank for d in dims], ("one", type(dims)) if many else ("each", None)
        if node.keywords or len(args) != 2:
            return None
        pair = [_literal(a) for a in args]
        rank = rank or 3  # an unknown plain rank: what a Conv1d needs, which checks it
        if not all(isinstance(d, int) and -rank <= d < rank for d in pair):
            return None
        perm = list(range(rank))
        a, b = (d % rank for d in pair)
        perm[a], perm[b] = perm[b], perm[a]
        return perm, ("pair", None)

    def _written(self, node: ast.Call, offset: int, form, keras: list[int]) -> list[ArgRewrite]:
        """ArgRewrites writing the Keras permutation ``keras`` in the call's own form."""
        how, kind = form
        if how == "one":
            return [ArgRewrite(offset, None, repr(kind(keras)))]
        if how == "each":
            return [ArgRewrite(offset + i, None, repr(d)) for i, d in enumerate(keras)]
        moved = [i for i, d in enumerate(keras) if d != i]
        if not moved:
            pair = [1, 1]  # transpose(d, d) is the identity in torch too
        elif len(moved) == 2 and keras[moved[0]] == moved[1]:
            pair = moved
        else:
            return []
        return [ArgRewrite(offset + i, None, repr(d)) for i, d in enumerate(pair)]

    def _permute(self, node: ast.Call, name: str, fact: Fact, offset: int) -> Fact:
        """permute/transpose: of a map into torch's channels-last (N, *S, C) it is Keras's
        tensor as is (a plain tensor); back, a plain tensor can be the map again."""
        name = "transpose" if name == "swapaxes" else name
        found = self._dims(node, name, offset, fact.rank)
        if fact.kind == UNKNOWN:
            return UNKNOWN_FACT
        if found is None:
            if fact.kind == PLAIN:
                return PLAIN_FACT
            return self.error(node, f"{name} of a feature map needs literal dims")
        perm, form = found
        rank = len(perm)
        if fact.kind == PLAIN:
            if fact.rank not in (None, rank) or rank < 3:
                return PLAIN_FACT
            # as a map, Keras axis j holds torch's output dim order[j]
            order = [0, *range(2, rank), 1]
            rewrites = self._written(node, offset, form, [perm[t] for t in order])
            if not rewrites:
                return PLAIN_FACT
            as_map = Fact(MAP, rank, fact.channels, fact.channels_from)
            return self._origin(node, PLAIN_FACT, as_map, rewrites)
        if fact.kind != MAP or fact.rank != rank:
            return self.error(node, f"{name} of a feature map of another rank than its dims")
        if perm[1] == 1:  # channels stay: a map with its spatial axes reordered
            keras = [0, *(self._moved(perm[t], rank) for t in range(2, rank)), rank - 1]
            spatial = fact.spatial
            if spatial is not None:
                spatial = tuple(spatial[perm[t] - 2] for t in range(2, rank))
            result = replace(fact, spatial=spatial)
        else:  # a plain tensor in torch's order
            keras = [self._moved(p, rank) for p in perm]
            result = Fact(PLAIN, rank, fact.channels, fact.channels_from)
        rewrites = self._written(node, offset, form, keras)
        if not rewrites:
            return self.error(
                node,
                f"this {name} of a feature map is not one swap in Keras's layout",
                "write it as x.permute(...)",
            )
        for where in rewrites:
            self._rewrite(node, where, where.source)
        return result

    def _view_as_map(self, node: ast.Call) -> Fact:
        """``s.view(b, c, 1, 1)`` of a plain tensor: the map (b, 1, 1, c) in Keras."""
        args = node.args
        if node.keywords or len(args) < 3 or any(isinstance(a, ast.Starred) for a in args):
            return PLAIN_FACT
        if any(_literal(a) != 1 for a in args[2:]):
            return PLAIN_FACT
        channels = args[1]
        if isinstance(channels, ast.Name):
            text = channels.id
        elif isinstance(_literal(channels), int):
            text = repr(_literal(channels))
        else:
            return PLAIN_FACT  # its source as written may not be TensorFlow's
        count = _literal(channels)
        rank = len(args)
        as_map = Fact(MAP, rank, count if isinstance(count, int) else None, None, (1,) * (rank - 2))
        rewrites = [ArgRewrite(1, None, "1"), ArgRewrite(rank - 1, None, text)]
        return self._origin(node, PLAIN_FACT, as_map, rewrites)

    def _pieces(self, node: ast.Call, fact: Fact, index: int) -> Fact:
        """chunk/split of a map along a literal dim: its pieces, maps of the same rank."""
        value, where = _argument(node, "dim", index)
        dim = 0 if value is None else _literal(value)
        axis = self._moved(dim, fact.rank)
        if axis is None:
            return self.error(node, "chunk/split of a feature map needs a literal dim")
        if axis != dim:
            self._rewrite(node, where, repr(axis))
        if axis == fact.rank - 1:
            return replace(fact, kind=MAPS, channels=None, channels_from=None)
        return replace(fact, kind=MAPS, spatial=None)
