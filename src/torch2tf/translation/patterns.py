"""Shapes of torch code the engine recognises in a syntax tree: ``self.x``, calls to
``forward``, statements that are one call, ``register_parameter``, device moves, telemetry."""

from __future__ import annotations

import ast
import inspect
from collections.abc import Mapping
from typing import Any

import libcst as cst

from torch2tf.class_facts import ClassInfo
from torch2tf.names import ImportTable, code_of, dotted
from torch2tf.rules import Arg
from torch2tf.torch_api import MODULE_API
from torch2tf.translation.scans import local_names

MODULE_BASE = "torch.nn.Module"
SEQUENTIAL_BASE = "torch.nn.Sequential"  # subclassed as tf.keras.Sequential
MODULE_DICT_BASE = "torch.nn.ModuleDict"  # subclassed as TorchModuleDict (keras_helpers)
PARAMETER = "torch.nn.Parameter"


def names_module_class(qualified: str | None) -> bool:
    """Whether the torch name ``qualified`` reads as an ``nn.Module`` class (``nn.Conv2d``,
    ``nn.modules.conv._ConvNd``), told from the name alone: a translation never imports torch.
    For annotations only, where any Keras layer type fits."""
    if not qualified or not qualified.startswith("torch.nn."):
        return False
    parts = qualified.split(".")
    if parts[2] in ("functional", "init", "utils", "parameter", "grad", "attention"):
        return False
    last = parts[-1].lstrip("_")
    return last[:1].isupper() and "Parameter" not in last and last != "Buffer"


# torch layers a project class may derive from (overriding forward, or __init__ calling the
# layer's): the Keras twin derives from a helper (keras_helpers/subclassed.py) holding the
# layer's attributes and weights under torch's names and layout, with torch's forward as call.
SUBCLASSED_LAYERS = {
    "torch.nn.LayerNorm": "TorchLayerNormBase",
    **{f"torch.nn.BatchNorm{n}d": "TorchBatchNormBase" for n in (2, 3)},
    "torch.nn.Linear": "TorchLinearBase",
}
# the buffers of those bases (changed in place by a subclass's forward, as Keras variables)
SUBCLASSED_BUFFERS = {
    f"torch.nn.BatchNorm{n}d": ("running_mean", "running_var", "num_batches_tracked")
    for n in (2, 3)
}
# register_buffer is translated (to add_weight); the rest of this API is reported when used.
UNTRANSLATED_MODULE_API = MODULE_API - {"register_buffer"}


def self_attr(node: cst.BaseExpression) -> str | None:
    """``x`` for ``self.x``."""
    name = dotted(node)
    if name and name.startswith("self.") and name.count(".") == 1:
        return name[5:]
    return None


def calls_forward(func: cst.BaseExpression) -> bool:
    """``super().forward`` or ``self.forward``: ``forward`` is ``call`` in Keras."""
    if not (isinstance(func, cst.Attribute) and func.attr.value == "forward"):
        return False
    owner = func.value
    if isinstance(owner, cst.Name):
        return owner.value == "self"
    return isinstance(owner, cst.Call) and dotted(owner.func) == "super"


def positional_params(func: cst.FunctionDef) -> list[cst.Param]:
    return list(func.params.posonly_params) + list(func.params.params)


def expression_call(stmt: cst.BaseStatement) -> cst.Call | None:
    """The call of a statement that is one call, such as ``self.reset_parameters()``."""
    if isinstance(stmt, cst.SimpleStatementLine) and len(stmt.body) == 1:
        small = stmt.body[0]
        if isinstance(small, cst.Expr) and isinstance(small.value, cst.Call):
            return small.value
    return None


def registered_parameter(
    stmt: cst.SimpleStatementLine, imports: ImportTable
) -> tuple[str, cst.Call | None] | None:
    """(name, the nn.Parameter call or None) of ``self.register_parameter("name", value)``,
    ``value`` a Parameter, None, or ``nn.Parameter(...) if cond else None``."""
    call = expression_call(stmt)
    if call is None or dotted(call.func) != "self.register_parameter" or len(call.args) != 2:
        return None
    name, value = (a.value for a in call.args)
    if any(a.keyword for a in call.args) or not isinstance(name, cst.SimpleString):
        return None
    if dotted(value) == "None":
        return name.evaluated_value, None
    if isinstance(value, cst.IfExp):  # the same as self.name = Parameter(...) if c else None
        for made, other in ((value.body, value.orelse), (value.orelse, value.body)):
            if isinstance(made, cst.Call) and dotted(other) == "None":
                value = made
    if isinstance(value, cst.Call) and imports.qualify(value.func) == PARAMETER:
        return name.evaluated_value, value
    return None


