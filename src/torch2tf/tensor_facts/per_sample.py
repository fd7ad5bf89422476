"""Per-sample tensors on feature maps: stochastic depth and drop-path masks.

``size = [x.shape[0]] + [1] * (x.ndim - 1)`` (or ``(x.shape[0],) + (1,) * (x.dim() - 1)``,
or ``[1] * x.ndim``) of a map ``x`` is a shape of the map's rank whose sizes are 1 but the
batch's; a tensor made with it (``torch.empty(size)``, ``x.new_empty(size)``) and changed
elementwise (``bernoulli_``, ``div_``) broadcasts against the map alike in torch's layout and
in Keras's, so ``x * noise`` keeps the map's layout and nothing is rewritten.
"""

from __future__ import annotations

import ast

from torch2tf.tensor_facts.records import MAP, PER_SAMPLE, SCALAR, Fact

_CREATORS = frozenset(
    f"torch.{n}" for n in ("empty", "zeros", "ones", "rand", "randn", "full", "bernoulli")
)
_NEW = frozenset(("new_empty", "new_zeros", "new_ones", "new_full"))
_KEEPING = frozenset(
    f"{n}{suffix}"
    for n in ("bernoulli div mul add sub floor ceil clamp float double half to type_as").split()
    for suffix in ("", "_")
) | frozenset(("clone", "detach", "contiguous"))


class PerSample:
    """Methods of the class pass (:mod:`torch2tf.tensor_facts.analysis`)."""

    def _per_sample_shape(self, node: ast.AST, env: dict[str, Fact]) -> Fact | None:
        """The fact of ``[x.shape[0]] + [1] * (x.ndim - 1)`` or ``[1] * x.ndim`` of a map."""
        if not isinstance(node, ast.BinOp):
            return None
        if isinstance(node.op, ast.Mult):
            ones = _ones(node)
            return self._of_rank(env, ones[0]) if ones is not None and ones[1] == 0 else None
        if not isinstance(node.op, ast.Add) or not isinstance(node.left, (ast.List, ast.Tuple)):
            return None
        ones = _ones(node.right)
        batch = node.left.elts[0] if len(node.left.elts) == 1 else None
        if ones is None or ones[1] != 1 or _batch_of(batch) != ones[0]:
            return None
        return self._of_rank(env, ones[0])

    def _of_rank(self, env: dict[str, Fact], name: str | None) -> Fact | None:
        fact = env.get(name or "")
        if fact is None or fact.kind != MAP or fact.rank is None:
            return None
        return Fact(PER_SAMPLE, fact.rank)

    def _per_sample_call(
        self, node: ast.Call, qualified: str | None, args: list[Fact], receiver: Fact | None
    ) -> Fact | None:
        """A per-sample tensor made or changed elementwise; ``x.dim()`` of a map."""
        first = args[0] if args else None
        if qualified in _CREATORS and first is not None and first.kind == PER_SAMPLE:
            return first
        if receiver is None or not isinstance(node.func, ast.Attribute):
            return None
        name = node.func.attr
        if name in _NEW and first is not None and first.kind == PER_SAMPLE:
            return first
        if receiver.kind == PER_SAMPLE and name in _KEEPING:
            if all(a.kind in (SCALAR, PER_SAMPLE) or not a.is_map for a in args):
                return receiver
        if receiver.kind == MAP and name == "dim" and not args:
            return Fact(SCALAR)
        return None

    def _per_sample_binary(self, left: Fact, right: Fact) -> Fact | None:
        """A map with a per-sample tensor of its rank: the map; two of them: one."""
        if PER_SAMPLE not in (left.kind, right.kind):
            return None
        other, sample = (right, left) if left.kind == PER_SAMPLE else (left, right)
        if other.kind == MAP and other.rank == sample.rank:
            return other
        if other.kind in (SCALAR, PER_SAMPLE) and other.rank in (None, sample.rank):
            return sample
        return None


def _rank_of(node: ast.AST) -> tuple[str, int] | None:
    """``x.ndim``, ``x.dim()``, ``len(x.shape)`` (minus a literal): (x, what is taken off)."""
    taken = 0
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Sub):
        if not (isinstance(node.right, ast.Constant) and type(node.right.value) is int):
            return None
        taken, node = node.right.value, node.left
    name = None
    if isinstance(node, ast.Attribute) and node.attr == "ndim":
        name = node.value
    elif isinstance(node, ast.Call) and not node.args and not node.keywords:
        if isinstance(node.func, ast.Attribute) and node.func.attr == "dim":
            name = node.func.value
    elif isinstance(node, ast.Call) and getattr(node.func, "id", None) == "len" and node.args:
        shape = node.args[0]
        if isinstance(shape, ast.Call) and not shape.args:
            shape = shape.func
        if isinstance(shape, ast.Attribute) and shape.attr in ("shape", "size"):
            name = shape.value
    return (name.id, taken) if isinstance(name, ast.Name) else None


def _ones(node: ast.AST) -> tuple[str, int] | None:
    """``[1] * <rank of x, minus k>`` (either order, list or tuple): (x, k)."""
    if not (isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mult)):
        return None
    for ones, times in ((node.left, node.right), (node.right, node.left)):
        if (
            isinstance(ones, (ast.List, ast.Tuple))
            and len(ones.elts) == 1
            and isinstance(ones.elts[0], ast.Constant)
            and ones.elts[0].value == 1
        ):
            return _rank_of(times)
    return None


def _batch_of(node: ast.AST | None) -> str | None:
    """``x.shape[0]`` or ``x.size(0)``: x."""
    if isinstance(node, ast.Subscript) and isinstance(node.value, ast.Attribute):
        if node.value.attr == "shape" and isinstance(node.slice, ast.Constant):
            if node.slice.value == 0 and isinstance(node.value.value, ast.Name):
                return node.value.value.id
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
        if node.func.attr == "size" and len(node.args) == 1 and not node.keywords:
            index = node.args[0]
            if isinstance(index, ast.Constant) and index.value == 0:
                if isinstance(node.func.value, ast.Name):
                    return node.func.value.id
    return None
