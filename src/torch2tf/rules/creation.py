"""torch tensor creation (torch.zeros, torch.arange, torch.ones_like, torch.tril, ...) ->
TensorFlow.
"""

from __future__ import annotations

from torch2tf.rules.functional import _MISSING, _no_out, dtype_source, given, paren, src
from torch2tf.rules.registry import Unsupported, const, function, keras_call, method
from torch2tf.rules.shapes import _sizes


def _like(tf_func: str, input, dtype, requires_grad) -> str:
    if const(requires_grad, _MISSING) is not False:
        raise Unsupported("requires_grad= is not translated")
    return keras_call(tf_func, src(input), dtype=dtype_source(dtype))


@function("torch.zeros_like", examples=(("torch.zeros_like(x)", "tf.zeros_like(x)"),))
def zeros_like(
    input, *, dtype=None, layout=None, device=None, requires_grad=False, memory_format=None
):
    """tf.zeros_like(x, dtype=...)."""
    return _like("tf.zeros_like", input, dtype, requires_grad)


@function("torch.ones_like", examples=(("torch.ones_like(x)", "tf.ones_like(x)"),))
def ones_like(
    input, *, dtype=None, layout=None, device=None, requires_grad=False, memory_format=None
):
    """tf.ones_like(x, dtype=...)."""
    return _like("tf.ones_like", input, dtype, requires_grad)


def _random_like(tf_func: str, input, dtype, requires_grad) -> str:
    if const(requires_grad, _MISSING) is not False:
        raise Unsupported("requires_grad= is not translated")
    x = src(input)
    return keras_call(tf_func, f"tf.shape({x})", dtype=dtype_source(dtype) or f"{paren(x)}.dtype")


@function(
    "torch.randn_like",
    examples=(("torch.randn_like(x)", "tf.random.normal(tf.shape(x), dtype=x.dtype)"),),
)
def randn_like(
    input, *, dtype=None, layout=None, device=None, requires_grad=False, memory_format=None
):
    """tf.random.normal(tf.shape(x), dtype=x.dtype): N(0, 1), from TensorFlow's generator."""
    return _random_like("tf.random.normal", input, dtype, requires_grad)


@function(
    "torch.rand_like",
    examples=(("torch.rand_like(x)", "tf.random.uniform(tf.shape(x), dtype=x.dtype)"),),
)
def rand_like(
    input, *, dtype=None, layout=None, device=None, requires_grad=False, memory_format=None
):
    """tf.random.uniform(tf.shape(x), dtype=x.dtype): U[0, 1), from TensorFlow's generator."""
    return _random_like("tf.random.uniform", input, dtype, requires_grad)


@function("torch.arange", examples=(("torch.arange(6)", "tf.range(6, dtype=tf.int64)"),))
def arange(
    start=0,
    end=None,
    step=1,
    *,
    out=None,
    dtype=None,
    layout=None,
    device=None,
    requires_grad=False,
    pin_memory=False,
):
    """tf.range with torch's dtype (int64, float32 for float bounds)."""
    _no_out(out)
    if not given(end):  # arange(end)
        start, end = 0, start
    bounds = [src(start), src(end), src(step)]
    if const(step, None) == 1:
        bounds.pop()
        if const(start, None) == 0:
            bounds.pop(0)
    values = [const(v, _MISSING) for v in (start, end, step)]
    target = dtype_source(dtype)
    if target is None and _MISSING in values:
        # torch infers int64, or float32 when a bound is a float: known only at run time.
        return keras_call("torch_arange", *bounds)
    floating = any(isinstance(v, float) for v in values)
    if target is None:
        target = "tf.float32" if floating else "tf.int64"  # tf.range would give int32
    elif floating and target.startswith("tf.int"):
        raise Unsupported("arange with float bounds and an integer dtype is not translated")
    return keras_call("tf.range", *bounds, dtype=target)


@function(
    "torch.linspace",
    examples=(
        ("torch.linspace(1.0, 5.0, 8)", "torch_linspace(1.0, 5.0, 8)"),
        (
            "torch.linspace(-1, 1, steps=9, dtype=torch.float64)",
            "torch_linspace(-1, 1, 9, dtype=tf.float64)",
        ),
    ),
)
def linspace(
    start,
    end,
    steps,
    *,
    out=None,
    dtype=None,
    layout=None,
    device=None,
    requires_grad=False,
):
    """torch_linspace helper: torch's values (the first half counted up from start, the rest
    down from end) in torch's default float32."""
    _no_out(out)
    if const(requires_grad, _MISSING) is not False:
        raise Unsupported("requires_grad= is not translated")
    return keras_call("torch_linspace", src(start), src(end), src(steps), dtype=dtype_source(dtype))


def _filled(tf_func: str, sizes: tuple, size, dtype, requires_grad, out) -> str:
    _no_out(out)
    if const(requires_grad, _MISSING) is not False:
        raise Unsupported("requires_grad= is not translated")
    if given(size):
        sizes = (*sizes, size)
    # torch's default dtype is float32, as TensorFlow's; dtype=torch.bool gives True/False.
    return keras_call(tf_func, _sizes(sizes, tf_func), dtype=dtype_source(dtype))


