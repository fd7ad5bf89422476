"""torch reductions (torch.sum, torch.max, torch.var, ...) and their Tensor methods -> TensorFlow.

As in :mod:`torch2tf.rules.tensor`, a function and the method of the same name share one rule.
"""

from __future__ import annotations

from typing import Any

from torch2tf.rules.functional import _MISSING, _no_out, cast, given, src
from torch2tf.rules.registry import Arg, BoolArg, Unsupported, const, function, keras_call, method


def _keepdims(keepdim: Any) -> str | None:
    value = const(keepdim, _MISSING)
    return None if value is False else src(keepdim)


def _all_dims(dim: Any) -> bool:
    """torch reduces over every dim for dim=None and for an empty dim list."""
    value = const(dim, _MISSING)
    return value is None or (isinstance(value, (tuple, list)) and not value)


def _reduce(tf_func: str, input, dim, keepdim, dtype=None) -> str:
    axis = None if _all_dims(dim) else src(dim)
    return keras_call(tf_func, cast(src(input), dtype), axis=axis, keepdims=_keepdims(keepdim))


@function(
    "torch.sum",
    examples=(
        ("x.sum()", "tf.reduce_sum(x)"),
        ("torch.sum(x, dim=1)", "tf.reduce_sum(x, axis=1)"),
        ("(x > 0).sum(1)", "tf.reduce_sum(tf.cast(x > 0, tf.int64), axis=1)"),
    ),
)
@method("sum")
def sum_(input, dim=None, keepdim=False, *, dtype=None, out=None):
    """tf.reduce_sum(x, axis=dim, keepdims=keepdim); a boolean tensor's as int64 (torch's)."""
    _no_out(out)
    if isinstance(input, BoolArg) and not given(dtype):
        dtype = Arg("torch.int64")  # torch counts booleans in int64; TensorFlow cannot sum them
    return _reduce("tf.reduce_sum", input, dim, keepdim, dtype)


@function(
    "torch.mean",
    examples=(
        ("x.mean(dim=0)", "tf.reduce_mean(x, axis=0)"),
        ("torch.mean(x)", "tf.reduce_mean(x)"),
    ),
)
@method("mean")
def mean(input, dim=None, keepdim=False, *, dtype=None, out=None):
    """tf.reduce_mean(x, axis=dim, keepdims=keepdim)."""
    _no_out(out)
    return _reduce("tf.reduce_mean", input, dim, keepdim, dtype)


@function("torch.prod", examples=(("torch.prod(y, 1)", "tf.reduce_prod(y, axis=1)"),))
@method("prod")
def prod(input, dim=None, keepdim=False, *, dtype=None, out=None):
    """tf.reduce_prod(x, axis=dim, keepdims=keepdim)."""
    _no_out(out)
    return _reduce("tf.reduce_prod", input, dim, keepdim, dtype)


@function(
    "torch.amax",
    examples=(
        ("torch.amax(x, dim=1)", "tf.reduce_max(x, axis=1)"),
        ("x.amax()", "tf.reduce_max(x)"),
    ),
)
@method("amax")
def amax(input, dim=(), keepdim=False, *, out=None):
    """tf.reduce_max(x, axis=dim, keepdims=keepdim)."""
    _no_out(out)
    return _reduce("tf.reduce_max", input, dim, keepdim)


@function(
    "torch.amin",
    examples=(("y.amin(-1, keepdim=True)", "tf.reduce_min(y, axis=-1, keepdims=True)"),),
)
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
    # torch.max(x, y), y a name: a dim or a tensor, which the helper tells at run time
    if isinstance(value, (bool, tuple, list)):
        raise Unsupported(f"torch.{kind} with dim={src(chosen)} is not translated")
    # With a dim torch returns (values, indices), the indices of the first extreme value.
    return keras_call(f"torch_{kind}", x, src(chosen), keepdim=_keepdims(keepdim))


@function(
    "torch.max",
    examples=(
        ("x.max()", "tf.reduce_max(x)"),
        ("torch.max(x, 1)", "torch_max(x, 1)"),
    ),
)
@method("max")
def max_(input, dim_or_other=None, keepdim=False, *, dim=None, other=None, out=None):
    """tf.reduce_max; with dim -> torch_max helper (values, indices); other -> tf.maximum."""
    _no_out(out)
    return _max_min("max", input, dim_or_other, keepdim, dim, other)


