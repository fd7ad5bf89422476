"""The modules a class's ``__init__`` adds beyond plain attributes: ``add_module``/
``register_module`` calls, ``OrderedDict`` keys, and attributes in the order torch registers
them (a Sequential subclass's layers); and the ``__init__`` pieces reading them needs."""

from __future__ import annotations

import ast

from torch2tf.tensor_facts.syntax import _dotted, _self_attr


def _assigned(func: ast.FunctionDef, target: str) -> list[ast.expr]:
    """The values ``func`` assigns to ``target`` (a local name or ``self.x``)."""
    values = []
    for node in ast.walk(func):
        if isinstance(node, (ast.Assign, ast.AnnAssign)) and node.value is not None:
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            if any(_dotted(t) == target for t in targets):
                values.append(node.value)
    return values


def _default(func: ast.FunctionDef, name: str) -> ast.expr | None:
    """The default value of the parameter ``name`` of ``func``, if it has one."""
    args = func.args
    positional = [*args.posonlyargs, *args.args]
    defaults = dict(zip(reversed(positional), reversed(args.defaults), strict=False))
    defaults |= {a: d for a, d in zip(args.kwonlyargs, args.kw_defaults, strict=True) if d}
    return next((d for a, d in defaults.items() if a.arg == name), None)


def _init_of(cls: ast.ClassDef) -> ast.FunctionDef | None:
    return next((f for f in cls.body if getattr(f, "name", "") == "__init__"), None)


def _super_init(init: ast.FunctionDef) -> ast.Call | None:
    """The ``super().__init__(...)`` call of an ``__init__``."""
    for node in ast.walk(init):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "__init__"
            and isinstance(node.func.value, ast.Call)
            and _dotted(node.func.value.func) == "super"
        ):
            return node
    return None


def _added(init: ast.FunctionDef) -> list[tuple[ast.Call, str | None, str, ast.expr]]:
    found = []
    for node in ast.walk(init):
        if not (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in ("add_module", "register_module")
            and len(node.args) == 2
        ):
            continue
        receiver = node.func.value
        owner = _self_attr(receiver)
        if owner is None and _dotted(receiver) != "self":
            continue
        key = node.args[0].value if isinstance(node.args[0], ast.Constant) else None
        found.append((node, owner, key if isinstance(key, str) else "*", node.args[1]))
    return found


def added_modules(init: ast.FunctionDef) -> list[tuple[str | None, str, ast.expr]]:
    """``self.add_module(key, m)`` (owner None) and ``self.<owner>.add_module(key, m)`` calls
    of ``__init__``, in source order: the key (``*`` when computed) and the module."""
    found = sorted(_added(init), key=lambda f: (f[0].lineno, f[0].col_offset))
    return [(owner, key, value) for _, owner, key, value in found]


def held_in_order(init: ast.FunctionDef) -> list[tuple[str, ast.expr, bool]]:
    """What a class without ``forward`` may hold, in the order torch runs it in an
    nn.Sequential subclass: attributes assigned (flag False: maybe not a module) and modules
    added (True), by key."""
    found = [
        (node, node.targets[0].attr, node.value, False)
        for node in ast.walk(init)
        if isinstance(node, ast.Assign)
        and len(node.targets) == 1
        and _self_attr(node.targets[0]) is not None
        and isinstance(node.value, (ast.Call, ast.Name))
    ]
    found += [(node, key, value, True) for node, owner, key, value in _added(init) if not owner]
    found.sort(key=lambda f: (f[0].lineno, f[0].col_offset))
    return [(key, value, module) for _, key, value, module in found]


def _keyed(func: ast.FunctionDef, node: ast.AST) -> list[tuple[str, ast.expr]] | None:
    """``layers = OrderedDict()`` (or ``{}``) then ``layers["a"] = <layer>`` in ``func``:
    the (key, layer) pairs in source order (those under an ``if`` too: each is followed)."""
    if not isinstance(node, ast.Name):
        return None
    starts = _assigned(func, node.id)
    empty = [
        v
        for v in starts
        if (isinstance(v, ast.Dict) and not v.keys)
        or (isinstance(v, ast.Call) and _dotted(v.func) in _ORDERED and not v.args)
    ]
    if len(starts) != 1 or len(empty) != 1:
        return None
    found = []
    for stmt in ast.walk(func):
        if not (isinstance(stmt, ast.Assign) and len(stmt.targets) == 1):
            continue
        target = stmt.targets[0]
        if isinstance(target, ast.Subscript) and _dotted(target.value) == node.id:
            key = target.slice.value if isinstance(target.slice, ast.Constant) else None
            found.append((stmt, key if isinstance(key, str) else "*", stmt.value))
    found.sort(key=lambda f: (f[0].lineno, f[0].col_offset))
    return [(key, value) for _, key, value in found]


_ORDERED = ("OrderedDict", "collections.OrderedDict")
