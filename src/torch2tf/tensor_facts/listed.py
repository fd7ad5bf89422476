"""Layers listed in a literal and spread into a call: ``nn.Sequential(*[conv, norm, act])``
is ``nn.Sequential(conv, norm, act)``, and ``nn.Sequential(*filter(None, [conv, aa if
use_aa else None, norm]))`` is one of the Sequentials its optional layers make (timm's stem
pool): each, as the branches of an ``if``, since the indices of the later layers move."""

from __future__ import annotations

import ast
import itertools

from torch2tf.tensor_facts.syntax import _dotted

_MOST_OPTIONAL = 3  # optional layers read (2**3 Sequentials at most)


def _literal_list(node: ast.AST) -> bool:
    return isinstance(node, ast.Starred) and isinstance(node.value, (ast.List, ast.Tuple))


def spliced(call: ast.Call) -> ast.Call:
    """``call`` with each starred list or tuple literal among its arguments spread out."""
    if not any(_literal_list(a) for a in call.args):
        return call
    args: list[ast.expr] = []
    for a in call.args:
        args.extend(a.value.elts if _literal_list(a) else [a])
    return ast.copy_location(ast.Call(call.func, args, call.keywords), call)


def is_none(node: ast.AST) -> bool:
    return isinstance(node, ast.Constant) and node.value is None


def calls_a_local(node: ast.AST, func: ast.FunctionDef) -> bool:
    """A call of a parameter of ``func`` or of a name it assigns (``module_cls(channels)``,
    ``module_cls = get_attn(attn_type)``): a layer class the caller chose."""
    args = func.args
    names = {a.arg for a in [*args.posonlyargs, *args.args, *args.kwonlyargs]}
    names |= {
        t.id
        for n in ast.walk(func)
        if isinstance(n, ast.Assign)
        for t in n.targets
        if isinstance(t, ast.Name)
    }
    return isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in names


def filtered_variants(call: ast.Call) -> list[ast.Call] | None:
    """The calls ``f(*filter(None, [a, b if c else None, ...]))`` may make, one per choice of
    its optional elements (each present or left out); None for any other call."""
    if len(call.args) != 1 or not isinstance(call.args[0], ast.Starred):
        return None
    inner = call.args[0].value
    if not (
        isinstance(inner, ast.Call)
        and _dotted(inner.func) == "filter"
        and len(inner.args) == 2
        and is_none(inner.args[0])
        and isinstance(inner.args[1], (ast.List, ast.Tuple))
    ):
        return None
    elements = inner.args[1].elts
    choices: list[list[ast.expr | None]] = []
    for element in elements:
        if isinstance(element, ast.IfExp) and (is_none(element.body) or is_none(element.orelse)):
            kept = element.orelse if is_none(element.body) else element.body
            choices.append([kept, None])
        elif is_none(element):
            choices.append([None])
        else:
            choices.append([element])
    if sum(len(c) > 1 for c in choices) > _MOST_OPTIONAL:
        return None
    return [
        ast.copy_location(
            ast.Call(call.func, [e for e in chosen if e is not None], call.keywords), call
        )
        for chosen in itertools.product(*choices)
    ]
