"""torch tensor functions (torch.cat, torch.sum, ...) and torch.Tensor methods -> TensorFlow.

A function and the method of the same name share one rule: the method's tensor arrives as the
first argument, exactly where the function has ``input``. Dims keep their meaning, negative
ones included (TensorFlow counts from the end in the same way); where TensorFlow's op needs
more than torch's (tf.transpose a full permutation, tf.split equal pieces), the rule calls a
``torch_*`` helper from ``keras_helpers/ops.py`` instead.

Sizes: ``x.size()`` becomes ``tf.keras.ops.shape(x)``, a tuple holding a Python int for every
statically known dim and a scalar tensor for the others, which is what torch.Size is to a
traced graph: reshapes keep their static shapes and arithmetic on sizes works in tf.function.
"""

from __future__ import annotations

import ast
from typing import Any

from torch2tf.rules.functional import (
    _MISSING,
    _no_out,
    cast,
    dtype_name,
    dtype_source,
    given,
    paren,
    src,
)
from torch2tf.rules.registry import Arg, Unsupported, const, function, keras_call, method


def _elements(value: Any) -> list[str] | None:
    """Source of each element of a list or tuple display, else None."""
    text = src(value).strip()
    try:
        node = ast.parse(text, mode="eval").body
    except SyntaxError:
        return None
    if not isinstance(node, (ast.Tuple, ast.List)):
        return None
    if any(isinstance(e, ast.Starred) for e in node.elts):
        return None
    return [ast.get_source_segment(text, e) or "" for e in node.elts]


def _sizes(args: tuple, name: str) -> str:
    """A shape from ``view(2, 3)``-style varargs or one sequence (``view((2, 3))``)."""
    if not args:
        raise Unsupported(f"{name}() without sizes is not translated")
    if len(args) == 1:
        single = args[0]
        if dtype_name(single) is not None:
            raise Unsupported(
                f"{name}(dtype) reinterprets the bytes and is not translated", "use .to(dtype)"
            )
        value = const(single, _MISSING)
        if isinstance(value, int) and not isinstance(value, bool):
            return f"[{src(single)}]"
        return src(single)  # a sequence (or a size tf.reshape takes alike)
    return f"({', '.join(src(a) for a in args)})"


def _keepdims(keepdim: Any) -> str | None:
    value = const(keepdim, _MISSING)
    return None if value is False else src(keepdim)


def _all_dims(dim: Any) -> bool:
    """torch reduces over every dim for dim=None and for an empty dim list."""
    value = const(dim, _MISSING)
    return value is None or (isinstance(value, (tuple, list)) and not value)


# --------------------------------------------------------------------------- joining, splitting


@function("torch.cat", "torch.concat")
def cat(tensors, dim=0, *, out=None):
    """tf.concat(tensors, axis=dim)."""
    _no_out(out)
    return f"tf.concat({src(tensors)}, axis={src(dim)})"


@function("torch.concatenate")
def concatenate(tensors, axis=0, out=None):
    """tf.concat(tensors, axis=axis)."""
    _no_out(out)
    return f"tf.concat({src(tensors)}, axis={src(axis)})"


@function("torch.stack")
def stack(tensors, dim=0, *, out=None):
    """tf.stack(tensors, axis=dim)."""
    _no_out(out)
    return f"tf.stack({src(tensors)}, axis={src(dim)})"


@function("torch.split")
def split(tensor, split_size_or_sections, dim=0):
    """sizes list -> tf.split; an int (piece size) -> torch_split helper."""
    sections = _elements(split_size_or_sections)
    if sections is not None:  # a list of sizes means the same in both
        return f"tf.split({src(tensor)}, [{', '.join(sections)}], axis={src(dim)})"
    # An int is the size of each piece in torch but the number of pieces in tf.split.
    return keras_call(
        "torch_split",
        src(tensor),
        src(split_size_or_sections),
        dim=None if const(dim, None) == 0 else src(dim),
    )


@method("split")
def split_method(tensor, split_size=None, dim=0):
    """Tensor.split as torch.split; str.split in a module is left alone."""
    if split_size is None or isinstance(const(split_size, None), str):
        # str.split inside a module: not a tensor; keep the call as written.
        args = "" if split_size is None else src(split_size)
        return f"{paren(src(tensor))}.split({args})"
    return split(tensor, split_size, dim)


