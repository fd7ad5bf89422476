"""torch.nn.functional (and the torch.* activation aliases) -> TensorFlow expressions.

Each rule has the torch function's own signature and returns TensorFlow source. A rule whose
TensorFlow counterpart differs in any case it can meet (a default, a dtype, a size-1 dim)
either spells out the torch behaviour or refuses with ``Unsupported``; where no TensorFlow op
matches, it calls a ``torch_*`` helper from ``keras_helpers/ops.py``.
"""

from __future__ import annotations

import ast
import re
from typing import Any

from torch2tf.rules.registry import Unsupported, const, function, keras_call, method
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
    "torch.nn.functional.relu",
    "torch.relu",
    examples=(
        ("F.relu(x)", "tf.nn.relu(x)"),
        ("x.relu()", "tf.nn.relu(x)"),
    ),
)
@method("relu")
def relu(input, inplace=False):
    """tf.nn.relu (identical)."""
    _not_inplace(inplace)
    return f"tf.nn.relu({src(input)})"


@function("torch.nn.functional.relu6", examples=(("F.relu6(x * 8)", "tf.nn.relu6(x * 8)"),))
def relu6(input, inplace=False):
    """tf.nn.relu6 (identical)."""
    _not_inplace(inplace)
    return f"tf.nn.relu6({src(input)})"


@function(
    "torch.nn.functional.leaky_relu",
    examples=(("F.leaky_relu(x)", "tf.nn.leaky_relu(x, alpha=0.01)"),),
)
def leaky_relu(input, negative_slope=0.01, inplace=False):
    """tf.nn.leaky_relu with alpha=negative_slope always given (TF's default is 0.2)."""
    _not_inplace(inplace)
    # tf.nn.leaky_relu's default alpha is 0.2, so the slope is always spelled out.
    return f"tf.nn.leaky_relu({src(input)}, alpha={src(negative_slope)})"


@function("torch.nn.functional.elu", examples=(("F.elu(x)", "tf.nn.elu(x)"),))
def elu(input, alpha=1.0, inplace=False):
    """tf.nn.elu; alpha != 1 -> tf.keras.ops.elu(x, alpha)."""
    _not_inplace(inplace)
    if const(alpha, None) == 1:
        return f"tf.nn.elu({src(input)})"
    return f"tf.keras.ops.elu({src(input)}, alpha={src(alpha)})"


@function(
    "torch.nn.functional.celu",
    examples=(("F.celu(x, alpha=0.5)", "tf.keras.ops.celu(x, alpha=0.5)"),),
)
def celu(input, alpha=1.0, inplace=False):
    """tf.keras.ops.celu(x, alpha): max(0, x) + alpha * expm1(min(0, x) / alpha)."""
    _not_inplace(inplace)
    if const(alpha, None) == 0:
        raise Unsupported("celu(alpha=0) divides by zero")
    if const(alpha, None) == 1:
        return f"tf.keras.ops.celu({src(input)})"
    return f"tf.keras.ops.celu({src(input)}, alpha={src(alpha)})"


@function("torch.nn.functional.selu", examples=(("F.selu(x)", "tf.nn.selu(x)"),))
def selu(input, inplace=False):
    """tf.nn.selu (same constants)."""
    _not_inplace(inplace)
    return f"tf.nn.selu({src(input)})"


@function("torch.nn.functional.gelu", examples=(("F.gelu(x * 3)", "tf.nn.gelu(x * 3)"),))
def gelu(input, approximate="none"):
    """tf.nn.gelu (erf); approximate='tanh' -> approximate=True."""
    mode = const(approximate, None)
    if mode == "none":
        return f"tf.nn.gelu({src(input)})"
    if mode == "tanh":
        return f"tf.nn.gelu({src(input)}, approximate=True)"
    raise Unsupported(
        f"gelu(approximate={src(approximate)}) is not translated",
        "use a literal 'none' (exact erf form) or 'tanh'",
    )


@function("torch.nn.functional.silu", examples=(("F.silu(x)", "tf.nn.silu(x)"),))
def silu(input, inplace=False):
    """tf.nn.silu (identical)."""
    _not_inplace(inplace)
    return f"tf.nn.silu({src(input)})"


@function(
    "torch.nn.functional.mish", examples=(("F.mish(x * 3)", "tf.keras.activations.mish(x * 3)"),)
)
def mish(input, inplace=False):
    """tf.keras.activations.mish: x * tanh(softplus(x))."""
    _not_inplace(inplace)
    return f"tf.keras.activations.mish({src(input)})"


