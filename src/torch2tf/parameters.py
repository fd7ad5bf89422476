"""``nn.Parameter(torch.zeros(d))`` and ``register_buffer(name, torch.ones(d))`` -> ``add_weight``.

The tensor expression is read for its shape and its initial distribution; the values themselves
come from the live model when converting, so only the distribution must match torch's.
"""

from __future__ import annotations

import libcst as cst

from torch2tf.names import ImportTable, code_of
from torch2tf.rules import Unsupported

# torch factory -> Keras initializer for its values.
FACTORIES = {
    "torch.zeros": '"zeros"',
    "torch.ones": '"ones"',
    "torch.empty": '"zeros"',  # torch leaves it uninitialised; any value is as faithful
    "torch.randn": "tf.keras.initializers.RandomNormal(0.0, 1.0)",
    "torch.rand": "tf.keras.initializers.RandomUniform(0.0, 1.0)",
    "torch.Tensor": '"zeros"',  # torch.Tensor(a, b): uninitialised, like torch.empty
    "torch.FloatTensor": '"zeros"',
}
UNINITIALISED = {"torch.empty", "torch.Tensor", "torch.FloatTensor"}  # no values, sizes only
FLOAT32 = {"torch.float32", "torch.float"}
# Legacy constructors whose one sequence argument is data, not a shape.
LEGACY = {
    "torch.Tensor",
    "torch.FloatTensor",
    "torch.DoubleTensor",
    "torch.LongTensor",
    "torch.IntTensor",
    "torch.BoolTensor",
}


def holds_data(call: cst.Call) -> bool:
    """Whether a legacy constructor's one argument is data (``FloatTensor([0.5])``), not sizes."""
    args = call.args
    return len(args) == 1 and isinstance(args[0].value, (cst.List, cst.Tuple, cst.ListComp))


def _elements(args: list[cst.Arg]) -> list[str]:
    """The sizes as source; a starred one (``torch.empty(*shape, d)``) stays ``*shape``, which
    Python unpacks the same in the Keras shape tuple (its rank is then unknown)."""
    positional = [a for a in args if a.keyword is None]
    if any(a.star == "**" for a in args):
        raise Unsupported("**keywords in a tensor shape are not translated")
    if len(positional) == 1 and isinstance(positional[0].value, (cst.Tuple, cst.List)):
        return [
            f"{'*' if isinstance(e, cst.StarredElement) else ''}{code_of(e.value)}"
            for e in positional[0].value.elements
        ]
    return [f"{a.star}{code_of(a.value)}" for a in positional]


def is_starred(size: str) -> bool:
    return size.startswith("*")


def _shape(args: list[cst.Arg]) -> str:
    elements = _elements(args)
    return f"({elements[0]},)" if len(elements) == 1 else f"({', '.join(elements)})"


def tensor_shape(expr: cst.BaseExpression, imports: ImportTable) -> list[str]:
    """The sizes, as source, of the tensor an expression creates (for fans and sizes)."""
    shape, _ = initial_tensor(expr, imports)
    return [
        f"{'*' if isinstance(e, cst.StarredElement) else ''}{code_of(e.value)}"
        for e in cst.parse_expression(shape).elements
    ]


def initial_tensor(expr: cst.BaseExpression, imports: ImportTable) -> tuple[str, str]:
    """(shape source, initializer source) for a tensor-creating expression."""
    scale = None
    if isinstance(expr, cst.BinaryOperation) and isinstance(expr.operator, cst.Multiply):
        # torch.randn(...) * s, or s * torch.randn(...)
        left_is_call = isinstance(expr.left, cst.Call)
        call, scale = (expr.left, expr.right) if left_is_call else (expr.right, expr.left)
        expr = call
    if not isinstance(expr, cst.Call):
        raise Unsupported(
            f"cannot read a shape from {code_of(expr)!r}", "use torch.zeros/ones/randn"
        )
    name = imports.qualify(expr.func)
    keywords = {a.keyword.value: a.value for a in expr.args if a.keyword}
    unknown = set(keywords) - {"requires_grad", "size", "device", "dtype"}
    dtype = imports.qualify(keywords["dtype"]) if "dtype" in keywords else None
    if "dtype" in keywords and code_of(keywords["dtype"]) != "None" and dtype not in FLOAT32:
        raise Unsupported(
            f"dtype={code_of(keywords['dtype'])} on an initial tensor is not translated",
            "drop it; convert() gives the Keras model the torch model's dtype",
        )
    if unknown:
        raise Unsupported(f"{name}(..., {', '.join(sorted(unknown))}=) is not translated")
    if "size" in keywords:
        expr = expr.with_changes(args=[cst.Arg(keywords["size"])])
    args = [a for a in expr.args if a.keyword is None]
    if name == "torch.full":
        if scale is not None or len(args) != 2:
            raise Unsupported("torch.full needs exactly a shape and a value")
        shape = _shape(args[:1])
        return shape, f"tf.keras.initializers.Constant({code_of(args[1].value)})"
    if name == "torch.tensor" and len(args) == 1 and scale is None:
        value = args[0].value
        if isinstance(value, (cst.Integer, cst.Float)) or (
            isinstance(value, cst.UnaryOperation)
            and isinstance(value.expression, (cst.Integer, cst.Float))
        ):
            return "()", f"tf.keras.initializers.Constant({code_of(value)})"
        raise Unsupported("torch.tensor(...) of a non-scalar is not translated")
    if name in LEGACY and holds_data(expr):
        raise Unsupported(f"{name}(sequence) holds data: use torch.tensor(...)")
    if name not in FACTORIES:
        raise Unsupported(
            f"{name or code_of(expr.func)}(...) as an initial tensor is not translated"
        )
    if scale is not None:
        if name != "torch.randn":
            raise Unsupported(f"a scaled {name}(...) is not translated")
        return _shape(args), f"tf.keras.initializers.RandomNormal(0.0, {code_of(scale)})"
    return _shape(args), FACTORIES[name]


def add_weight(
    name: str,
    expr: cst.BaseExpression,
    imports: ImportTable,
    trainable: bool | str,
    initializer: str | None = None,
) -> str:
    """``self.add_weight(...)`` source for a parameter or buffer called ``name``; the
    initializer of the class's init code (``reset_parameters``), if any, replaces the
    tensor's own. ``trainable``: a literal, or the source of the flag torch's
    ``requires_grad=`` was given (a constructor argument)."""
    shape, own = initial_tensor(expr, imports)
    initializer = initializer or own
    flag = "" if trainable is True else f", trainable={trainable}"
    return f"self.add_weight(name={name!r}, shape={shape}, initializer={initializer}{flag})"