@function("torch.chunk")
@method("chunk")
def chunk(input, chunks, dim=0):
    """torch_chunk helper: pieces of ceil(n / chunks), maybe fewer than chunks."""
    # torch's pieces have ceil(n / chunks) elements and may be fewer than chunks.
    return keras_call(
        "torch_chunk", src(input), src(chunks), dim=None if const(dim, None) == 0 else src(dim)
    )


@function("torch.cumsum")
@method("cumsum")
def cumsum(input, dim, *, dtype=None, out=None):
    """tf.math.cumsum(x, axis=dim)."""
    _no_out(out)
    return keras_call("tf.math.cumsum", cast(src(input), dtype), axis=src(dim))


@function("torch.cumprod")
@method("cumprod")
def cumprod(input, dim, *, dtype=None, out=None):
    """tf.math.cumprod(x, axis=dim)."""
    _no_out(out)
    return keras_call("tf.math.cumprod", cast(src(input), dtype), axis=src(dim))


# --------------------------------------------------------------------------- reductions


def _reduce(tf_func: str, input, dim, keepdim, dtype=None) -> str:
    axis = None if _all_dims(dim) else src(dim)
    return keras_call(tf_func, cast(src(input), dtype), axis=axis, keepdims=_keepdims(keepdim))


@function("torch.sum")
@method("sum")
def sum_(input, dim=None, keepdim=False, *, dtype=None, out=None):
    """tf.reduce_sum(x, axis=dim, keepdims=keepdim)."""
    _no_out(out)
    return _reduce("tf.reduce_sum", input, dim, keepdim, dtype)


@function("torch.mean")
@method("mean")
def mean(input, dim=None, keepdim=False, *, dtype=None, out=None):
    """tf.reduce_mean(x, axis=dim, keepdims=keepdim)."""
    _no_out(out)
    return _reduce("tf.reduce_mean", input, dim, keepdim, dtype)


@function("torch.prod")
@method("prod")
def prod(input, dim=None, keepdim=False, *, dtype=None, out=None):
    """tf.reduce_prod(x, axis=dim, keepdims=keepdim)."""
    _no_out(out)
    return _reduce("tf.reduce_prod", input, dim, keepdim, dtype)


@function("torch.amax")
@method("amax")
def amax(input, dim=(), keepdim=False, *, out=None):
    """tf.reduce_max(x, axis=dim, keepdims=keepdim)."""
    _no_out(out)
    return _reduce("tf.reduce_max", input, dim, keepdim)


@function("torch.amin")
@method("amin")
def amin(input, dim=(), keepdim=False, *, out=None):
    """tf.reduce_min(x, axis=dim, keepdims=keepdim)."""
    _no_out(out)
    return _reduce("tf.reduce_min", input, dim, keepdim)


def _max_min(kind: str, input, dim_or_other, keepdim, dim, other) -> str:
    """torch.max/min: (input), (input, dim, keepdim) -> (values, indices), (input, other)."""
    x = src(input)
    if given(other):
        if given(dim_or_other) or given(dim):
            raise Unsupported(f"torch.{kind}: give either a dim or other")
        return f"tf.{kind}imum({x}, {src(other)})"
    chosen = dim if given(dim) else dim_or_other
    if not given(chosen):
        return f"tf.reduce_{kind}({x})"
    value = const(chosen, _MISSING)
    if value is _MISSING and chosen is dim_or_other and const(keepdim, None) is False:
        raise Unsupported(
            f"torch.{kind}(x, y): whether y is a dim or a tensor is not visible in the source",
            f"write torch.{kind}imum(x, y) for a tensor, or dim=y for a dim",
        )
    if isinstance(value, (bool, tuple, list)):
        raise Unsupported(f"torch.{kind} with dim={src(chosen)} is not translated")
    # With a dim torch returns (values, indices), the indices of the first extreme value.
    return keras_call(f"torch_{kind}", x, src(chosen), keepdim=_keepdims(keepdim))


