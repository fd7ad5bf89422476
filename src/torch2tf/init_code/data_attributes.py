"""Plain values a class sets on a child layer after building it, for its own code to read:

    self.fc = nn.Linear(768, num_classes)             (torchvision's InceptionAux)
    self.fc.stddev = 0.001
    ...
    stddev = float(m.stddev) if hasattr(m, "stddev") else 0.1    (Inception3's init loop)

No code of the layer reads such a value, so it is data, not a change of the layer: it is kept
as the same Python attribute of the Keras layer, set where torch sets it (before any init loop
of an enclosing model runs), and read there as torch reads it. That is exact when

- the value is a plain literal (a number, string, bool or None; a layer or tensor would be
  registered by torch as a submodule or used as one);
- neither side's layers have an attribute of that name (``layer_attributes.py``): else setting
  it would change the Keras layer, or ``hasattr`` would answer otherwise on it;
- the layer is one Keras layer of a class ``layer_attributes`` covers (not a padding layer
  then a conv in a ``Sequential``, where an init loop would find the attribute on the
  wrapper, not on the conv; not a helper class), or a class of the file whose code never
  reads or sets ``self.<name>``.

Anything else stays refused as changing the layer after construction.
"""

from __future__ import annotations

import ast

import libcst as cst

from torch2tf import rules
from torch2tf.class_facts import ClassInfo
from torch2tf.keras_api import KERAS_MODEL_ATTRIBUTES
from torch2tf.layer_attributes import (
    KERAS_LAYER_ATTRIBUTES,
    KERAS_LAYER_CLASSES,
    TORCH_LAYER_ATTRIBUTES,
)
from torch2tf.names import code_of, dotted
from torch2tf.rules import Arg, Unsupported, bind

_PLAIN = (bool, int, float, str, type(None))


def free_name(name: str) -> bool:
    """Whether no torch or Keras layer has an attribute ``name`` (public names only)."""
    return not (
        name.startswith("_")
        or name == "init_arguments"  # set by every translated class
        or name.startswith(("weight", "bias"))  # torch's numbered ones (LSTM's weight_ih_l5)
        or name in TORCH_LAYER_ATTRIBUTES
        or name in KERAS_LAYER_ATTRIBUTES
        or name in KERAS_MODEL_ATTRIBUTES
    )


def data_attribute(
    info: ClassInfo,
    classes: dict[str, ClassInfo],
    target: cst.BaseExpression,
    value: cst.BaseExpression,
    layers: dict[str, str] | None = None,
) -> bool:
    """Whether ``<target> = <value>`` in ``info``'s ``__init__`` sets data on a child layer
    (``self.fc.stddev = 0.001``), kept as it is on the Keras layer. ``layers``: the class's
    torch layers by attribute (its tensor facts' when ``info`` is not analysed yet)."""
    parts = (dotted(target) or "").split(".")
    if len(parts) != 3 or parts[0] != "self" or not free_name(parts[2]):
        return False
    try:
        literal = ast.literal_eval(code_of(value))
    except (ValueError, SyntaxError):
        return False
    if not isinstance(literal, _PLAIN):
        return False
    child, name = parts[1], parts[2]
    if child in info.modules:
        owner = classes.get(info.modules[child])
        return owner is not None and not _uses_self_attribute(owner, name)
    layers = info.layers if layers is None else layers
    if child in layers:
        calls = [
            node.value
            for node in _assigns(info)
            if any(dotted(t.target) == f"self.{child}" for t in node.targets)
        ]
        return (
            len(calls) == 1
            and isinstance(calls[0], cst.Call)
            and _covered(keras_source(calls[0], layers[child]))
        )
    return False


def data_names(classes: dict[str, ClassInfo], layers: dict[str, dict[str, str]]) -> set[str]:
    """The names of the data attributes the classes of a file set on their torch layers
    (``layers``: class -> attribute -> torch layer, from the tensor facts)."""
    found: set[str] = set()
    for name, info in classes.items():
        for node in _assigns(info):
            for target in node.targets:
                if data_attribute(info, {}, target.target, node.value, layers.get(name, {})):
                    found.add(code_of(target.target).rsplit(".", 1)[1])
    return found


def _assigns(info: ClassInfo) -> list[cst.Assign]:
    init = info.method("__init__")
    assigns = _Assigns()
    if init is not None:
        init.visit(assigns)
    return assigns.found


def _covered(source: str | None) -> bool:
    """Whether a rule's Keras source is one layer of a class ``layer_attributes`` covers."""
    if padding_wrapped(source) is not False:
        return False
    head = dotted(cst.parse_expression(source).func) or ""
    return head.startswith("tf.keras.layers.") and head.rpartition(".")[2] in KERAS_LAYER_CLASSES


class _Assigns(cst.CSTVisitor):
    def __init__(self) -> None:
        self.found: list[cst.Assign] = []

    def visit_Assign(self, node: cst.Assign) -> None:
        self.found.append(node)


def _uses_self_attribute(info: ClassInfo, name: str) -> bool:
    for node in ast.walk(info.tree):
        if (
            isinstance(node, ast.Attribute)
            and node.attr == name
            and isinstance(node.value, ast.Name)
            and node.value.id == "self"
        ):
            return True
        if isinstance(node, ast.Constant) and node.value == name:  # getattr(self, "name")
            return True
    return False


def keras_source(call: cst.Call, qualified: str) -> str | None:
    """The Keras source the rule of torch layer ``qualified`` gives for ``call``."""
    try:
        positional = [Arg(code_of(a.value)) for a in call.args if a.keyword is None]
        keywords = {a.keyword.value: Arg(code_of(a.value)) for a in call.args if a.keyword}
        keras = rules.LAYERS[qualified]().keras
        bound = bind(keras, positional, keywords)
        return keras(*bound.args, **bound.kwargs)
    except (TypeError, Unsupported):
        return None  # reported where the layer is translated


def padding_wrapped(source: str | None) -> bool | None:
    """Whether a layer rule's Keras source is a padding layer then the layer, in a
    Sequential (False: one layer; None: another form, whose layer is not known)."""
    if source is None:
        return None
    try:
        expr = cst.parse_expression(source)
    except cst.ParserSyntaxError:
        return None
    head = dotted(expr.func) if isinstance(expr, cst.Call) else None
    if head is None:
        return None  # a choice made at construction (`A if c else B`): not known here
    if head != "tf.keras.Sequential":  # one layer of a class, else a helper's result
        return False if head.rpartition(".")[2][:1].isupper() else None
    items = expr.args[0].value if expr.args else None
    if not isinstance(items, cst.List) or len(items.elements) != 2:
        return None
    first = items.elements[0].value
    head = dotted(first.func) if isinstance(first, cst.Call) else ""
    padding = ("tf.keras.layers.ZeroPadding", "TorchPadding")
    return True if head and head.startswith(padding) else None
