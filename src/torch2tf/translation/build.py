"""Build at construction: whether a class can be built from the input size its first layer
fixes, as torch makes every weight in ``__init__`` (Keras makes them on the first call)."""

from __future__ import annotations

import ast
from collections.abc import Mapping

import libcst as cst

from torch2tf.class_facts import ClassInfo
from torch2tf.names import ImportTable, code_of, dotted, is_docstring
from torch2tf.parsed import descendants
from torch2tf.rules import LAYERS, attention, bind
from torch2tf.tensor_facts import MAP_FUNCTIONS
from torch2tf.translation.patterns import (
    call_args,
    calls_forward,
    positional_params,
    self_attr,
)
from torch2tf.translation.scans import assigned_names


def build_input(info: ClassInfo, imports: ImportTable) -> str | None:
    """Source of the input size when the first layer applied to the input fixes it."""
    forward, init = info.method("forward"), info.method("__init__")
    if forward is None or init is None:
        return None
    params = positional_params(forward)[1:]
    required = [p for p in params if p.default is None]
    if len(required) != 1 or forward.params.star_arg not in (None, cst.MaybeSentinel.DEFAULT):
        return None
    input_name = required[0].name.value
    if attention.reads_sizes(info.tree, input_name):  # B, T, C = x.size(): 3-D
        return None
    first: list[str] = []
    for node in descendants(forward.body):  # the first call taking the input, in source order
        if first:
            break
        if not isinstance(node, cst.Call):
            continue
        attr = self_attr(node.func)
        if calls_forward(node.func) and any(input_name in _names(a.value) for a in node.args):
            first.append("")  # super().forward(x) first: the base's input size (inherited)
            break
        argument = node.args[0].value if node.args else None
        while argument is not None and _is_move(argument):  # x.to(device): the same sizes
            argument = argument.func.value
        takes = argument is not None and dotted(argument) == input_name
        if takes and imports.qualify(node.func) in MAP_FUNCTIONS:
            first.append("")  # F.adaptive_avg_pool2d(x, ...) first: a map, not 2-D
        elif attr and takes:
            first.append(attr)
    if not first or first[0] not in info.layers:
        return None
    if _calls_einops(info, imports):  # its patterns fix the rank, a 2-D input may not fit
        return None
    attr = first[0]
    made = [c for c, a in info.call_attr.items() if a == attr]
    if len(made) != 1:  # made in each branch of an if: which one ran is not known here
        return None
    call = made[0]
    rule = LAYERS[info.layers[attr]]()
    try:
        bound = bind(rule.input_features, *call_args(call))
    except TypeError:
        return None
    size = rule.input_features(*bound.args)
    if size is None:
        return None
    if not builds_on_2d(info, imports):
        return None
    return _constructor_size(info, size)


def _constructor_size(info: ClassInfo, size: str) -> str | None:
    """``size`` if it reads only parameters of ``__init__`` that it does not reassign."""
    init = info.method("__init__")
    assert init is not None
    init_params = {p.name.value for p in positional_params(init)[1:]}
    init_params |= {p.name.value for p in init.params.kwonly_params}
    used = {n.id for n in ast.walk(ast.parse(size, mode="eval")) if isinstance(n, ast.Name)}
    init_tree = next(
        f for f in info.tree.body if isinstance(f, ast.FunctionDef) and f.name == "__init__"
    )
    if used - init_params or used & assigned_names(init_tree):
        return None  # the value at the end of __init__ may differ from the one used
    return size


def _single_base(info: ClassInfo, classes: Mapping[str, ClassInfo]) -> ClassInfo | None:
    """The class's one base class of this file, if it has exactly one."""
    bases = [classes.get(dotted(b.value) or "") for b in info.node.bases]
    found = [b for b in bases if b is not None]
    return found[0] if len(found) == 1 and len(bases) == 1 else None