@function("torch.max")
@method("max")
def max_(input, dim_or_other=None, keepdim=False, *, dim=None, other=None, out=None):
    """tf.reduce_max; with dim -> torch_max helper (values, indices); other -> tf.maximum."""
    _no_out(out)
    return _max_min("max", input, dim_or_other, keepdim, dim, other)


@function("torch.min")
@method("min")
def min_(input, dim_or_other=None, keepdim=False, *, dim=None, other=None, out=None):
    """tf.reduce_min; with dim -> torch_min helper (values, indices); other -> tf.minimum."""
    _no_out(out)
    return _max_min("min", input, dim_or_other, keepdim, dim, other)


@function("torch.maximum")
@method("maximum")
def maximum(input, other, *, out=None):
    """tf.maximum (identical)."""
    _no_out(out)
    return f"tf.maximum({src(input)}, {src(other)})"


@function("torch.minimum")
@method("minimum")
def minimum(input, other, *, out=None):
    """tf.minimum (identical)."""
    _no_out(out)
    return f"tf.minimum({src(input)}, {src(other)})"


def _arg_extreme(kind: str, input, dim, keepdim) -> str:
    x = src(input)
    if not given(dim):
        if const(keepdim, _MISSING) is not False:
            raise Unsupported(f"torch.{kind}(keepdim=True) without dim is not translated")
        return f"tf.{kind}(tf.reshape({x}, [-1]))"  # torch indexes the flattened tensor
    found = f"tf.{kind}({x}, axis={src(dim)})"
    if const(keepdim, _MISSING) is False:
        return found
    if const(keepdim, _MISSING) is True:
        return f"tf.expand_dims({found}, axis={src(dim)})"
    raise Unsupported(f"torch.{kind}: keepdim must be a literal True or False")


@function("torch.argmax")
@method("argmax")
def argmax(input, dim=None, keepdim=False):
    """tf.argmax(x, axis=dim) (int64, first maximum); no dim -> of the flattened x."""
    return _arg_extreme("argmax", input, dim, keepdim)


@function("torch.argmin")
@method("argmin")
def argmin(input, dim=None, keepdim=False):
    """tf.argmin(x, axis=dim) (int64, first minimum); no dim -> of the flattened x."""
    return _arg_extreme("argmin", input, dim, keepdim)


def _correction(kind: str, dim, unbiased, correction) -> tuple[Any, Any, str]:
    """(dim, the correction's value or _MISSING, its source) of var/std-style arguments."""
    if isinstance(const(dim, _MISSING), bool):  # the legacy overload std(input, unbiased)
        dim, unbiased = None, dim
    if given(correction) and given(unbiased):
        raise Unsupported(f"torch.{kind}: give either unbiased or correction")
    if given(correction):
        value = const(correction, _MISSING)
        amount = src(correction)
    elif given(unbiased):
        value = const(unbiased, _MISSING)
        value = _MISSING if value is _MISSING else int(value)
        amount = f"int({src(unbiased)})" if value is _MISSING else repr(value)
    else:
        value, amount = 1, "1"  # torch's default: the unbiased (N - 1) estimate
    return dim, value, amount


def _variance(kind: str, input, dim, unbiased, keepdim, correction) -> str:
    dim, value, amount = _correction(kind, dim, unbiased, correction)
    x = src(input)
    if value == 0:
        tf_func = "tf.math.reduce_variance" if kind == "var" else "tf.math.reduce_std"
        return keras_call(
            tf_func, x, axis=None if _all_dims(dim) else src(dim), keepdims=_keepdims(keepdim)
        )
    return keras_call(
        f"torch_{kind}",
        x,
        *([] if _all_dims(dim) else [src(dim)]),
        correction=None if value == 1 else amount,
        keepdim=_keepdims(keepdim),
    )


@function("torch.var")
@method("var")
def var(input, dim=None, unbiased=None, keepdim=False, *, correction=None, out=None):
    """torch_var helper (N - correction, default 1); correction 0 -> reduce_variance."""
    _no_out(out)
    return _variance("var", input, dim, unbiased, keepdim, correction)


@function("torch.std")
@method("std")
def std(input, dim=None, unbiased=None, keepdim=False, *, correction=None, out=None):
    """torch_std helper (N - correction, default 1); correction 0 -> reduce_std."""
    _no_out(out)
    return _variance("std", input, dim, unbiased, keepdim, correction)


