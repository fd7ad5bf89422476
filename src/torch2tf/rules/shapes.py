"""torch shapes, views and permutes (torch.flatten, Tensor.view, torch.permute, Tensor.size, ...)
-> TensorFlow.

Sizes: ``x.size()`` becomes ``tf.keras.ops.shape(x)``, a tuple holding a Python int for every
statically known dim and a scalar tensor for the others, which is what torch.Size is to a
traced graph: reshapes keep their static shapes and arithmetic on sizes works in tf.function.
"""

from __future__ import annotations

import ast
from typing import Any

from torch2tf.rules.functional import _MISSING, dtype_name, given, paren, src
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


@function(
    "torch.flatten",
    examples=(
        ("torch.flatten(y)", "tf.reshape(y, [-1])"),
        ("y.flatten(0, 1)", "torch_flatten(y, 0, 1)"),
    ),
)
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


@function(
    "torch.transpose",
    "torch.swapaxes",
    examples=(
        ("torch.transpose(y, 0, 2)", "tf.keras.ops.swapaxes(y, 0, 2)"),
        ("y.transpose(-1, -2)", "tf.linalg.matrix_transpose(y)"),
    ),
)
@method("transpose", "swapaxes")
def transpose(input, dim0, dim1):
    """tf.keras.ops.swapaxes; the last two dims -> tf.linalg.matrix_transpose."""
    a, b = const(dim0, _MISSING), const(dim1, _MISSING)
    if {a, b} == {-1, -2}:
        return f"tf.linalg.matrix_transpose({src(input)})"
    if a is not _MISSING and a == b:
        return paren(src(input))
    return f"tf.keras.ops.swapaxes({src(input)}, {src(dim0)}, {src(dim1)})"


@function("torch.t", examples=(("x.t()", "tf.transpose(x)"),))
@method("t")
def t(input):
    """tf.transpose (torch.t takes <= 2 dims, where the two agree)."""
    return f"tf.transpose({src(input)})"  # torch.t accepts <= 2 dims, where they agree


@function("torch.permute", examples=(("torch.permute(x, (1, 0))", "tf.transpose(x, perm=(1, 0))"),))
def permute(input, dims):
    """tf.transpose(x, perm=dims); x itself for the identity (a channels-last map's)."""
    literal = const(dims, None)
    if isinstance(literal, (tuple, list)) and list(literal) == list(range(len(literal))):
        return paren(src(input))
    return f"tf.transpose({src(input)}, perm={src(dims)})"


@method("permute", examples=(("y.permute(2, 0, 1)", "tf.transpose(y, perm=[2, 0, 1])"),))
def permute_method(tensor, *dims):
    """tf.transpose(x, perm=dims); x itself for the identity (a channels-last map's)."""
    if len(dims) == 1 and not isinstance(const(dims[0], _MISSING), int):
        return permute(tensor, dims[0])
    if [const(d, None) for d in dims] == list(range(len(dims))):
        return paren(src(tensor))
    return f"tf.transpose({src(tensor)}, perm=[{', '.join(src(d) for d in dims)}])"


@function(
    "torch.unsqueeze",
    examples=(
        ("torch.unsqueeze(x, 1)", "tf.expand_dims(x, axis=1)"),
        ("x.unsqueeze(-1)", "tf.expand_dims(x, axis=-1)"),
    ),
)
@method("unsqueeze")
def unsqueeze(input, dim):
    """tf.expand_dims(x, axis=dim)."""
    return f"tf.expand_dims({src(input)}, axis={src(dim)})"


@function(
    "torch.squeeze",
    examples=(
        ("x.squeeze(1)", "torch_squeeze(x, 1)"),
        ("torch.squeeze(y[0, :1])", "tf.squeeze(y[0, :1])"),
    ),
)
@method("squeeze")
def squeeze(input, dim=None):
    """tf.squeeze(x); with dim -> torch_squeeze helper (no-op when the size is not 1)."""
    if not given(dim):
        return f"tf.squeeze({src(input)})"
    # torch leaves a dim whose size is not 1 alone, where tf.squeeze raises.
    return f"torch_squeeze({src(input)}, {src(dim)})"


@function(
    "torch.reshape", examples=(("torch.reshape(x, (-1, 3, 2))", "tf.reshape(x, (-1, 3, 2))"),)
)
def reshape(input, shape):
    """tf.reshape(x, shape)."""
    return f"tf.reshape({src(input)}, {_sizes((shape,), 'reshape')})"


@method("view", "reshape", examples=(("x.view(-1, 2, 3)", "tf.reshape(x, (-1, 2, 3))"),))
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


@method("view_as", "reshape_as", examples=(("x.view_as(y)", "tf.reshape(x, tf.shape(y))"),))
def view_as(tensor, other):
    """tf.reshape(x, tf.shape(other))."""
    return f"tf.reshape({src(tensor)}, tf.shape({src(other)}))"


@method(
    "expand", examples=(("x[:, None].expand(-1, 3, -1)", "torch_expand(x[:, None], (-1, 3, -1))"),)
)
def expand(tensor, *sizes):
    """tf.broadcast_to; with -1 sizes -> torch_expand helper."""
    shape = _sizes(sizes, "expand")
    entries = _elements(Arg(shape))
    if entries is not None and all(const(Arg(e), None) != -1 for e in entries):
        return f"tf.broadcast_to({src(tensor)}, {shape})"
    return f"torch_expand({src(tensor)}, {shape})"  # -1 keeps a size: tf needs it spelled out


@method("expand_as", examples=(("x.expand_as(y)", "tf.broadcast_to(x, tf.shape(y))"),))
def expand_as(tensor, other):
    """tf.broadcast_to(x, tf.shape(other))."""
    return f"tf.broadcast_to({src(tensor)}, tf.shape({src(other)}))"


@method("repeat", examples=(("x.repeat(2, 3)", "tf.tile(x, (2, 3))"),))
def repeat(tensor, *repeats):
    """tf.tile(x, repeats) (one count per dim, as tf.tile needs)."""
    # torch's repeat tiles, like tf.tile (which also needs one count per dim).
    return f"tf.tile({src(tensor)}, {_sizes(repeats, 'repeat')})"


@method(
    "size",
    examples=(
        ("x.size(-1)", "tf.keras.ops.shape(x)[-1]"),
        ("x.size()", "tf.keras.ops.shape(x)"),
    ),
)
def size(tensor, dim=None, *, _channels_last=False):
    """tf.keras.ops.shape(x)[dim]: a Python int where static, a scalar tensor elsewhere."""
    if not given(dim) and _channels_last:  # a map's sizes in torch's order (N, C, *S)
        return f"torch_map_size({src(tensor)})"
    if not given(dim):
        return f"tf.keras.ops.shape({src(tensor)})"
    return f"tf.keras.ops.shape({src(tensor)})[{src(dim)}]"


@method(
    "dim",
    "ndimension",
    examples=(
        ("x.dim()", "len(x.shape)"),
        ("x.ndimension()", "len(x.shape)"),
    ),
)
def dim(tensor):
    """len(x.shape)."""
    return f"len({paren(src(tensor))}.shape)"


@method(
    "numel",
    "nelement",
    examples=(
        ("x.nelement()", "math.prod(tf.keras.ops.shape(x))"),
        ("x.numel()", "math.prod(tf.keras.ops.shape(x))"),
    ),
)
def numel(tensor):
    """math.prod(tf.keras.ops.shape(x)): a Python int when the shape is static."""
    # A Python int when the shape is static, as torch's (tf.size is an int32 tensor).
    return f"math.prod(tf.keras.ops.shape({src(tensor)}))"