@function(
    "torch.nn.functional.sigmoid",
    "torch.sigmoid",
    examples=(
        ("torch.sigmoid(x)", "tf.sigmoid(x)"),
        ("x.sigmoid()", "tf.sigmoid(x)"),
        ("F.sigmoid(x)", "tf.sigmoid(x)"),
    ),
)
@method("sigmoid")
def sigmoid(input, *, out=None):
    """tf.sigmoid (identical)."""
    _no_out(out)
    return f"tf.sigmoid({src(input)})"


@function(
    "torch.nn.functional.tanh",
    "torch.tanh",
    examples=(
        ("torch.tanh(x)", "tf.tanh(x)"),
        ("x.tanh()", "tf.tanh(x)"),
        ("F.tanh(x)", "tf.tanh(x)"),
    ),
)
@method("tanh")
def tanh(input, *, out=None):
    """tf.tanh (identical)."""
    _no_out(out)
    return f"tf.tanh({src(input)})"


@function(
    "torch.nn.functional.softplus", examples=(("F.softplus(x * 30)", "tf.nn.softplus(x * 30)"),)
)
def softplus(input, beta=1.0, threshold=20.0):
    """tf.nn.softplus; other beta/threshold -> torch_softplus helper (linear above it)."""
    b, t = const(beta, None), const(threshold, None)
    if b == 1 and t == 20:
        # TensorFlow switches to the identity above ~14 (float32) and torch above 20: there
        # softplus(x) and x agree to float32 round-off.
        return f"tf.nn.softplus({src(input)})"
    return keras_call("torch_softplus", src(input), src(beta), src(threshold))


@function("torch.nn.functional.softsign", examples=(("F.softsign(x)", "tf.nn.softsign(x)"),))
def softsign(input):
    """tf.nn.softsign (identical)."""
    return f"tf.nn.softsign({src(input)})"


@function(
    "torch.nn.functional.hardtanh",
    examples=(("F.hardtanh(x, -0.5, 0.5)", "tf.clip_by_value(x, -0.5, 0.5)"),),
)
def hardtanh(input, min_val=-1.0, max_val=1.0, inplace=False):
    """tf.clip_by_value(x, min_val, max_val)."""
    _not_inplace(inplace)
    return f"tf.clip_by_value({src(input)}, {src(min_val)}, {src(max_val)})"


@function(
    "torch.nn.functional.hardswish",
    examples=(("F.hardswish(x * 4)", "tf.keras.ops.hard_silu(x * 4)"),),
)
def hardswish(input, inplace=False):
    """tf.keras.ops.hard_silu: x * relu6(x + 3) / 6."""
    _not_inplace(inplace)
    return f"tf.keras.ops.hard_silu({src(input)})"


@function(
    "torch.nn.functional.hardsigmoid",
    examples=(("F.hardsigmoid(x * 4)", "tf.keras.ops.hard_sigmoid(x * 4)"),),
)
def hardsigmoid(input, inplace=False):
    """tf.keras.ops.hard_sigmoid: relu6(x + 3) / 6 (Keras 3's formula)."""
    _not_inplace(inplace)
    # Keras 3's hard_sigmoid is relu6(x + 3) / 6, as torch's (Keras 2's was 0.2 x + 0.5).
    return f"tf.keras.ops.hard_sigmoid({src(input)})"


@function(
    "torch.nn.functional.logsigmoid", examples=(("F.logsigmoid(x)", "tf.math.log_sigmoid(x)"),)
)
def logsigmoid(input):
    """tf.math.log_sigmoid (identical)."""
    return f"tf.math.log_sigmoid({src(input)})"


def _softmax(name: str, tf_func: str, input, dim, dtype, negate=False) -> str:
    target = dtype_source(dtype)
    x = src(input) if target is None else f"tf.cast({src(input)}, {target})"
    if negate:
        x = f"-{paren(x)}"
    return f"{tf_func}({x}, axis={axis(dim, name, allow_none=False)})"


@function(
    "torch.nn.functional.softmax", examples=(("F.softmax(x, dim=1)", "tf.nn.softmax(x, axis=1)"),)
)
def softmax(input, dim=None, _stacklevel=3, dtype=None):
    """tf.nn.softmax(x, axis=dim) on any axis; dim=None (implicit) is refused."""
    return _softmax("softmax", "tf.nn.softmax", input, dim, dtype)


