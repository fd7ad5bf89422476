"""torch.nn.functional's dropout, linear and normalisation forms -> TensorFlow expressions,
and the source helpers every function rule uses (``src``, ``paren``, ``axis``, ...).

Each rule has the torch function's own signature and returns TensorFlow source. A rule whose
TensorFlow counterpart differs in any case it can meet (a default, a dtype, a size-1 dim)
either spells out the torch behaviour or refuses with ``Unsupported``; where no TensorFlow op
matches, it calls a ``torch_*`` helper from ``keras_helpers/ops.py``.
"""

from __future__ import annotations

import ast
import re
from typing import Any

from torch2tf.rules.registry import Unsupported, const, function, keras_call
from torch2tf.rules.registry import src as _source
from torch2tf.torch_api import DTYPES

_MISSING = object()
_ATOMS = (ast.Name, ast.Attribute, ast.Call, ast.Subscript, ast.List, ast.Dict, ast.Set)


def unparen(text: str) -> str:
    """``text`` without parentheses that only group the whole expression."""
    text = text.strip()
    while text.startswith("(") and text.endswith(")"):
        inner = text[1:-1].strip()
        try:
            node = ast.parse(inner, mode="eval").body
        except SyntaxError:
            break  # ``(a) + (b)``, a generator expression, ``()``
        if isinstance(node, ast.Tuple) and not inner.startswith("("):
            break  # the parentheses make the tuple
        text = inner
    return text


def src(value: Any) -> str:
    """Source text of an argument, without redundant outer parentheses.

    Rules put it where any expression fits (a call argument) or wrap it with :func:`paren`.
    """
    return unparen(_source(value))


def is_atom(source: str) -> bool:
    """Whether ``source`` can take part in a larger expression without parentheses."""
    text = source.strip()
    try:
        node = ast.parse(text, mode="eval").body
    except SyntaxError:
        return False
    if isinstance(node, ast.Tuple):
        return text.startswith("(")
    if isinstance(node, ast.Constant):
        return not text.startswith("-")
    return isinstance(node, _ATOMS)


def paren(source: str) -> str:
    """``source``, parenthesised unless it is an atom."""
    return source if is_atom(source) else f"({source})"


def given(value: Any) -> bool:
    """Whether an optional argument was given a value other than None."""
    return value is not None and const(value, _MISSING) is not None


def dtype_name(value: Any) -> str | None:
    """TensorFlow source for a spelled-out dtype (``torch.float32``, ``tf.float32``), else None."""
    text = src(value).strip()
    for prefix in ("torch.", "tf."):
        if text.startswith(prefix) and text[len(prefix) :] in DTYPES:
            return DTYPES[text[len(prefix) :]]
    return None


def dtype_source(dtype: Any) -> str | None:
    """TensorFlow source for a dtype argument (``torch.float32``, ``tf.float32``, ``x.dtype``)."""
    if not given(dtype):
        return None
    name = dtype_name(dtype)
    if name is not None:
        return name
    if is_literal(dtype):
        raise Unsupported(f"dtype {src(dtype)} is not translated", "use a torch dtype")
    return src(dtype)  # an expression such as ``x.dtype``: a tf.DType once ``x`` is a tf.Tensor


def is_literal(value: Any) -> bool:
    return const(value, _MISSING) is not _MISSING


def cast(x: str, dtype: Any) -> str:
    """``x`` cast to ``dtype`` when one is given (torch casts the input before the op)."""
    target = dtype_source(dtype)
    return x if target is None else f"tf.cast({x}, {target})"


def axis(dim: Any, name: str, allow_none: bool = True) -> str | None:
    """Source of a dim argument as an axis; ``None`` when absent."""
    value = const(dim, _MISSING)
    if value is None:
        if not allow_none:
            raise Unsupported(
                f"{name} without dim is not translated: torch picks an implicit dim (deprecated)",
                "pass dim= explicitly",
            )
        return None
    if isinstance(value, bool):
        raise Unsupported(f"{name}: dim={value} is not a dimension")
    return src(dim)


# --------------------------------------------------------------------------- activations


def _no_out(out: Any) -> None:
    if given(out):
        raise Unsupported("out= is not translated", "assign the result instead")


def _not_inplace(inplace: Any) -> None:
    """``inplace=True`` also overwrites the input (and every alias of it): not reproducible."""
    if const(inplace, _MISSING) is not False:
        raise Unsupported(
            "inplace=True also overwrites the input tensor, which TensorFlow cannot do",
            "drop inplace=True where the input is not read again (the result is the same)",
        )


