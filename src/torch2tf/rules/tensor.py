"""torch tensor functions (torch.cat, torch.matmul, ...) and torch.Tensor methods -> TensorFlow:
joining and splitting, scans, products, dtype casts and identities.

A function and the method of the same name share one rule: the method's tensor arrives as the
first argument, exactly where the function has ``input``. Dims keep their meaning, negative
ones included (TensorFlow counts from the end in the same way); where TensorFlow's op needs
more than torch's (tf.transpose a full permutation, tf.split equal pieces), the rule calls a
``torch_*`` helper from ``keras_helpers/ops.py`` instead. The other families of tensor rules
have modules of their own: shapes, reductions, elementwise and creation.
"""

from __future__ import annotations

from typing import Any

from torch2tf.rules.functional import (
    _MISSING,
    _no_out,
    cast,
    dtype_name,
    dtype_source,
    paren,
    src,
)
from torch2tf.rules.registry import Unsupported, const, function, keras_call, method
from torch2tf.rules.shapes import _elements

# --------------------------------------------------------------------------- joining, splitting


@function(
    "torch.cat",
    "torch.concat",
    examples=(
        ("torch.cat([F.relu(x), x * 2], dim=1)", "tf.concat([tf.nn.relu(x), x * 2], axis=1)"),
    ),
)
def cat(tensors, dim=0, *, out=None):
    """tf.concat(tensors, axis=dim)."""
    _no_out(out)
    return f"tf.concat({src(tensors)}, axis={src(dim)})"


@function(
    "torch.concatenate",
    examples=(("torch.concatenate([x, x], axis=1)", "tf.concat([x, x], axis=1)"),),
)
def concatenate(tensors, axis=0, out=None):
    """tf.concat(tensors, axis=axis)."""
    _no_out(out)
    return f"tf.concat({src(tensors)}, axis={src(axis)})"


@function("torch.stack", examples=(("torch.stack([x, x], dim=-1)", "tf.stack([x, x], axis=-1)"),))
def stack(tensors, dim=0, *, out=None):
    """tf.stack(tensors, axis=dim)."""
    _no_out(out)
    return f"tf.stack({src(tensors)}, axis={src(dim)})"


@function("torch.split", examples=(("torch.split(x, 4, dim=1)", "torch_split(x, 4, dim=1)"),))
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


@method("split", examples=(("y.split(2, -1)", "torch_split(y, 2, dim=-1)"),))
def split_method(tensor, split_size=None, dim=0):
    """Tensor.split as torch.split; str.split in a module is left alone."""
    if split_size is None or isinstance(const(split_size, None), str):
        # str.split inside a module: not a tensor; keep the call as written.
        args = "" if split_size is None else src(split_size)
        return f"{paren(src(tensor))}.split({args})"
    return split(tensor, split_size, dim)


@function(
    "torch.unbind",
    examples=(
        ("torch.unbind(x, dim=1)", "tf.unstack(x, axis=1)"),
        ("y.unbind(-1)", "tf.unstack(y, axis=-1)"),
    ),
)
@method("unbind")
def unbind(input, dim=0):
    """tf.unstack(x, axis=dim): a tuple of the slices (the dim's size must be static)."""
    return f"tf.unstack({src(input)}, axis={src(dim)})"


@function(
    "torch.chunk",
    examples=(
        ("torch.chunk(x, 4, dim=1)", "torch_chunk(x, 4, dim=1)"),
        ("x.chunk(3, -1)", "torch_chunk(x, 3, dim=-1)"),
    ),
)
@method("chunk")
def chunk(input, chunks, dim=0):
    """torch_chunk helper: pieces of ceil(n / chunks), maybe fewer than chunks."""
    # torch's pieces have ceil(n / chunks) elements and may be fewer than chunks.
    return keras_call(
        "torch_chunk", src(input), src(chunks), dim=None if const(dim, None) == 0 else src(dim)
    )


@function(
    "torch.cumsum",
    examples=(
        ("torch.cumsum(x, dim=1)", "tf.math.cumsum(x, axis=1)"),
        ("x.cumsum(-1)", "tf.math.cumsum(x, axis=-1)"),
    ),
)
@method("cumsum")
def cumsum(input, dim, *, dtype=None, out=None):
    """tf.math.cumsum(x, axis=dim)."""
    _no_out(out)
    return keras_call("tf.math.cumsum", cast(src(input), dtype), axis=src(dim))


@function("torch.cumprod", examples=(("torch.cumprod(x, dim=1)", "tf.math.cumprod(x, axis=1)"),))
@method("cumprod")
def cumprod(input, dim, *, dtype=None, out=None):
    """tf.math.cumprod(x, axis=dim)."""
    _no_out(out)
    return keras_call("tf.math.cumprod", cast(src(input), dtype), axis=src(dim))