@function("torch.min", examples=(("torch.min(y, -1)", "torch_min(y, -1)"),))
@method("min")
def min_(input, dim_or_other=None, keepdim=False, *, dim=None, other=None, out=None):
    """tf.reduce_min; with dim -> torch_min helper (values, indices); other -> tf.minimum."""
    _no_out(out)
    return _max_min("min", input, dim_or_other, keepdim, dim, other)


@function(
    "torch.sort",
    examples=(
        ("torch.sort(x, descending=True, dim=1)", "torch_sort(x, 1, descending=True)"),
        ("x.sort()", "torch_sort(x)"),
    ),
)
@method("sort")
def sort(input, dim=-1, descending=False, stable=False, *, out=None):
    """torch_sort helper: (values, int64 indices) by tf.sort and a stable tf.argsort (torch
    orders tied indices only when stable=True; stable is one of its orders)."""
    _no_out(out)
    flag = const(descending, _MISSING)
    args = [src(input)] if const(dim, _MISSING) == -1 else [src(input), src(dim)]
    return keras_call("torch_sort", *args, descending=None if flag is False else src(descending))


@function(
    "torch.gather",
    examples=(
        ("torch.gather(x, 1, i)", "torch_gather(x, 1, i)"),
        ("x.gather(-1, i)", "torch_gather(x, -1, i)"),
    ),
)
@method("gather")
def gather(input, dim, index, *, sparse_grad=False, out=None):
    """torch_gather helper: out[..., j, ...] = x[..., index[..., j, ...], ...] along dim, by
    tf.gather over the other dims as batch dims (index no larger than x there, as torch asks)."""
    _no_out(out)
    if const(sparse_grad, _MISSING) is not False:
        raise Unsupported("gather(sparse_grad=...) is not translated")
    return keras_call("torch_gather", src(input), src(dim), src(index))


@function("torch.maximum", examples=(("torch.maximum(x, y)", "tf.maximum(x, y)"),))
@method("maximum")
def maximum(input, other, *, out=None):
    """tf.maximum (identical)."""
    _no_out(out)
    return f"tf.maximum({src(input)}, {src(other)})"


@function("torch.minimum", examples=(("torch.minimum(x, y)", "tf.minimum(x, y)"),))
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


@function(
    "torch.argmax",
    examples=(
        ("torch.argmax(x, dim=1)", "tf.argmax(x, axis=1)"),
        ("x.argmax()", "tf.argmax(tf.reshape(x, [-1]))"),
    ),
)
@method("argmax")
def argmax(input, dim=None, keepdim=False):
    """tf.argmax(x, axis=dim) (int64, first maximum); no dim -> of the flattened x."""
    return _arg_extreme("argmax", input, dim, keepdim)


@function(
    "torch.argmin",
    examples=(("y.argmin(2, keepdim=True)", "tf.expand_dims(tf.argmin(y, axis=2), axis=2)"),),
)
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


@function(
    "torch.var",
    examples=(
        ("torch.var(x, dim=1)", "torch_var(x, 1)"),
        ("y.var(dim=(1, 2), correction=2)", "torch_var(y, (1, 2), correction=2)"),
    ),
)
@method("var")
def var(input, dim=None, unbiased=None, keepdim=False, *, correction=None, out=None):
    """torch_var helper (N - correction, default 1); correction 0 -> reduce_variance."""
    _no_out(out)
    return _variance("var", input, dim, unbiased, keepdim, correction)


@function(
    "torch.std",
    examples=(
        ("x.std()", "torch_std(x)"),
        ("torch.std(x, 1, keepdim=True)", "torch_std(x, 1, keepdim=True)"),
    ),
)
@method("std")
def std(input, dim=None, unbiased=None, keepdim=False, *, correction=None, out=None):
    """torch_std helper (N - correction, default 1); correction 0 -> reduce_std."""
    _no_out(out)
    return _variance("std", input, dim, unbiased, keepdim, correction)


@function("torch.Size", examples=(("torch.Size([2, 3])", "tuple([2, 3])"),))
def torch_size(sizes=()):
    """-> tuple(sizes): a torch.Size is a tuple of ints, as tf.keras.ops.shape gives."""
    return f"tuple({src(sizes)})"


@function("torch.var_mean", examples=(("torch.var_mean(x, dim=1)", "torch_var_mean(x, 1)"),))
def var_mean(input, dim=None, unbiased=None, keepdim=False, *, correction=None, out=None):
    """torch_var_mean helper: the (var, mean) pair, var over N - correction (default 1)."""
    return _variance_mean("var", input, dim, unbiased, keepdim, correction, out)


@function("torch.std_mean", examples=(("torch.std_mean(x, dim=1)", "torch_std_mean(x, 1)"),))
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