def reregistered_parameter(stmt: cst.SimpleStatementLine) -> str | None:
    """``name`` of ``self.register_parameter("name", self.name)``: registering again the
    Parameter the attribute already holds, which torch makes a no-op (deepctr-torch's cells)."""
    call = expression_call(stmt)
    if call is None or dotted(call.func) != "self.register_parameter" or len(call.args) != 2:
        return None
    name, value = (a.value for a in call.args)
    if any(a.keyword for a in call.args) or not isinstance(name, cst.SimpleString):
        return None
    return name.evaluated_value if dotted(value) == f"self.{name.evaluated_value}" else None


def tied_parameter(stmt: cst.SimpleStatementLine) -> tuple[str, str] | None:
    """(name, other) of ``self.register_parameter("name", self.other)``: from then on both
    attributes hold one Parameter, ``other``'s."""
    call = expression_call(stmt)
    if call is None or dotted(call.func) != "self.register_parameter" or len(call.args) != 2:
        return None
    name, value = (a.value for a in call.args)
    other = self_attr(value)
    if any(a.keyword for a in call.args) or not isinstance(name, cst.SimpleString) or not other:
        return None
    return (name.evaluated_value, other) if other != name.evaluated_value else None


def is_telemetry(stmt: cst.CSTNode) -> bool:
    """``torch._C._log_api_usage_once(...)`` or torchvision's ``_log_api_usage_once(self)``:
    torch's API-usage logging, which means nothing to TensorFlow."""
    call = expression_call(stmt) if isinstance(stmt, cst.SimpleStatementLine) else None
    return call is not None and (dotted(call.func) or "").endswith("_log_api_usage_once")


def drop_telemetry(block: cst.IndentedBlock) -> cst.IndentedBlock:
    """Telemetry statements removed, each leaving a one-line comment in its place."""
    body, carried = [], []
    for stmt in block.body:
        if is_telemetry(stmt):
            call = code_of(stmt.body[0].value.func)
            note = f"# torch2tf: {call}(...) dropped: torch's API-usage telemetry"
            carried += [*stmt.leading_lines, cst.EmptyLine(indent=True, comment=cst.Comment(note))]
            continue
        if carried:
            stmt = stmt.with_changes(leading_lines=[*carried, *stmt.leading_lines])
            carried = []
        body.append(stmt)
    if carried:
        if not body:
            body = [cst.SimpleStatementLine([cst.Pass()], leading_lines=carried)]
        else:
            block = block.with_changes(footer=[*carried, *block.footer])
    return block.with_changes(body=body)


def is_self_assignment(stmt: cst.SimpleStatementLine) -> bool:
    """``x = x``."""
    if len(stmt.body) != 1 or not isinstance(stmt.body[0], cst.Assign):
        return False
    assign = stmt.body[0]
    return (
        len(assign.targets) == 1
        and isinstance(assign.value, cst.Name)
        and dotted(assign.targets[0].target) == assign.value.value
    )


def is_device_move(stmt: cst.SimpleStatementLine | None) -> bool:
    """``self.to(device)``, ``self.cuda()``, ``self.cpu()`` as a statement of its own."""
    if stmt is None or len(stmt.body) != 1 or not isinstance(stmt.body[0], cst.Expr):
        return False
    call = stmt.body[0].value
    if not isinstance(call, cst.Call) or self_attr(call.func) not in ("to", "cuda", "cpu"):
        return False
    if self_attr(call.func) != "to":
        return True
    args = [a for a in call.args if a.keyword is None or a.keyword.value == "device"]
    return len(args) == len(call.args) == 1 and not looks_like_dtype(args[0].value)


def looks_like_dtype(node: cst.BaseExpression) -> bool:
    name = dotted(node) or ""
    return "float" in name or "int" in name or "dtype" in name or "double" in name


def takes_varargs(func) -> bool:
    return any(p.kind is p.VAR_POSITIONAL for p in inspect.signature(func).parameters.values())


def is_torch_module(name: str | None) -> bool:
    return name is not None and (name == "torch" or name.startswith("torch."))


def init_default_call(stmt, init: ast.ClassDef) -> tuple[str, cst.BaseExpression] | None:
    """``(w_init_, tensor)`` for ``w_init_(tensor)`` or ``if w_init_: w_init_(tensor)``."""
    if isinstance(stmt, cst.If) and stmt.orelse is None and isinstance(stmt.test, cst.Name):
        body = stmt.body.body
        if len(body) != 1:
            return None
        call = expression_call(body[0])
        guard = stmt.test.value
    else:
        call, guard = expression_call(stmt), None
    if call is None or not isinstance(call.func, cst.Name) or len(call.args) != 1:
        return None
    name = call.func.value
    if guard not in (None, name) or call.args[0].keyword or call.args[0].star:
        return None
    if name in local_names(init):
        return None  # reassigned: not the parameter's value any more
    return name, call.args[0].value