@function("torch.Size")
def torch_size(sizes=()):
    """-> tuple(sizes): a torch.Size is a tuple of ints, as tf.keras.ops.shape gives."""
    return f"tuple({src(sizes)})"


@function("torch.var_mean")
def var_mean(input, dim=None, unbiased=None, keepdim=False, *, correction=None, out=None):
    """torch_var_mean helper: the (var, mean) pair, var over N - correction (default 1)."""
    return _variance_mean("var", input, dim, unbiased, keepdim, correction, out)


@function("torch.std_mean")
def std_mean(input, dim=None, unbiased=None, keepdim=False, *, correction=None, out=None):
    """torch_std_mean helper: the (std, mean) pair, std over N - correction (default 1)."""
    return _variance_mean("std", input, dim, unbiased, keepdim, correction, out)


def _variance_mean(kind: str, input, dim, unbiased, keepdim, correction, out) -> str:
    _no_out(out)
    dim, value, amount = _correction(f"{kind}_mean", dim, unbiased, correction)
    return keras_call(
        f"torch_{kind}_mean",
        src(input),
        *([] if _all_dims(dim) else [src(dim)]),
        correction=None if value == 1 else amount,
        keepdim=_keepdims(keepdim),
    )


# --------------------------------------------------------------------------- products


@function("torch.matmul")
@method("matmul")
def matmul(input, other, *, out=None):
    """tf.matmul (batch dims broadcast; 1-D operands are not supported by TF)."""
    _no_out(out)
    return f"tf.matmul({src(input)}, {src(other)})"


@function("torch.bmm")
@method("bmm")
def bmm(input, mat2, *, out=None):
    """tf.matmul."""
    _no_out(out)
    return f"tf.matmul({src(input)}, {src(mat2)})"


@function("torch.einsum")
def einsum(equation, *operands):
    """tf.einsum(equation, *operands); a list of operands is unpacked."""
    if not isinstance(const(equation, None), str):
        raise Unsupported("einsum: the equation must be a string literal (sublist form is not)")
    if len(operands) == 1:
        listed = _elements(operands[0])
        if listed is not None:  # torch.einsum("ij,jk", [a, b])
            return f"tf.einsum({src(equation)}, {', '.join(listed)})"
    return f"tf.einsum({', '.join([src(equation), *(src(o) for o in operands)])})"


# --------------------------------------------------------------------------- element-wise


def _unary(tf_func: str, *torch_names: str, methods: tuple[str, ...] = ()) -> None:
    def rule(input, *, out=None):
        _no_out(out)
        return f"{tf_func}({src(input)})"

    rule.__name__ = rule.__qualname__ = torch_names[0].rsplit(".", 1)[-1]
    rule.__doc__ = f"{tf_func} (identical)."
    function(*torch_names)(rule)
    if methods:
        method(*methods)(rule)


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


def _scaled(value: Any, tensor: Any) -> str:
    """``value * tensor``, or ``tensor`` alone when ``value`` is the constant 1."""
    if const(value, None) == 1 and not isinstance(const(value, None), bool):
        return paren(src(tensor))
    return f"{paren(src(value))} * {paren(src(tensor))}"


@function("torch.add")
@method("add")
def add(input, other, *, alpha=1, out=None):
    """input + alpha * other (Python operators, which promote as torch does for floats)."""
    _no_out(out)
    return f"{paren(src(input))} + {_scaled(alpha, other)}"


@function("torch.sub", "torch.subtract")
@method("sub", "subtract")
def sub(input, other, *, alpha=1, out=None):
    """input - alpha * other."""
    _no_out(out)
    return f"{paren(src(input))} - {_scaled(alpha, other)}"


@function("torch.mul", "torch.multiply")
@method("mul", "multiply")
def mul(input, other, *, out=None):
    """input * other."""
    _no_out(out)
    return f"{paren(src(input))} * {paren(src(other))}"


@function("torch.addcmul")
@method("addcmul")
def addcmul(input, tensor1, tensor2, *, value=1, out=None):
    """input + value * tensor1 * tensor2."""
    _no_out(out)
    product = f"{paren(src(tensor1))} * {paren(src(tensor2))}"
    if not (const(value, None) == 1 and not isinstance(const(value, None), bool)):
        product = f"{paren(src(value))} * {product}"
    return f"{paren(src(input))} + {product}"