@function(
    "torch.nn.functional.dropout",
    examples=(
        (
            "F.dropout(x, p=0.3, training=self.training)",
            "tf.nn.dropout(x, rate=0.3) if training else x",
        ),
    ),
)
def dropout(input, p=0.5, training=True, inplace=False):
    """tf.nn.dropout(x, rate=p) if training else x (both inverted dropout)."""
    _not_inplace(inplace)
    rate = const(p, None)
    if rate is not None and not (isinstance(rate, (int, float)) and 0 <= rate < 1):
        raise Unsupported(f"dropout(p={src(p)}) is not translated: TensorFlow needs 0 <= p < 1")
    mode = const(training, _MISSING)
    # tf.nn.dropout is inverted dropout like torch's: kept values are scaled by 1 / (1 - p).
    dropped = f"tf.nn.dropout({src(input)}, rate={src(p)})"
    if mode is True:  # torch's default: F.dropout drops even in eval mode
        return dropped
    if mode is False:
        return paren(src(input))
    return f"({dropped} if {src(training)} else {src(input)})"


@function(
    "torch.nn.functional.linear",
    examples=(("F.linear(x, y)", "tf.matmul(x, y, transpose_b=True)"),),
)
def linear(input, weight, bias=None):
    """tf.matmul(x, weight, transpose_b=True) + bias; a bias variable may hold None
    (``register_parameter("bias", None)``), which torch skips, hence the check."""
    product = f"tf.matmul({src(input)}, {src(weight)}, transpose_b=True)"
    if not given(bias):
        return product
    if re.fullmatch(r"[A-Za-z_][\w.]*", src(bias)):  # a name: maybe None at run time
        return f"({product} if {src(bias)} is None else {product} + {src(bias)})"
    return f"({product} + {paren(src(bias))})"


@function(
    "torch.nn.functional.normalize",
    examples=(("F.normalize(x)", "tf.keras.ops.normalize(x, axis=1, order=2, epsilon=1e-12)"),),
)
def normalize(input, p=2.0, dim=1, eps=1e-12, out=None):
    """tf.keras.ops.normalize(x, axis=dim, order=p, epsilon=eps): x / max(norm, eps)."""
    order = const(p, None)
    if not (isinstance(order, (int, float)) and order >= 1 and float(order).is_integer()):
        raise Unsupported(
            f"normalize(p={src(p)}) is not translated", "use an integer p >= 1 (2 is the default)"
        )
    _no_out(out)
    # x / max(||x||_p, eps), as torch computes it.
    return keras_call(
        "tf.keras.ops.normalize",
        src(input),
        axis=src(dim),
        order=repr(int(order)),
        epsilon=src(eps),
    )


def shape_length(shape: Any) -> int | None:
    """The number of dims in a ``normalized_shape`` argument, when its source shows it."""
    value = const(shape, _MISSING)
    if isinstance(value, int):
        return 1
    if isinstance(value, (tuple, list)):
        return len(value)
    try:
        node = ast.parse(src(shape).strip(), mode="eval").body
    except SyntaxError:
        return None
    return len(node.elts) if isinstance(node, (ast.Tuple, ast.List)) else None


@function(
    "torch.nn.functional.layer_norm",
    examples=(
        ("F.layer_norm(x, (6,))", "tf.keras.ops.layer_normalization(x, axis=-1, epsilon=1e-05)"),
        (
            "F.layer_norm(x, shape)",
            "tf.keras.ops.layer_normalization(x, axis=torch_normalized_axes(shape), epsilon=1e-05)",
        ),
    ),
)
def layer_norm(input, normalized_shape, weight=None, bias=None, eps=1e-5):
    """tf.keras.ops.layer_normalization over the last len(normalized_shape) axes.

    Counted at run time (``torch_normalized_axes``) where the source does not show them, e.g.
    a LayerNorm subclass's ``self.normalized_shape``; the tensor facts refuse a channels-last
    map as its input, so the trailing axes are torch's."""
    count = shape_length(normalized_shape)
    if count is None:
        axes = f"torch_normalized_axes({src(normalized_shape)})"
    else:
        axes = "-1" if count == 1 else repr(list(range(-count, 0)))
    return keras_call(
        "tf.keras.ops.layer_normalization",
        src(input),
        gamma=src(weight) if given(weight) else None,
        beta=src(bias) if given(bias) else None,
        axis=axes,
        epsilon=src(eps),
    )