def inherit_build_inputs(classes: Mapping[str, ClassInfo], imports: ImportTable) -> set[str]:
    """Give each class without a build input its base's, where :func:`inherited_build_input`
    reads one (bases first: a chain of subclasses, in file order); the names given one."""
    given = set()
    for name, info in classes.items():
        base = _single_base(info, classes)
        if info.build_input is None and base is not None:
            info.build_input = inherited_build_input(info, base, imports)
            given |= {name} if info.build_input is not None else set()
    return given


def drop_orphaned_builds(classes: Mapping[str, ClassInfo], inherited: set[str]) -> None:
    """An inherited build input whose base lost its own (built by its first call) goes too."""
    changed = True
    while changed:
        changed = False
        for name in inherited:
            base = _single_base(classes[name], classes)
            if classes[name].build_input is not None and base and base.build_input is None:
                classes[name].build_input = None
                changed = True


def inherited_build_input(info: ClassInfo, base: ClassInfo, imports: ImportTable) -> str | None:
    """A subclass whose ``forward`` starts with ``super().forward(x)``: the base's input size,
    read through the one ``super().__init__(...)`` call (``GenericBlock(Block)`` adding its own
    layers after the base's, the base built only for itself)."""
    forward, init = info.method("forward"), info.method("__init__")
    base_init = base.method("__init__")
    if base.build_input is None or forward is None or init is None or base_init is None:
        return None
    params = [p for p in positional_params(forward)[1:] if p.default is None]
    if len(params) != 1 or _calls_einops(info, imports) or not builds_on_2d(info, imports):
        return None
    first = next((s for s in forward.body.body if not is_docstring(s)), None)
    value = _statement_value(first)
    if not (isinstance(value, cst.Call) and calls_forward(value.func) and value.args):
        return None
    if not isinstance(value.func.value, cst.Call):
        return None  # super().forward, not self.forward
    if dotted(value.args[0].value) != params[0].name.value:
        return None
    supers = [
        s
        for s in init.body.body
        if isinstance(_statement_value(s), cst.Call) and _is_super_init(_statement_value(s))
    ]
    if len(supers) != 1 or len(_super_inits(init)) != 1:
        return None
    try:
        positional, keywords = call_args(_statement_value(supers[0]))
    except TypeError:
        return None
    names = [p.name.value for p in positional_params(base_init)[1:]]
    if any(a.startswith("*") for a in positional) or len(positional) > len(names):
        return None
    given = dict(zip(names, positional, strict=False)) | keywords
    defaults = {
        p.name.value: code_of(p.default)
        for p in [*positional_params(base_init)[1:], *base_init.params.kwonly_params]
        if p.default is not None
    }
    sources = {**defaults, **given}
    tree = ast.parse(base.build_input, mode="eval")
    if any(isinstance(n, ast.Name) and n.id not in sources for n in ast.walk(tree)):
        return None

    class Substitute(ast.NodeTransformer):
        def visit_Name(self, node: ast.Name) -> ast.expr:
            return ast.parse(sources[node.id], mode="eval").body

    return _constructor_size(info, ast.unparse(Substitute().visit(tree)))


def _statement_value(stmt: cst.CSTNode | None) -> cst.BaseExpression | None:
    """The value of ``x = <value>`` or of an expression statement."""
    if not isinstance(stmt, cst.SimpleStatementLine) or len(stmt.body) != 1:
        return None
    small = stmt.body[0]
    if isinstance(small, (cst.Assign, cst.Expr)):
        return small.value
    return None


def _is_super_init(call: cst.Call) -> bool:
    func = call.func
    return (
        isinstance(func, cst.Attribute)
        and func.attr.value == "__init__"
        and isinstance(func.value, cst.Call)
        and dotted(func.value.func) == "super"
    )


def _super_inits(init: cst.FunctionDef) -> list[cst.Call]:
    found: list[cst.Call] = []

    class Calls(cst.CSTVisitor):
        def visit_Call(self, node: cst.Call) -> None:
            if _is_super_init(node):
                found.append(node)

    init.body.visit(Calls())
    return found


