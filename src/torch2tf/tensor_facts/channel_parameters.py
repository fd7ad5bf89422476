"""Parameters of torch's per-channel shape ``(C, 1, ..., 1)``, which broadcast against a
map's (C, *S) dims in torch (ConvNeXt's ``layer_scale`` of shape ``(dim, 1, 1)``). Against
Keras's channels-last map they are read as ``(C,)``, broadcasting along its last axis alike.
Also: modules that permute by the dims they are constructed with (torchvision's ``Permute``)."""

from __future__ import annotations

import ast

from torch2tf.tensor_facts.syntax import _dotted, _literal, _self_attr

_FACTORIES = frozenset({"torch.ones", "torch.zeros", "torch.randn", "torch.rand", "torch.empty"})


def channel_parameters(init: ast.FunctionDef | None, qualify) -> dict[str, int]:
    """Attribute -> the rank of the map it fits, for each ``self.a = nn.Parameter(t)`` of
    ``__init__`` whose ``t`` is a factory call (perhaps scaled) of sizes ``(C, 1, ..., 1)``."""
    found: dict[str, int] = {}
    for node in ast.walk(init) if init is not None else ():
        if not (isinstance(node, ast.Assign) and len(node.targets) == 1):
            continue
        attr = _self_attr(node.targets[0])
        value = node.value
        if attr is None or not isinstance(value, ast.Call) or len(value.args) != 1:
            continue
        if qualify(_dotted(value.func) or "", value.func) != "torch.nn.Parameter" or value.keywords:
            continue
        sizes = _sizes(value.args[0], qualify)
        if sizes is not None and len(sizes) >= 2 and all(_literal(s) == 1 for s in sizes[1:]):
            found[attr] = len(sizes) + 1
    return found


def _sizes(tensor: ast.expr, qualify) -> list[ast.expr] | None:
    """The sizes a factory call (``torch.ones(d, 1, 1) * s`` too) is written with."""
    if isinstance(tensor, ast.BinOp) and isinstance(tensor.op, ast.Mult):
        call = tensor.left if isinstance(tensor.left, ast.Call) else tensor.right
        tensor = call
    if not isinstance(tensor, ast.Call) or tensor.keywords:
        return None
    if qualify(_dotted(tensor.func) or "", tensor.func) not in _FACTORIES:
        return None
    args = tensor.args
    if len(args) == 1 and isinstance(args[0], (ast.Tuple, ast.List)):
        args = args[0].elts
    return None if any(isinstance(a, ast.Starred) for a in args) else list(args)


def permutes_by_argument(cls: ast.ClassDef, qualify) -> bool:
    """Whether ``cls`` is a module whose forward returns its input permuted by the dims its
    constructor's first argument gives (``Permute(dims)``: ``torch.permute(x, self.dims)``)."""
    methods = {f.name: f for f in cls.body if isinstance(f, ast.FunctionDef)}
    init, forward = methods.get("__init__"), methods.get("forward")
    if init is None or forward is None or len(forward.args.args) != 2 or len(init.args.args) < 2:
        return False
    given, x = init.args.args[1].arg, forward.args.args[1].arg
    stored = {
        attr
        for node in init.body
        if isinstance(node, ast.Assign) and len(node.targets) == 1
        if isinstance(node.value, ast.Name) and node.value.id == given
        if (attr := _self_attr(node.targets[0])) is not None
    }
    body = [s for s in forward.body if not isinstance(s, ast.Expr)]  # a docstring
    if len(body) != 1 or not isinstance(body[0], ast.Return):
        return False
    call = body[0].value
    if not isinstance(call, ast.Call) or call.keywords:
        return False
    if qualify(_dotted(call.func) or "", call.func) == "torch.permute":
        args = call.args
    elif isinstance(call.func, ast.Attribute) and call.func.attr == "permute":
        args = [call.func.value, *call.args]
    else:
        return False
    return (
        len(args) == 2
        and isinstance(args[0], ast.Name)
        and args[0].id == x
        and _self_attr(args[1]) in stored
    )
