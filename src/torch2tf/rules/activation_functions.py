"""torch's activation functions (``F.relu``, ``torch.sigmoid``, ``F.softmax``, ...) and their
Tensor methods -> TensorFlow expressions (rules as in :mod:`torch2tf.rules.functional`)."""

from __future__ import annotations

from torch2tf.rules.functional import _no_out, _not_inplace, axis, dtype_source, paren, src
from torch2tf.rules.registry import Unsupported, const, function, keras_call, method


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
