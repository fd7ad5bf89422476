"""Build at construction: whether a class can be built from the input size its first layer
fixes, as torch makes every weight in ``__init__`` (Keras makes them on the first call)."""

from __future__ import annotations

import ast

import libcst as cst

from torch2tf.class_facts import ClassInfo
from torch2tf.names import ImportTable, dotted
from torch2tf.rules import LAYERS, attention, bind
from torch2tf.tensor_facts import MAP_FUNCTIONS
from torch2tf.translation.patterns import call_args, positional_params, self_attr
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

    class FirstCall(cst.CSTVisitor):
        def visit_Call(self, node: cst.Call) -> bool:
            attr = self_attr(node.func)
            takes = bool(node.args) and dotted(node.args[0].value) == input_name
            if not first and takes and imports.qualify(node.func) in MAP_FUNCTIONS:
                first.append("")  # F.adaptive_avg_pool2d(x, ...) first: a map, not 2-D
            if not first and attr and takes:
                first.append(attr)
            return not first

    forward.body.visit(FirstCall())
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
    init_params = {p.name.value for p in positional_params(init)[1:]}
    init_params |= {p.name.value for p in init.params.kwonly_params}
    used = {n.id for n in ast.walk(ast.parse(size, mode="eval")) if isinstance(n, ast.Name)}
    init_tree = next(
        f for f in info.tree.body if isinstance(f, ast.FunctionDef) and f.name == "__init__"
    )
    if used - init_params or used & assigned_names(init_tree):
        return None  # the value at the end of __init__ may differ from the one used
    return size


def builds_on_2d(info: ClassInfo, imports: ImportTable) -> bool:
    """Whether a 2-D symbolic input builds every layer of the class as torch made it.

    A layer whose weights or behaviour depend on the input's rank blocks it, except the
    MLP pattern ``Linear(.., n)`` then ``BatchNorm1d(n)``: there BatchNorm's size is right
    whatever the rank.
    """
    previous_out = None
    for call in info.call_position:
        qualified = imports.qualify(call.func)
        rule = LAYERS[qualified]()
        try:
            arguments = bind(rule.keras, *call_args(call)).arguments
        except TypeError:
            return False
        if rule.rank_sensitive(arguments):
            after_linear = qualified == "torch.nn.BatchNorm1d" and previous_out is not None
            if not (after_linear and arguments["num_features"] == previous_out):
                return False
        if qualified == "torch.nn.Linear":
            previous_out = arguments["out_features"]
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