@function("torch.clamp", "torch.clip")
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


@function("torch.where")
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


@function("torch.pow")
@method("pow")
def pow_(input, exponent, *, out=None):
    """tf.pow(x, exponent)."""
    _no_out(out)
    return f"tf.pow({src(input)}, {src(exponent)})"


@method("masked_fill")
def masked_fill(tensor, mask, value):
    """tf.where(mask, value cast to x's dtype, x)."""
    x = src(tensor)
    if x.isidentifier() or all(part.isidentifier() for part in x.split(".")):
        # torch casts the value to the tensor's dtype.
        return f"tf.where({src(mask)}, tf.cast({src(value)}, {x}.dtype), {x})"
    return f"tf.keras.ops.where({src(mask)}, {src(value)}, {x})"


# --------------------------------------------------------------------------- creation


def _like(tf_func: str, input, dtype, requires_grad) -> str:
    if const(requires_grad, _MISSING) is not False:
        raise Unsupported("requires_grad= is not translated")
    return keras_call(tf_func, src(input), dtype=dtype_source(dtype))


@function("torch.zeros_like")
def zeros_like(
    input, *, dtype=None, layout=None, device=None, requires_grad=False, memory_format=None
):
    """tf.zeros_like(x, dtype=...)."""
    return _like("tf.zeros_like", input, dtype, requires_grad)


@function("torch.ones_like")
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


@function("torch.randn_like")
def randn_like(
    input, *, dtype=None, layout=None, device=None, requires_grad=False, memory_format=None
):
    """tf.random.normal(tf.shape(x), dtype=x.dtype): N(0, 1), from TensorFlow's generator."""
    return _random_like("tf.random.normal", input, dtype, requires_grad)


@function("torch.rand_like")
def rand_like(
    input, *, dtype=None, layout=None, device=None, requires_grad=False, memory_format=None
):
    """tf.random.uniform(tf.shape(x), dtype=x.dtype): U[0, 1), from TensorFlow's generator."""
    return _random_like("tf.random.uniform", input, dtype, requires_grad)


@function("torch.arange")
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


def _filled(tf_func: str, sizes: tuple, size, dtype, requires_grad, out) -> str:
    _no_out(out)
    if const(requires_grad, _MISSING) is not False:
        raise Unsupported("requires_grad= is not translated")
    if given(size):
        sizes = (*sizes, size)
    # torch's default dtype is float32, as TensorFlow's; dtype=torch.bool gives True/False.
    return keras_call(tf_func, _sizes(sizes, tf_func), dtype=dtype_source(dtype))


@function("torch.ones")
def ones(
    *size, out=None, dtype=None, layout=None, device=None, requires_grad=False, pin_memory=False
):
    """tf.ones(shape, dtype=...) (float32 by default in both)."""
    return _filled("tf.ones", size, None, dtype, requires_grad, out)


@function("torch.zeros")
def zeros(
    *size, out=None, dtype=None, layout=None, device=None, requires_grad=False, pin_memory=False
):
    """tf.zeros(shape, dtype=...) (float32 by default in both)."""
    return _filled("tf.zeros", size, None, dtype, requires_grad, out)


def _band(kind: str, input, diagonal) -> str:
    offset = const(diagonal, _MISSING)
    if offset == 0 and not isinstance(offset, bool):
        lower, upper = ("-1", "0") if kind == "tril" else ("0", "-1")
        return f"tf.linalg.band_part({src(input)}, {lower}, {upper})"
    return keras_call(f"torch_{kind}", src(input), src(diagonal))


@function("torch.tril")
@method("tril")
def tril(input, diagonal=0, *, out=None):
    """tf.linalg.band_part(x, -1, 0); another diagonal -> torch_tril helper."""
    _no_out(out)
    return _band("tril", input, diagonal)


@function("torch.triu")
@method("triu")
def triu(input, diagonal=0, *, out=None):
    """tf.linalg.band_part(x, 0, -1); another diagonal -> torch_triu helper."""
    _no_out(out)
    return _band("triu", input, diagonal)