def param_default(init: cst.FunctionDef | None, name: str) -> cst.BaseExpression | None:
    if init is None:
        return None
    params = init.params
    for param in [*params.posonly_params, *params.params, *params.kwonly_params]:
        if param.name.value == name:
            return param.default
    return None


def call_args(call: cst.Call) -> tuple[list[Arg], dict[str, Arg]]:
    """The call's arguments as source, to bind to a rule; TypeError for ``**kwargs``."""
    positional: list[Arg] = []
    keywords: dict[str, Arg] = {}
    for arg in call.args:
        text = Arg(code_of(arg.value))
        if arg.star == "**":
            raise TypeError("**-arguments cannot be bound statically")
        if arg.star:
            positional.append(Arg(f"*{text}"))  # only rules taking *args accept it
        elif arg.keyword is None:
            positional.append(text)
        else:
            keywords[arg.keyword.value] = text
    return positional, keywords


def python_flags(test: cst.BaseExpression, info: ClassInfo | None) -> bool:
    """Whether ``test`` combines only ``self.<attr>`` flags (``and``/``or``) that are not
    layers or tensors: the branch runs only when one is switched on."""
    if isinstance(test, cst.BooleanOperation):
        return python_flags(test.left, info) and python_flags(test.right, info)
    attr = self_attr(test)
    return (
        attr is not None
        and info is not None
        and attr not in info.layers
        and attr not in info.modules
        and attr not in info.params
        and attr != "training"
    )


def nested_statements(stmt: cst.BaseStatement) -> list[cst.BaseStatement]:
    """The simple statements inside ``stmt``'s ``if``/``else``/loop bodies, at any depth (not
    inside nested functions or classes); none for a simple statement."""
    found: list[cst.BaseStatement] = []

    def walk(node: cst.CSTNode) -> None:
        if isinstance(node, cst.If | cst.For | cst.While):
            blocks = [node.body, node.orelse]
            for block in blocks:
                if isinstance(block, cst.If):
                    walk(block)
                elif block is not None:
                    for child in block.body.body if isinstance(block, cst.Else) else block.body:
                        if isinstance(child, cst.SimpleStatementLine):
                            found.append(child)
                        else:
                            walk(child)

    walk(stmt)
    return found


def under_python_flag(
    node: cst.CSTNode, parents: Mapping[cst.CSTNode, cst.CSTNode], info: ClassInfo | None
) -> bool:
    """Inside ``if self.<flag>:`` (``and``/``or`` of such), a flag not a layer or a
    parameter: decided in Python before any tracing, so the branch runs only if asked."""
    parent = parents.get(node)
    while parent is not None and not isinstance(parent, cst.FunctionDef):
        if isinstance(parent, (cst.If, cst.IfExp)) and python_flags(parent.test, info):
            return node is parent.body  # the branch the switch turns on, not the other
        node = parent
        parent = parents.get(parent)
    return False


def module_parameters(call: cst.Call, info: ClassInfo | None, imports: ImportTable) -> bool:
    """``block.parameters()`` in a module class, on anything but ``self`` (whose API is
    reported elsewhere): the torch_parameters helper, which gives a Keras layer's variables
    in torch's order and calls any other object's own ``parameters()`` as written."""
    func = call.func
    if info is None or call.args or not isinstance(func, cst.Attribute):
        return False
    if func.attr.value != "parameters" or dotted(func.value) == "self":
        return False
    return not imports.qualify(func.value)


def eager_method(call: cst.Call, receiver: str, rewrite: Any) -> str | None:
    """``x.item()`` in ``__init__`` (Keras runs it eagerly, never traced: a number) and
    ``x.numpy()`` there or under an ``if self.<flag>:`` switch (torch_numpy: raises if traced);
    ``rewrite``: the rewrite pass (its function stack, parents and class)."""
    name = call.func.attr.value  # type: ignore[attr-defined]
    if call.args or name not in ("item", "numpy"):
        return None
    if rewrite.function_stack == ["__init__"]:
        return f"({receiver}).numpy()" + (".item()" if name == "item" else "")
    if name == "numpy" and under_python_flag(call, rewrite.parents, rewrite.cls):
        return f"torch_numpy({receiver})"
    return None