# --------------------------------------------------------------------------- products


@function(
    "torch.matmul",
    examples=(
        ("torch.matmul(x, x.t())", "tf.matmul(x, tf.transpose(x))"),
        ("y.matmul(y[0].t())", "tf.matmul(y, tf.transpose(y[0]))"),
    ),
)
@method("matmul")
def matmul(input, other, *, out=None):
    """tf.matmul (batch dims broadcast; 1-D operands are not supported by TF)."""
    _no_out(out)
    return f"tf.matmul({src(input)}, {src(other)})"


@function(
    "torch.mm",
    examples=(
        ("torch.mm(x, x.t())", "tf.matmul(x, tf.transpose(x))"),
        ("y[0].mm(x)", "tf.matmul(y[0], x)"),
    ),
)
@method("mm")
def mm(input, mat2, *, out=None):
    """tf.matmul of two matrices (torch.mm takes 2-D tensors only, as tf.matmul's 2-D case)."""
    _no_out(out)
    return f"tf.matmul({src(input)}, {src(mat2)})"


@function(
    "torch.bmm",
    examples=(("torch.bmm(y, y.transpose(1, 2))", "tf.matmul(y, tf.keras.ops.swapaxes(y, 1, 2))"),),
)
@method("bmm")
def bmm(input, mat2, *, out=None):
    """tf.matmul."""
    _no_out(out)
    return f"tf.matmul({src(input)}, {src(mat2)})"


def _scaled_sum(input, product: str, beta, alpha) -> str:
    """``beta * input + alpha * product`` as torch computes it: with ``beta == 0`` the input is
    ignored (its nan and inf do not propagate), so a non-literal ``beta`` is tested."""
    scale = const(alpha, None)
    scaled = product if scale == 1 else f"{src(alpha)} * {product}"
    weight = const(beta, None)
    if weight == 0:
        return scaled
    if weight == 1:
        return f"{src(input)} + {scaled}"
    kept = f"{src(beta)} * {src(input)}"
    if weight is None:
        kept = f"({kept} if {src(beta)} != 0 else 0.0)"
    return f"{kept} + {scaled}"


@function(
    "torch.baddbmm",
    examples=(
        (
            "torch.baddbmm(y, y, y.transpose(1, 2), beta=0.0, alpha=0.125)",
            "0.125 * tf.matmul(y, tf.keras.ops.swapaxes(y, 1, 2))",
        ),
    ),
)
@method("baddbmm")
def baddbmm(input, batch1, batch2, *, beta=1, alpha=1, out=None):
    """beta * input + alpha * tf.matmul(batch1, batch2); beta=0 ignores input, as torch."""
    _no_out(out)
    product = f"tf.matmul({src(batch1)}, {src(batch2)})"
    return _scaled_sum(input, product, beta, alpha)


@function(
    "torch.addmm",
    examples=(("torch.addmm(x, y[0], x)", "x + tf.matmul(y[0], x)"),),
)
@method("addmm")
def addmm(input, mat1, mat2, *, beta=1, alpha=1, out=None):
    """beta * input + alpha * tf.matmul(mat1, mat2); beta=0 ignores input, as torch."""
    _no_out(out)
    return _scaled_sum(input, f"tf.matmul({src(mat1)}, {src(mat2)})", beta, alpha)


@function(
    "torch.einsum",
    examples=(("torch.einsum('bij,bkj->bik', y, y)", "tf.einsum('bij,bkj->bik', y, y)"),),
)
def einsum(equation, *operands):
    """tf.einsum(equation, *operands); a list of operands is unpacked."""
    if not isinstance(const(equation, None), str):
        raise Unsupported("einsum: the equation must be a string literal (sublist form is not)")
    if len(operands) == 1:
        listed = _elements(operands[0])
        if listed is not None:  # torch.einsum("ij,jk", [a, b])
            return f"tf.einsum({src(equation)}, {', '.join(listed)})"
    return f"tf.einsum({', '.join([src(equation), *(src(o) for o in operands)])})"


@function(
    "torch.outer",
    "torch.ger",
    examples=(("torch.outer(t, inv_freq)", "tf.einsum('i,j->ij', t, inv_freq)"),),
)
@method("outer", "ger")
def outer(input, vec2, *, out=None):
    """tf.einsum('i,j->ij', a, b): rotary embeddings' positions times frequencies."""
    _no_out(out)
    return f"tf.einsum('i,j->ij', {src(input)}, {src(vec2)})"