@function("torch.ones", examples=(("torch.ones(2, 3)", "tf.ones((2, 3))"),))
def ones(
    *sizes,
    size=None,
    out=None,
    dtype=None,
    layout=None,
    device=None,
    requires_grad=False,
    pin_memory=False,
):
    """tf.ones(shape, dtype=...) (float32 by default in both); the shape as varargs or size=."""
    return _filled("tf.ones", sizes, size, dtype, requires_grad, out)


@function(
    "torch.zeros",
    examples=(
        ("torch.zeros(2, 3)", "tf.zeros((2, 3))"),
        ("torch.zeros(size=(x.size()[0], 5))", "tf.zeros((tf.keras.ops.shape(x)[0], 5))"),
    ),
)
def zeros(
    *sizes,
    size=None,
    out=None,
    dtype=None,
    layout=None,
    device=None,
    requires_grad=False,
    pin_memory=False,
):
    """tf.zeros(shape, dtype=...) (float32 by default in both); the shape as varargs or size=."""
    return _filled("tf.zeros", sizes, size, dtype, requires_grad, out)


@function(
    "torch.eye",
    examples=(("torch.eye(4)", "tf.eye(4)"), ("torch.eye(2, 3)", "tf.eye(2, num_columns=3)")),
)
def eye(
    n,
    m=None,
    *,
    out=None,
    dtype=None,
    layout=None,
    device=None,
    requires_grad=False,
    pin_memory=False,
):
    """tf.eye(n, num_columns=m, dtype=...) (float32 by default in both)."""
    _no_out(out)
    if const(requires_grad, _MISSING) is not False:
        raise Unsupported("requires_grad= is not translated")
    columns = src(m) if given(m) else None
    return keras_call("tf.eye", src(n), num_columns=columns, dtype=dtype_source(dtype))


def _band(kind: str, input, diagonal) -> str:
    offset = const(diagonal, _MISSING)
    if offset == 0 and not isinstance(offset, bool):
        lower, upper = ("-1", "0") if kind == "tril" else ("0", "-1")
        return f"tf.linalg.band_part({src(input)}, {lower}, {upper})"
    return keras_call(f"torch_{kind}", src(input), src(diagonal))


@function(
    "torch.tril",
    examples=(
        ("torch.tril(x)", "tf.linalg.band_part(x, -1, 0)"),
        ("x.triu(1)", "torch_triu(x, 1)"),
    ),
)
@method("tril")
def tril(input, diagonal=0, *, out=None):
    """tf.linalg.band_part(x, -1, 0); another diagonal -> torch_tril helper."""
    _no_out(out)
    return _band("tril", input, diagonal)


@function("torch.triu", examples=(("torch.triu(x, diagonal=1)", "torch_triu(x, 1)"),))
@method("triu")
def triu(input, diagonal=0, *, out=None):
    """tf.linalg.band_part(x, 0, -1); another diagonal -> torch_triu helper."""
    _no_out(out)
    return _band("triu", input, diagonal)


@function("torch.empty", examples=(("torch.empty(2, 3)", "tf.zeros((2, 3))"),))
def empty(
    *size,
    out=None,
    dtype=None,
    layout=None,
    device=None,
    requires_grad=False,
    pin_memory=False,
    memory_format=None,
):
    """tf.zeros(shape, dtype=...): torch leaves the values undefined, any values are its."""
    return _filled("tf.zeros", size, None, dtype, requires_grad, out)


@function("torch.bernoulli", examples=(("torch.bernoulli(x)", "torch_bernoulli(x)"),))
@method(
    "bernoulli",
    examples=(
        ("x.bernoulli(0.8)", "torch_bernoulli(x, 0.8)"),
        ("x.bernoulli()", "torch_bernoulli(x)"),
    ),
)
def bernoulli(input, p=None, *, generator=None, out=None):
    """torch_bernoulli: 1 with probability p (else x's values), 0 otherwise, in x's dtype.

    From TensorFlow's generator: seeded by tf.random.set_seed, never torch's numbers."""
    _no_out(out)
    if given(generator) and const(generator, _MISSING) is not None:
        raise Unsupported(
            "generator= is not translated: TensorFlow's random numbers differ from torch's",
            "drop generator= and seed with torch.manual_seed (-> tf.random.set_seed)",
        )
    if const(p, _MISSING) is None:
        return keras_call("torch_bernoulli", src(input))
    return keras_call("torch_bernoulli", src(input), src(p))


@function(
    "torch.nn.functional.one_hot",
    examples=(("F.one_hot(x.long(), num_classes=5)", "torch_one_hot(tf.cast(x, tf.int64), 5)"),),
)
def one_hot(tensor, num_classes=-1):
    """torch_one_hot helper: int64 rows of num_classes; an index outside [0, num_classes),
    which torch refuses and tf.one_hot would make a row of zeros, raises."""
    if const(num_classes, None) == -1:
        raise Unsupported(
            "F.one_hot without num_classes counts the classes from the data (its max + 1)",
            "pass num_classes",
        )
    return f"torch_one_hot({src(tensor)}, {src(num_classes)})"