# --------------------------------------------------------------------------- shapes


@function("torch.flatten")
@method("flatten")
def flatten(input, start_dim=0, end_dim=-1):
    """tf.reshape(x, [-1]); other dims -> torch_flatten helper (static sizes kept)."""
    if const(start_dim, None) == 0 and const(end_dim, None) == -1:
        return f"tf.reshape({src(input)}, [-1])"
    return keras_call(
        "torch_flatten",
        src(input),
        src(start_dim),
        *([] if const(end_dim, None) == -1 else [src(end_dim)]),
    )


@function("torch.transpose", "torch.swapaxes")
@method("transpose", "swapaxes")
def transpose(input, dim0, dim1):
    """tf.keras.ops.swapaxes; the last two dims -> tf.linalg.matrix_transpose."""
    a, b = const(dim0, _MISSING), const(dim1, _MISSING)
    if {a, b} == {-1, -2}:
        return f"tf.linalg.matrix_transpose({src(input)})"
    if a is not _MISSING and a == b:
        return paren(src(input))
    return f"tf.keras.ops.swapaxes({src(input)}, {src(dim0)}, {src(dim1)})"


@function("torch.t")
@method("t")
def t(input):
    """tf.transpose (torch.t takes <= 2 dims, where the two agree)."""
    return f"tf.transpose({src(input)})"  # torch.t accepts <= 2 dims, where they agree


@function("torch.permute")
def permute(input, dims):
    """tf.transpose(x, perm=dims); x itself for the identity (a channels-last map's)."""
    literal = const(dims, None)
    if isinstance(literal, (tuple, list)) and list(literal) == list(range(len(literal))):
        return paren(src(input))
    return f"tf.transpose({src(input)}, perm={src(dims)})"


@method("permute")
def permute_method(tensor, *dims):
    """tf.transpose(x, perm=dims); x itself for the identity (a channels-last map's)."""
    if len(dims) == 1 and not isinstance(const(dims[0], _MISSING), int):
        return permute(tensor, dims[0])
    if [const(d, None) for d in dims] == list(range(len(dims))):
        return paren(src(tensor))
    return f"tf.transpose({src(tensor)}, perm=[{', '.join(src(d) for d in dims)}])"


@function("torch.unsqueeze")
@method("unsqueeze")
def unsqueeze(input, dim):
    """tf.expand_dims(x, axis=dim)."""
    return f"tf.expand_dims({src(input)}, axis={src(dim)})"


@function("torch.squeeze")
@method("squeeze")
def squeeze(input, dim=None):
    """tf.squeeze(x); with dim -> torch_squeeze helper (no-op when the size is not 1)."""
    if not given(dim):
        return f"tf.squeeze({src(input)})"
    # torch leaves a dim whose size is not 1 alone, where tf.squeeze raises.
    return f"torch_squeeze({src(input)}, {src(dim)})"


@function("torch.reshape")
def reshape(input, shape):
    """tf.reshape(x, shape)."""
    return f"tf.reshape({src(input)}, {_sizes((shape,), 'reshape')})"


@method("view", "reshape")
def view(tensor, *shape):
    """tf.reshape; x.view(x.size(0), -1) -> torch_flatten_batch helper (static size)."""
    x = src(tensor)
    if (
        len(shape) == 2
        and src(shape[0]).replace(" ", "") == f"tf.keras.ops.shape({x})[0]".replace(" ", "")
        and const(shape[1], None) == -1
    ):
        # x.view(x.size(0), -1): with a dynamic batch size tf.reshape cannot know the -1 size.
        return f"torch_flatten_batch({x})"
    return f"tf.reshape({x}, {_sizes(shape, 'view')})"


@method("view_as", "reshape_as")
def view_as(tensor, other):
    """tf.reshape(x, tf.shape(other))."""
    return f"tf.reshape({src(tensor)}, tf.shape({src(other)}))"


@method("expand")
def expand(tensor, *sizes):
    """tf.broadcast_to; with -1 sizes -> torch_expand helper."""
    shape = _sizes(sizes, "expand")
    entries = _elements(Arg(shape))
    if entries is not None and all(const(Arg(e), None) != -1 for e in entries):
        return f"tf.broadcast_to({src(tensor)}, {shape})"
    return f"torch_expand({src(tensor)}, {shape})"  # -1 keeps a size: tf needs it spelled out


