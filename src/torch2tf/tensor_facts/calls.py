"""``torch.*``/``F.*`` functions and tensor methods on feature maps, and ``torch.cat``."""

from __future__ import annotations

import ast
from dataclasses import replace

from torch2tf.tensor_facts.einops_calls import EINOPS_FUNCTIONS
from torch2tf.tensor_facts.records import (
    FLAT,
    GROUPED,
    MAP,
    MAPS,
    PLAIN,
    PLAIN_FACT,
    SCALAR,
    SCALAR_FACT,
    UNKNOWN,
    UNKNOWN_FACT,
    ArgRewrite,
    Fact,
)
from torch2tf.tensor_facts.syntax import _argument, _dotted, _literal, key_of
from torch2tf.tensor_facts.tables import (
    _ELEMENTWISE_FUNCTIONS,
    _ELEMENTWISE_METHODS,
    _REDUCTIONS,
    _SOFTMAX,
    BATCH_NORM_RANKS,
    MAP_FUNCTIONS,
)

_ARITHMETIC = {f"torch.{n}" for n in "add sub subtract mul multiply div divide".split()}


class Calls:
    """Methods of the class pass (:mod:`torch2tf.tensor_facts.analysis`): which function or
    method a call on a map is, and the fact it gives."""

    def _function(self, node, qualified: str, args: list[Fact], keywords: dict) -> Fact:
        inputs = [*args, *keywords.values()]
        first = args[0] if args else keywords.get("input", PLAIN_FACT)
        if qualified in _ARITHMETIC and len(args) == 2 and set(keywords) <= {"alpha"}:
            return self._binary(node, *args)  # torch.add(x, y): as x + y
        if qualified in EINOPS_FUNCTIONS:
            return self._einops(node, args[0] if args else keywords.get("tensor", PLAIN_FACT))
        if qualified in MAP_FUNCTIONS:
            return self._map_function(node, qualified, first)
        if qualified == "torch.unsqueeze" and node.args:
            picked = self._unsqueezed_channel(node, node.args[0], 1)
            if picked is not None:
                return picked
        if not any(f.is_map for f in inputs):
            if qualified in ("torch.permute", "torch.transpose", "torch.swapaxes"):
                return self._permute(node, qualified.rpartition(".")[2], first, 1)
            if qualified in _ELEMENTWISE_FUNCTIONS and first.origin is not None:
                return first if all(f.kind == SCALAR for f in inputs[1:]) else PLAIN_FACT
            if qualified in _REDUCTIONS and len(node.args) == 1 and not node.keywords:
                return SCALAR_FACT
            return PLAIN_FACT
        if any(f.kind == UNKNOWN for f in inputs):
            return UNKNOWN_FACT
        if qualified in _ELEMENTWISE_FUNCTIONS:
            # F.*'s keywords are numbers and flags (p=self.p, training=self.training)
            given = args if qualified.startswith("torch.nn.functional.") else inputs
            if all(f == SCALAR_FACT or f == first for f in given[1:]):
                return first
        if qualified in _SOFTMAX and first.kind == MAP:
            return self._softmax(node, _SOFTMAX[qualified], first)
        if qualified in _REDUCTIONS and first.kind == MAP:
            return self._reduce(node, _REDUCTIONS[qualified], first)
        if qualified == "torch.flatten" and first.kind == MAP:
            return self._flatten(node, first, 1)
        if qualified in ("torch.transpose", "torch.swapaxes") and first.kind == GROUPED:
            return self._grouped(node, "transpose", first, 1)
        if qualified in ("torch.permute", "torch.transpose", "torch.swapaxes") and first.is_map:
            return self._permute(node, qualified.rpartition(".")[2], first, 1)
        if qualified in ("torch.chunk", "torch.split") and first.kind == MAP:
            return self._pieces(node, first, 2)
        return self.error(
            node,
            f"{qualified} on a channels-last feature map is not translated yet",
            "its axes would differ from torch's",
        )

    def _map_function(self, node: ast.Call, qualified: str, fact: Fact) -> Fact:
        """An F.* form of a map layer: marked for its rule, which refuses unmarked calls."""
        rank = MAP_FUNCTIONS[qualified]
        name = qualified.rpartition(".")[2]
        as_written = name in ("pad", "batch_norm")  # on a plain tensor too, in torch's axes
        if not as_written:
            fact = self._as_map(fact, rank)
        if fact.kind == UNKNOWN:
            return UNKNOWN_FACT
        if as_written and not fact.is_map:
            return PLAIN_FACT  # torch's own axes: the rule works on them as written
        if fact.kind != MAP or (rank is not None and fact.rank != rank):
            return self.error(
                node,
                f"F.{name} expects a channels-last feature map"
                + (f" of rank {rank}" if rank else "")
                + "; its input here is "
                + (f"a map of rank {fact.rank}" if fact.kind == MAP else "not one"),
                "feed it a conv's or pooling layer's output",
            )
        self._rewrite(node, ArgRewrite(None, "_channels_last", ""), "True")
        if name.startswith("adaptive"):
            size = _literal(_argument(node, "output_size", 1)[0])
            sizes = (size,) * (fact.rank - 2) if isinstance(size, int) else size
            if isinstance(sizes, (tuple, list)) and all(isinstance(n, int) for n in sizes):
                return replace(fact, spatial=tuple(sizes))
        if name.startswith(("dropout", "local_response", "batch_norm")):  # sizes kept
            return fact
        if name.startswith("conv"):  # channels: the weight's, unknown here
            return Fact(MAP, fact.rank)
        return replace(fact, spatial=None)

    def _method(self, node: ast.Call, name: str, receiver: Fact, args: list[Fact]) -> Fact:
        if name == "forward" and self._batch_norm_forward(node, args):
            return args[0]  # the base's forward: a BatchNorm on the map, its sizes kept
        if receiver.kind == MAPS and name in ("append", "extend", "insert"):
            if all(a.kind in (MAP, MAPS, SCALAR) and a.rank in (None, receiver.rank) for a in args):
                return PLAIN_FACT  # a list of maps, grown by maps of its rank
            return self.error(node, f"{name} of other tensors to a list of feature maps")
        ranks = {a.rank for a in args if a.kind == MAP}
        if len(ranks) == 1:  # s.view(b, c, 1, 1).expand_as(x)
            receiver = self._as_map(receiver, *ranks)
        if not (receiver.is_map or any(a.is_map for a in args)):
            if receiver.kind != PLAIN:
                return PLAIN_FACT
            if name in ("permute", "transpose", "swapaxes"):
                return self._permute(node, name, receiver, 0)
            if name in ("view", "reshape"):
                return self._view_as_map(node)
            if name == "unsqueeze":
                picked = self._unsqueezed_channel(node, node.func.value, 0)
                return picked or self._unsqueezed_as_map(node)
            if name in _ELEMENTWISE_METHODS and receiver.origin is not None:
                return receiver
            if f"Tensor.{name}" in _REDUCTIONS and not (node.args or node.keywords):
                return SCALAR_FACT  # a 0-d tensor broadcasts in any layout
            return PLAIN_FACT
        if receiver.kind == UNKNOWN or any(a.kind == UNKNOWN for a in args):
            return UNKNOWN_FACT
        if name in _ELEMENTWISE_METHODS and all(not a.is_map for a in args):
            return receiver
        if receiver.kind == GROUPED:
            return self._grouped(node, name, receiver, 0)
        key = f"Tensor.{name}"
        if receiver.kind == MAP and receiver.rank == 4 and name in ("view", "reshape"):
            if len(node.args) == 5:
                return self._grouped(node, name, receiver, 0)
        if receiver.kind == MAP:
            if key in _SOFTMAX:
                return self._softmax(node, _SOFTMAX[key], receiver)
            if key in _REDUCTIONS:
                return self._reduce(node, _REDUCTIONS[key], receiver)
            if name == "flatten":
                return self._flatten(node, receiver, 0)
            if name == "size":
                return self._size(node, receiver)
            if name in ("view", "reshape") and self._is_batch_flatten(node):
                return self._flattened(receiver)
            if name in ("view", "reshape") and receiver.spatial and set(receiver.spatial) == {1}:
                return PLAIN_FACT  # (N, C, 1, 1): the same order in both layouts
            if name in ("permute", "transpose", "swapaxes"):
                return self._permute(node, name, receiver, 0)
            if name in ("chunk", "split"):
                return self._pieces(node, receiver, 1)
            if name in ("expand_as", "type_as") and args and args[0].kind == MAP:
                if args[0].rank == receiver.rank:
                    return args[0] if name == "expand_as" else receiver
        if receiver.kind == FLAT and name == "size":
            dim, _ = _argument(node, "dim", 0)
            if _literal(dim) in (0, 1, -1):
                return SCALAR_FACT
        hint = "its axes would differ from torch's"
        if name in ("view", "reshape"):
            hint = "flatten a feature map with torch.flatten(x, 1) or x.view(x.size(0), -1)"
        return self.error(
            node, f"Tensor.{name}() on a channels-last feature map is not translated yet", hint
        )

    def _cat(self, node: ast.Call, env: dict[str, Fact]) -> Fact:
        tensors = node.args[0] if node.args else None
        if not isinstance(tensors, (ast.List, ast.Tuple)):
            listed = self.expr(tensors, env) if tensors is not None else PLAIN_FACT
            if listed.kind != MAPS:
                rest = [self.expr(a, env) for a in node.args[1:]]
                return self._function(node, "torch.cat", [listed, *rest], {})
            facts = [replace(listed, kind=MAP)]  # a list of maps built in steps
        else:
            facts = [self.expr(t, env) for t in tensors.elts]
        ranks = {f.rank for f in facts if f.kind == MAP}
        if len(ranks) == 1:
            facts = [self._as_map(f, *ranks) for f in facts]
        if not any(f.is_map for f in facts):
            return PLAIN_FACT
        if any(f.kind == UNKNOWN for f in facts):
            return UNKNOWN_FACT
        first = facts[0]
        value, where = _argument(node, "dim", 1)
        axis = self._moved(0 if value is None else _literal(value), first.rank or 0)
        if first.kind != MAP or any((f.kind, f.rank) != (MAP, first.rank) for f in facts):
            return self.error(node, "torch.cat of a feature map with other tensors")
        if axis is None and isinstance(value, (ast.Name, ast.Attribute)) and first.rank:
            # dim=self.dim: moved when it runs, whatever its value (a name, not an expression)
            self._rewrite(node, where, f"torch_map_axis({ast.unparse(value)}, {first.rank})")
            return Fact(MAP, first.rank)
        if axis is None:
            return self.error(node, "torch.cat of feature maps needs a literal dim")
        self._rewrite(node, where, repr(axis))
        channels = [f.channels for f in facts]
        if axis == first.rank - 1:  # along channels: their sum
            total = sum(channels) if None not in channels else None
            return Fact(MAP, first.rank, total, None)
        return first

    @staticmethod
    def _channel_index(node: ast.Subscript) -> int | None:
        """``k`` of ``x[:, k]`` (a literal int), else None."""
        index = node.slice
        if not (isinstance(index, ast.Tuple) and len(index.elts) == 2):
            return None
        whole, channel = index.elts
        if not (isinstance(whole, ast.Slice) and whole.lower is whole.upper is whole.step is None):
            return None
        value = _literal(channel)
        return value if isinstance(value, int) and not isinstance(value, bool) else None

    def _channel_pick(self, node: ast.Subscript, fact: Fact) -> Fact:
        """``x[:, k]`` of a map: channel ``k``, (N, *S) in both layouts; ``x[..., k]`` in
        Keras. Unsqueezed at dim 1 again, it is a one-channel map (see _unsqueezed_channel)."""
        key = key_of(node, self.analysis.lines)
        self.out.slices[key] = f"..., {self._channel_index(node)}"
        self.picked[key] = fact.rank
        return PLAIN_FACT

    def _unsqueezed_channel(self, node: ast.Call, picked: ast.AST | None, offset: int):
        """``torch.unsqueeze(x[:, k], 1)`` (or ``x[:, k].unsqueeze(1)``) of a map: the
        one-channel map ``x[:, k:k + 1]``, unsqueezed last in Keras; None when not that."""
        if not isinstance(picked, ast.Subscript):
            return None
        rank = self.picked.get(key_of(picked, self.analysis.lines))
        dim, where = _argument(node, "dim", offset)
        if rank is None or _literal(dim) not in (1, 1 - rank):
            return None
        self._rewrite(node, where, str(rank - 1))
        return Fact(MAP, rank, 1)

    def _unsqueezed_as_map(self, node: ast.Call) -> Fact:
        """Squeeze-excitation's ``s.unsqueeze(-1).unsqueeze(-1)`` of an (N, C) tensor: torch's
        (N, C, 1, 1) map; in Keras both unsqueeze at 1, giving (N, 1, 1, C)."""
        inner = node.func.value if isinstance(node.func, ast.Attribute) else None
        if not (
            isinstance(inner, ast.Call)
            and isinstance(inner.func, ast.Attribute)
            and inner.func.attr == "unsqueeze"
        ):
            return PLAIN_FACT
        first, first_at = _argument(inner, "dim", 0)
        second, second_at = _argument(node, "dim", 0)
        if _literal(first) not in (-1, 2) or _literal(second) not in (-1, 3):
            return PLAIN_FACT
        key = key_of(node, self.analysis.lines)
        if key in self.as_maps:
            self._rewrite(inner, first_at, "1")
            self._rewrite(node, second_at, "1")
            return Fact(MAP, 4, None, None, (1, 1))
        self.origins[key] = Fact(MAP, 4, None, None, (1, 1))
        return replace(PLAIN_FACT, origin=key)

    def _grouped(self, node: ast.Call, name: str, fact: Fact, offset: int) -> Fact:
        """Channel shuffle on an NCHW map, ``b, c, h, w = x.size()`` first: ``x.view(b, g,
        c // g, h, w)``, ``transpose(1, 2)`` and ``view(b, -1, h, w)`` back; in Keras the
        channels are split and swapped last: ``(b, h, w, g, c // g)``, axes 3 and 4."""
        hint = (
            "shuffle channels as x.view(b, groups, c // groups, h, w), transpose(1, 2), "
            "x.view(b, -1, h, w), with b, c, h, w = x.size()"
        )
        args = node.args
        if name == "transpose" and fact.kind == GROUPED:
            dims = [_literal(a) for a in args[offset:]]
            if node.keywords or sorted(d % 5 for d in dims if isinstance(d, int)) != [1, 2]:
                return self.error(node, "only transpose(1, 2) of grouped channels is translated")
            self._rewrite(node, ArgRewrite(offset, None, ""), "3")
            self._rewrite(node, ArgRewrite(offset + 1, None, ""), "4")
            return fact
        if name not in ("view", "reshape") or node.keywords:
            return self.error(node, f"Tensor.{name}() of grouped channels is not translated", hint)
        # b, c, h, w = x.size() of the map viewed, then x.view(b, g, c // g, h, w); its
        # grouped view keeps those sizes, whatever it is called when viewed back
        viewed = node.func.value.id if isinstance(node.func.value, ast.Name) else None
        sizes = [
            self.sizes.get(a.id, (None, None)) if isinstance(a, ast.Name) else (None, None)
            for a in args
        ]
        sizes = [d if of == viewed or fact.kind == GROUPED else None for of, d in sizes]
        plain = (ast.Name, ast.Constant, ast.BinOp, ast.UnaryOp, ast.operator, ast.unaryop)
        # sizes as TensorFlow reads them too (a call here would still be torch's source)
        simple = all(isinstance(n, (*plain, ast.expr_context)) for a in args for n in ast.walk(a))
        spatial = [len(args) - 2, len(args) - 1]
        if not simple or [sizes[0], *(sizes[i] for i in spatial)] != [0, 2, 3]:
            return self.error(
                node, f"this {name} of a feature map is not a channel shuffle's view", hint
            )
        text = [ast.unparse(a) for a in args]
        if fact.kind == MAP:  # (b, g, c // g, h, w) -> (b, h, w, g, c // g)
            order = [0, 3, 4, 1, 2]
            result = Fact(GROUPED, 5, fact.channels, fact.channels_from, fact.spatial)
        else:  # (b, c, h, w) -> (b, h, w, c)
            if len(args) != 4:
                return self.error(node, f"this {name} of grouped channels is not one map", hint)
            order = [0, 2, 3, 1]
            result = Fact(MAP, 4, fact.channels, fact.channels_from, fact.spatial)
        for index, source in enumerate(order):
            if source != index:
                self._rewrite(node, ArgRewrite(index, None, ""), text[source])
        return result

    def _batch_norm_forward(self, node: ast.Call, args: list[Fact]) -> bool:
        """``super().forward(x)`` on a map of the rank a BatchNorm2d/3d base takes."""
        owner = node.func.value if isinstance(node.func, ast.Attribute) else None
        if not (isinstance(owner, ast.Call) and _dotted(owner.func) == "super"):
            return False
        ranks = {
            BATCH_NORM_RANKS.get(self.analysis.qualify(_dotted(b) or "", b) or "")
            for b in self.cls.bases
        }
        return len(args) == 1 and args[0].kind == MAP and args[0].rank in ranks