@function(
    "torch.repeat_interleave",
    examples=(("torch.repeat_interleave(x, 2, dim=-1)", "tf.repeat(x, 2, axis=-1)"),),
)
@method("repeat_interleave")
def repeat_interleave(input, repeats=None, dim=None, *, output_size=None):
    """tf.repeat(x, repeats, axis=dim) (each element repeated in place; flattened without dim)."""
    if repeats is None:
        raise Unsupported(
            "torch.repeat_interleave(repeats) without a tensor to repeat is not translated",
            "repeat a tensor: torch.repeat_interleave(x, repeats, dim)",
        )
    return keras_call("tf.repeat", src(input), src(repeats), axis=None if dim is None else src(dim))


@function(
    "torch.tensordot",
    examples=(
        ("torch.tensordot(y, x, dims=([-1], [0]))", "tf.tensordot(y, x, axes=([-1], [0]))"),
        ("torch.tensordot(x, y, 1)", "tf.tensordot(x, y, axes=1)"),
    ),
)
def tensordot(a, b, dims=2, out=None):
    """tf.tensordot(a, b, axes=dims): the same contraction for an int or two lists of dims."""
    _no_out(out)
    return f"tf.tensordot({src(a)}, {src(b)}, axes={src(dims)})"


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
    method(_name, examples=((f"x.{_name}()", f"tf.cast(x, {_target})"),))(_cast(_target))


@method(
    "type",
    examples=(
        ("x.type(y.dtype)", "tf.cast(x, y.dtype)"),
        ("x.type(torch.float64)", "tf.cast(x, tf.float64)"),
    ),
)
def type_(tensor, dtype=None, non_blocking=False, **kwargs):
    """tf.cast(x, dtype) for a dtype; without one torch returns the type's name (a string),
    and a type named by a string ('torch.FloatTensor') is refused."""
    if dtype is None or isinstance(const(dtype, None), str):
        raise Unsupported(
            "Tensor.type() is translated only with a dtype (torch.float32, x.dtype)",
            "write .to(dtype) or .type(torch.float32)",
        )
    return f"tf.cast({src(tensor)}, {dtype_source(dtype)})"


@method("type_as", examples=(("x.type_as(y)", "tf.cast(x, y.dtype)"),))
def type_as(tensor, other):
    """tf.cast(x, other.dtype)."""
    return f"tf.cast({src(tensor)}, {paren(src(other))}.dtype)"


@method(
    "to",
    examples=(
        ("x.to(torch.float64)", "tf.cast(x, tf.float64)"),
        ("x.to(y.dtype)", "tf.cast(x, y.dtype)"),
    ),
)
def to(tensor, *args, **kwargs):
    """tf.cast for a dtype; a device is dropped; anything else is refused."""
    target = kwargs.pop("dtype", None)
    device = kwargs.pop("device", None)
    for key in ("non_blocking", "copy", "memory_format"):
        kwargs.pop(key, None)
    if kwargs:
        raise Unsupported(f"Tensor.to({', '.join(kwargs)}=...) is not translated")
    for arg in args:
        if dtype_name(arg) is not None or src(arg).strip().endswith(".dtype"):
            target = arg  # a torch dtype, or another tensor's (``y.dtype``)
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


@method("contiguous", examples=(("x.contiguous()", "x"),))
def contiguous(tensor, memory_format=None):
    """x itself (TensorFlow tensors have no strides)."""
    return paren(src(tensor))  # TensorFlow tensors have no strides


@method("clone", examples=(("x.clone()", "tf.identity(x)"),))
def clone(tensor, memory_format=None):
    """tf.identity(x)."""
    return f"tf.identity({src(tensor)})"


@method("detach", examples=(("x.detach()", "tf.stop_gradient(x)"),))
def detach(tensor):
    """tf.stop_gradient(x)."""
    return f"tf.stop_gradient({src(tensor)})"


@method(
    "numpy",
    examples=(
        (
            "x.detach().numpy() if self.debug else x",
            "torch_numpy(tf.stop_gradient(x)) if self.debug else x",
        ),
    ),
)
def numpy(tensor, *, force=False):
    """refused in forward: a traced graph has no values to give. Translated in ``__init__``
    (run eagerly) as ``x.numpy()``, and under an ``if self.<flag>:`` (a Python-side switch, such
    as N-BEATS' intermediate outputs) as the torch_numpy helper, raising if ever traced."""
    raise Unsupported(
        "Tensor.numpy() makes a NumPy array, which a traced TensorFlow graph cannot",
        "keep the value a tensor (or read it under an `if self.<flag>:` switch)",
    )


@method(
    "item",
    examples=(
        (
            "value = model(x).sum().item()",
            "value = tf.reduce_sum(model(x, training=True)).numpy().item()",
        ),
    ),
)
def item(tensor):
    """refused: a Python number cannot come out of a traced graph."""
    raise Unsupported(
        "Tensor.item() makes a Python number, which a traced TensorFlow graph cannot",
        "keep the value a tensor",
    )
