"""torch element-wise math (torch.exp, torch.add, torch.clamp, torch.where, ...) and their Tensor
methods -> TensorFlow.

As in :mod:`torch2tf.rules.tensor`, a function and the method of the same name share one rule.
"""

from __future__ import annotations

from typing import Any

from torch2tf.rules.functional import _MISSING, _no_out, given, paren, src
from torch2tf.rules.registry import Unsupported, const, function, method


def _unary(tf_func: str, *torch_names: str, methods: tuple[str, ...] = ()) -> None:
    """One rule for the functions and methods named; its examples are generated, one of each."""

    def rule(input, *, out=None):
        _no_out(out)
        return f"{tf_func}({src(input)})"

    rule.__name__ = rule.__qualname__ = torch_names[0].rsplit(".", 1)[-1]
    rule.__doc__ = f"{tf_func} (identical)."
    name = torch_names[0].rsplit(".", 1)[-1]
    function(*torch_names, examples=((f"torch.{name}(x)", f"{tf_func}(x)"),))(rule)
    if methods:
        method(*methods, examples=((f"x.{methods[0]}()", f"{tf_func}(x)"),))(rule)


_unary("tf.exp", "torch.exp", methods=("exp",))
_unary("tf.math.log", "torch.log", methods=("log",))
_unary("tf.math.log1p", "torch.log1p", methods=("log1p",))
_unary("tf.sqrt", "torch.sqrt", methods=("sqrt",))
_unary("tf.math.rsqrt", "torch.rsqrt", methods=("rsqrt",))
_unary("tf.abs", "torch.abs", methods=("abs",))
_unary("tf.negative", "torch.neg", "torch.negative", methods=("neg", "negative"))
_unary("tf.sign", "torch.sign", methods=("sign",))
_unary("tf.square", "torch.square", methods=("square",))
_unary("tf.sin", "torch.sin", methods=("sin",))
_unary("tf.cos", "torch.cos", methods=("cos",))
_unary("tf.round", "torch.round", methods=("round",))  # both round half to even
_unary("tf.floor", "torch.floor", methods=("floor",))
_unary("tf.math.ceil", "torch.ceil", methods=("ceil",))


def _scaled(value: Any, tensor: Any) -> str:
    """``value * tensor``, or ``tensor`` alone when ``value`` is the constant 1."""
    if const(value, None) == 1 and not isinstance(const(value, None), bool):
        return paren(src(tensor))
    return f"{paren(src(value))} * {paren(src(tensor))}"


@function("torch.add", examples=(("torch.add(x, x, alpha=0.5)", "x + 0.5 * x"),))
@method("add")
def add(input, other, *, alpha=1, out=None):
    """input + alpha * other (Python operators, which promote as torch does for floats)."""
    _no_out(out)
    return f"{paren(src(input))} + {_scaled(alpha, other)}"


@function(
    "torch.sub",
    "torch.subtract",
    examples=(
        ("torch.sub(x, y, alpha=2)", "x - 2 * y"),
        ("x.sub(y)", "x - y"),
    ),
)
@method("sub", "subtract")
def sub(input, other, *, alpha=1, out=None):
    """input - alpha * other."""
    _no_out(out)
    return f"{paren(src(input))} - {_scaled(alpha, other)}"


@function(
    "torch.mul",
    "torch.multiply",
    examples=(
        ("torch.mul(x, y)", "x * y"),
        ("x.mul(2.0)", "x * 2.0"),
    ),
)
@method("mul", "multiply")
def mul(input, other, *, out=None):
    """input * other."""
    _no_out(out)
    return f"{paren(src(input))} * {paren(src(other))}"