@method("expand_as")
def expand_as(tensor, other):
    """tf.broadcast_to(x, tf.shape(other))."""
    return f"tf.broadcast_to({src(tensor)}, tf.shape({src(other)}))"


@method("repeat")
def repeat(tensor, *repeats):
    """tf.tile(x, repeats) (one count per dim, as tf.tile needs)."""
    # torch's repeat tiles, like tf.tile (which also needs one count per dim).
    return f"tf.tile({src(tensor)}, {_sizes(repeats, 'repeat')})"


@method("size")
def size(tensor, dim=None, *, _channels_last=False):
    """tf.keras.ops.shape(x)[dim]: a Python int where static, a scalar tensor elsewhere."""
    if not given(dim) and _channels_last:  # a map's sizes in torch's order (N, C, *S)
        return f"torch_map_size({src(tensor)})"
    if not given(dim):
        return f"tf.keras.ops.shape({src(tensor)})"
    return f"tf.keras.ops.shape({src(tensor)})[{src(dim)}]"


@method("dim", "ndimension")
def dim(tensor):
    """len(x.shape)."""
    return f"len({paren(src(tensor))}.shape)"


@method("numel", "nelement")
def numel(tensor):
    """math.prod(tf.keras.ops.shape(x)): a Python int when the shape is static."""
    # A Python int when the shape is static, as torch's (tf.size is an int32 tensor).
    return f"math.prod(tf.keras.ops.shape({src(tensor)}))"


# --------------------------------------------------------------------------- dtype, identity


def _cast(target: str):
    def rule(tensor, memory_format=None):
        return f"tf.cast({src(tensor)}, {target})"

    rule.__doc__ = f"tf.cast(x, {target})."
    return rule


for _name, _target in {
    "float": "tf.float32",
    "double": "tf.float64",
    "half": "tf.float16",
    "bfloat16": "tf.bfloat16",
    "long": "tf.int64",
    "int": "tf.int32",
    "short": "tf.int16",
    "bool": "tf.bool",
}.items():
    method(_name)(_cast(_target))


@method("type_as")
def type_as(tensor, other):
    """tf.cast(x, other.dtype)."""
    return f"tf.cast({src(tensor)}, {paren(src(other))}.dtype)"


@method("to")
def to(tensor, *args, **kwargs):
    """tf.cast for a dtype; a device is dropped; anything else is refused."""
    target = kwargs.pop("dtype", None)
    device = kwargs.pop("device", None)
    for key in ("non_blocking", "copy", "memory_format"):
        kwargs.pop(key, None)
    if kwargs:
        raise Unsupported(f"Tensor.to({', '.join(kwargs)}=...) is not translated")
    for arg in args:
        if dtype_name(arg) is not None:
            target = arg
        elif _is_device(arg):
            device = arg
        elif not isinstance(const(arg, _MISSING), bool):
            raise Unsupported(
                f"Tensor.to({src(arg)}): not visibly a dtype or a device",
                "write .to(dtype=...) or .to(device=...), or .type_as(other)",
            )
    del device  # TensorFlow places tensors itself
    return paren(cast(src(tensor), target))


def _is_device(value: Any) -> bool:
    text = src(value).strip()
    literal = const(value, _MISSING)
    return isinstance(literal, str) or text == "device" or text.endswith(".device")


@method("contiguous")
def contiguous(tensor, memory_format=None):
    """x itself (TensorFlow tensors have no strides)."""
    return paren(src(tensor))  # TensorFlow tensors have no strides


@method("clone")
def clone(tensor, memory_format=None):
    """tf.identity(x)."""
    return f"tf.identity({src(tensor)})"


@method("detach")
def detach(tensor):
    """tf.stop_gradient(x)."""
    return f"tf.stop_gradient({src(tensor)})"


@method("item")
def item(tensor):
    """refused: a Python number cannot come out of a traced graph."""
    raise Unsupported(
        "Tensor.item() makes a Python number, which a traced TensorFlow graph cannot",
        "keep the value a tensor",
    )