@function(
    "torch.nn.functional.log_softmax",
    examples=(("F.log_softmax(x, dim=-1)", "tf.nn.log_softmax(x, axis=-1)"),),
)
def log_softmax(input, dim=None, _stacklevel=3, dtype=None):
    """tf.nn.log_softmax(x, axis=dim); dim=None (implicit) is refused."""
    return _softmax("log_softmax", "tf.nn.log_softmax", input, dim, dtype)


@function(
    "torch.nn.functional.softmin",
    examples=(("F.softmin(x + 1, dim=1)", "tf.nn.softmax(-(x + 1), axis=1)"),),
)
def softmin(input, dim=None, _stacklevel=3, dtype=None):
    """tf.nn.softmax(-x, axis=dim); dim=None (implicit) is refused."""
    return _softmax("softmin", "tf.nn.softmax", input, dim, dtype, negate=True)


@function(
    "torch.softmax",
    examples=(
        ("torch.softmax(x, dim=-1)", "tf.nn.softmax(x, axis=-1)"),
        ("x.softmax(-1)", "tf.nn.softmax(x, axis=-1)"),
    ),
)
@method("softmax")
def torch_softmax(input, dim, dtype=None):
    """tf.nn.softmax(x, axis=dim); dtype= casts first, as torch does."""
    return _softmax("softmax", "tf.nn.softmax", input, dim, dtype)


@function("torch.log_softmax", examples=(("y.log_softmax(2)", "tf.nn.log_softmax(y, axis=2)"),))
@method("log_softmax")
def torch_log_softmax(input, dim, dtype=None):
    """tf.nn.log_softmax(x, axis=dim); dtype= casts first, as torch does."""
    return _softmax("log_softmax", "tf.nn.log_softmax", input, dim, dtype)


@function("torch.nn.functional.glu", examples=(("F.glu(x)", "tf.keras.ops.glu(x, axis=-1)"),))
def glu(input, dim=-1):
    """tf.keras.ops.glu(x, axis=dim): first half * sigmoid(second half)."""
    return f"tf.keras.ops.glu({src(input)}, axis={src(dim)})"


@function(
    "torch.nn.functional.tanhshrink", examples=(("F.tanhshrink(x)", "tf.keras.ops.tanh_shrink(x)"),)
)
def tanhshrink(input):
    """tf.keras.ops.tanh_shrink: x - tanh(x)."""
    return f"tf.keras.ops.tanh_shrink({src(input)})"


@function(
    "torch.nn.functional.softshrink",
    examples=(("F.softshrink(x, 0.3)", "tf.keras.ops.soft_shrink(x, threshold=0.3)"),),
)
def softshrink(input, lambd=0.5):
    """tf.keras.ops.soft_shrink(x, threshold=lambd)."""
    return f"tf.keras.ops.soft_shrink({src(input)}, threshold={src(lambd)})"


@function(
    "torch.nn.functional.hardshrink",
    examples=(("F.hardshrink(x)", "tf.keras.ops.hard_shrink(x, threshold=0.5)"),),
)
def hardshrink(input, lambd=0.5):
    """tf.keras.ops.hard_shrink(x, threshold=lambd)."""
    return f"tf.keras.ops.hard_shrink({src(input)}, threshold={src(lambd)})"


@function(
    "torch.nn.functional.threshold",
    examples=(("F.threshold(x, 0.1, 20.0)", "tf.keras.ops.threshold(x, 0.1, 20.0)"),),
)
def threshold(input, threshold, value, inplace=False):
    """tf.keras.ops.threshold(x, threshold, value): x where x > threshold."""
    _not_inplace(inplace)
    return f"tf.keras.ops.threshold({src(input)}, {src(threshold)}, {src(value)})"


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
    ),
)
def layer_norm(input, normalized_shape, weight=None, bias=None, eps=1e-5):
    """tf.keras.ops.layer_normalization over the last len(normalized_shape) axes."""
    count = shape_length(normalized_shape)
    if count is None:
        raise Unsupported(
            "layer_norm: the number of normalized dims is not visible in the source",
            "write normalized_shape as a tuple, e.g. (d,)",
        )
    axes = "-1" if count == 1 else repr(list(range(-count, 0)))
    return keras_call(
        "tf.keras.ops.layer_normalization",
        src(input),
        gamma=src(weight) if given(weight) else None,
        beta=src(bias) if given(bias) else None,
        axis=axes,
        epsilon=src(eps),
    )