@function(
    "torch.div",
    "torch.divide",
    "torch.true_divide",
    examples=(
        ("torch.div(x, y)", "x / y"),
        ("x.div(2.0)", "x / 2.0"),
        ("x.div(y, rounding_mode='floor')", "x // y"),
    ),
)
@method("div", "divide", "true_divide")
def div(input, other, *, rounding_mode=None, out=None):
    """input / other (as the operator); rounding_mode="floor": input // other."""
    _no_out(out)
    mode = const(rounding_mode, _MISSING)
    if mode not in (None, "floor"):
        raise Unsupported(f"div with rounding_mode={src(rounding_mode)} is not translated")
    operator = "//" if mode == "floor" else "/"
    return f"{paren(src(input))} {operator} {paren(src(other))}"


@function(
    "torch.addcmul",
    examples=(("torch.addcmul(y[:, 0], x[:, :3], y[:, 1])", "y[:, 0] + x[:, :3] * y[:, 1]"),),
)
@method("addcmul")
def addcmul(input, tensor1, tensor2, *, value=1, out=None):
    """input + value * tensor1 * tensor2."""
    _no_out(out)
    product = f"{paren(src(tensor1))} * {paren(src(tensor2))}"
    if not (const(value, None) == 1 and not isinstance(const(value, None), bool)):
        product = f"{paren(src(value))} * {product}"
    return f"{paren(src(input))} + {product}"


@function(
    "torch.clamp",
    "torch.clip",
    examples=(
        ("torch.clamp(x, -0.2, 0.3)", "tf.minimum(tf.maximum(x, -0.2), 0.3)"),
        ("x.clamp(min=0.1)", "tf.maximum(x, 0.1)"),
    ),
)
@method("clamp", "clip")
def clamp(input, min=None, max=None, *, out=None):
    """tf.minimum(tf.maximum(x, min), max): torch's order when min > max."""
    _no_out(out)
    # min(max(x, lo), hi) is torch's order: with lo > hi it gives hi, as torch does
    # (tf.clip_by_value gives lo).
    x = src(input)
    if given(min):
        x = f"tf.maximum({x}, {src(min)})"
    if given(max):
        x = f"tf.minimum({x}, {src(max)})"
    if not (given(min) or given(max)):
        raise Unsupported("clamp without min or max is not translated (torch raises)")
    return x


def _number(value: Any) -> bool:
    return isinstance(const(value, None), (int, float)) and not isinstance(const(value), bool)


@function("torch.where", examples=(("torch.where(x > 0, x, 0.0)", "tf.where(x > 0, x, 0.0)"),))
def where(condition, input=None, other=None, *, out=None):
    """tf.where(condition, input, other); a leading number -> tf.keras.ops.where."""
    _no_out(out)
    if input is None or other is None:
        raise Unsupported(
            "torch.where(condition) (the indices of nonzero elements) is not translated",
            "use torch.nonzero(condition, as_tuple=True) outside the model",
        )
    # A Python number takes the other branch's dtype in torch and in Keras's where; traced
    # tf.where makes a leading number float32 before it sees the other branch.
    where = "tf.keras.ops.where" if _number(input) else "tf.where"
    return f"{where}({src(condition)}, {src(input)}, {src(other)})"


@function("torch.pow", examples=(("torch.pow(x, 0.5)", "tf.pow(x, 0.5)"),))
@method("pow")
def pow_(input, exponent, *, out=None):
    """tf.pow(x, exponent)."""
    _no_out(out)
    return f"tf.pow({src(input)}, {src(exponent)})"


@method(
    "masked_fill",
    examples=(("x.masked_fill(x > 0.2, -1.0)", "tf.where(x > 0.2, tf.cast(-1.0, x.dtype), x)"),),
)
def masked_fill(tensor, mask, value):
    """tf.where(mask, value cast to x's dtype, x)."""
    x = src(tensor)
    if x.isidentifier() or all(part.isidentifier() for part in x.split(".")):
        # torch casts the value to the tensor's dtype.
        return f"tf.where({src(mask)}, tf.cast({src(value)}, {x}.dtype), {x})"
    return f"tf.keras.ops.where({src(mask)}, {src(value)}, {x})"