def _is_move(node: cst.BaseExpression) -> bool:
    """``x.to(...)`` with one argument."""
    return (
        isinstance(node, cst.Call)
        and isinstance(node.func, cst.Attribute)
        and node.func.attr.value == "to"
        and len(node.args) == 1
    )


def builds_on_2d(info: ClassInfo, imports: ImportTable) -> bool:
    """Whether a 2-D symbolic input builds every layer of the class as torch made it.

    A layer whose weights or behaviour depend on the input's rank blocks it, unless the rule
    says it is built right when fed as many features as the layer made before it outputs
    (the MLP pattern ``Linear(.., n)`` then ``BatchNorm1d(n)``: see ``fed_features``).
    """
    previous_out = None
    for call in info.call_position:
        rule = LAYERS[imports.qualify(call.func)]()
        try:
            arguments = bind(rule.keras, *call_args(call)).arguments
        except TypeError:
            return False
        if rule.rank_sensitive(arguments):
            fed = rule.fed_features(arguments)
            if fed is None or previous_out is None or fed != previous_out:
                return False
        out = rule.output_features(arguments)
        if out is not None:
            previous_out = out
    return True


def _calls_einops(info: ClassInfo, imports: ImportTable) -> bool:
    """Whether a method of the class calls an einops function (rearrange, repeat, reduce)."""
    if not any(q.split(".")[0] == "einops" for q in imports.aliases.values()):
        return False  # nothing of einops imported: no walk of the class
    found: list[str] = []

    class Calls(cst.CSTVisitor):
        def visit_Call(self, node: cst.Call) -> None:
            if (imports.qualify(node.func) or "").startswith("einops."):
                found.append(node)

    info.node.visit(Calls())
    return bool(found)


def _names(node: cst.BaseExpression) -> set[str]:
    """The plain names ``node`` reads."""
    found = {n.value for n in descendants(node) if isinstance(n, cst.Name)}
    return found


# Python-level readers of a size: a symbolic input's open batch size cannot pass through them.
_PYTHON_NUMBERS = ("int", "float", "range", "math.", "numpy.")


def needs_static_batch(info: ClassInfo, imports: ImportTable) -> bool:
    """Whether a method other than ``__init__`` passes the batch size (``x.shape[0]``,
    ``x.size(0)``) through Python arithmetic (``int(np.ceil(x.shape[0] / n))``, pytorch-tabnet's
    ghost batch norm): it needs a concrete batch, which a symbolic build input does not have."""
    found = False

    class Finder(ast.NodeVisitor):
        def visit_Call(self, node: ast.Call) -> None:
            nonlocal found
            name = ast.unparse(node.func)
            qualified = imports.qualify_name(name) or name
            if qualified in ("int", "float", "range") or qualified.startswith(_PYTHON_NUMBERS):
                found = found or any(_reads_batch(arg) for arg in node.args)
            self.generic_visit(node)

    for node in info.tree.body:
        if isinstance(node, ast.FunctionDef) and node.name != "__init__":
            Finder().visit(node)
    return found


def _reads_batch(tree: ast.AST) -> bool:
    """Whether ``tree`` reads a tensor's size along its first dim."""
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Subscript)
            and isinstance(node.value, ast.Attribute)
            and node.value.attr == "shape"
            and isinstance(node.slice, ast.Constant)
            and node.slice.value == 0
        ):
            return True
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "size"
            and len(node.args) == 1
            and isinstance(node.args[0], ast.Constant)
            and node.args[0].value == 0
        ):
            return True
    return False


def constructed_classes(info: ClassInfo, names: set[str]) -> set[str]:
    """The classes among ``names`` that ``__init__`` constructs (directly, by name)."""
    init = next(
        (f for f in info.tree.body if isinstance(f, ast.FunctionDef) and f.name == "__init__"),
        None,
    )
    if init is None:
        return set()
    return {
        node.func.id
        for node in ast.walk(init)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in names
    }
