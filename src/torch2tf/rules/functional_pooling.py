"""torch.nn.functional pooling and channel dropout -> tf.nn / keras.ops on channels-last maps.

The F.* forms follow the layers' rules in :mod:`torch2tf.rules.pooling` (explicit -inf or zero
padding, then a ``'VALID'`` pool), and are translated only where the tensor facts know the
input is a channels-last feature map.
"""

from __future__ import annotations

from torch2tf.rules.conv import literal_flag, short, tuple_of
from torch2tf.rules.pooling import dilation_extra, divisor_extra, pool_args, pool_spec
from torch2tf.rules.registry import Unsupported, const, function, keras_call, src

_ON_MAPS = (
    "is translated only on a feature map the tensor facts follow in forward() (the output of "
    "a conv or pooling layer, or the model's input feeding one)"
)


def on_map(name: str, channels_last: bool) -> None:
    if not channels_last:
        raise Unsupported(f"F.{name} {_ON_MAPS}", "torch's axes (N, C, *spatial) are Keras's")


def spatial_pad(x: str, pads: tuple[int, ...], value: str | None = None) -> str:
    """``tf.pad`` of the spatial axes of a channels-last map by ``pads`` on both sides."""
    paddings = ", ".join(["[0, 0]", *(f"[{p}, {p}]" for p in pads), "[0, 0]"])
    fill = "" if value is None else f", constant_values={value}"
    return f"tf.pad({x}, [{paddings}]{fill})"


def _functional_pool(kind: str, dims: int):
    name = f"{kind}_pool{dims}d"

    def pool(
        x,
        kernel_size,
        stride,
        padding,
        ceil_mode,
        channels_last,
        count_include_pad=True,
        extra=None,
    ):
        on_map(name, channels_last)
        if const(stride, None) in ([], ()):
            stride = None
        _, _, pads = pool_args(f"F.{name}", dims, kernel_size, stride, padding, ceil_mode)
        ceil = literal_flag(ceil_mode, "ceil_mode=")
        if ceil or not count_include_pad or extra:  # torch's windows and divisor: torch_pool
            spec = pool_spec(f"F.{name}", dims, kernel_size, stride, padding)
            return keras_call(
                "torch_pool",
                src(x),
                repr(kind),
                *spec,
                ceil_mode="True" if ceil else None,
                count_include_pad=None if count_include_pad else "False",
                **(extra or {}),
            )
        kernel = tuple_of(kernel_size, dims, name)
        strides = kernel if src(stride) == "None" else tuple_of(stride, dims, name)
        if strides is None and src(stride) == "None":  # a variable kernel size, no padding
            stride = kernel_size
        source = src(x)
        if pads is not None:
            source = spatial_pad(source, pads, "float('-inf')" if kind == "max" else None)
        return (
            f"tf.nn.{kind}_pool{dims}d({source}, {short(kernel, kernel_size)}, "
            f"{short(strides, stride)}, 'VALID')"
        )

    return pool


# Examples per dims (the rules are made per dims below).
_EXAMPLES = {
    "max_pool1d": (("F.max_pool1d(x, 2)", "tf.nn.max_pool1d(x, 2, 2, 'VALID')"),),
    "max_pool2d": (("F.max_pool2d(x, 2)", "tf.nn.max_pool2d(x, 2, 2, 'VALID')"),),
    "max_pool3d": (
        (
            "F.max_pool3d(x, 2, padding=1)",
            "tf.nn.max_pool3d(tf.pad(x, [[0, 0], [1, 1], [1, 1], [1, 1], [0, 0]], "
            "constant_values=float('-inf')), 2, 2, 'VALID')",
        ),
    ),
    "avg_pool1d": (("F.avg_pool1d(x, 3, stride=2)", "tf.nn.avg_pool1d(x, 3, 2, 'VALID')"),),
    "avg_pool2d": (
        (
            "F.avg_pool2d(x, 3, stride=2, padding=1)",
            "tf.nn.avg_pool2d(tf.pad(x, [[0, 0], [1, 1], [1, 1], [0, 0]]), 3, 2, 'VALID')",
        ),
    ),
    "avg_pool3d": (
        (
            "F.avg_pool3d(x, 2, ceil_mode=True)",
            "torch_pool(x, 'avg', [2, 2, 2], [2, 2, 2], [0, 0, 0], ceil_mode=True)",
        ),
    ),
    "adaptive_avg_pool1d": (
        ("F.adaptive_avg_pool1d(x, 1)", "tf.reduce_mean(x, axis=[1], keepdims=True)"),
    ),
    "adaptive_avg_pool2d": (
        ("F.adaptive_avg_pool2d(x, 1)", "tf.reduce_mean(x, axis=[1, 2], keepdims=True)"),
    ),
    "adaptive_avg_pool3d": (
        (
            "F.adaptive_avg_pool3d(x, (2, 2, 2))",
            "tf.keras.ops.adaptive_average_pool(x, 2, data_format='channels_last')",
        ),
    ),
    "adaptive_max_pool1d": (
        (
            "F.adaptive_max_pool1d(x, 4)",
            "tf.keras.ops.adaptive_max_pool(x, 4, data_format='channels_last')",
        ),
    ),
    "adaptive_max_pool2d": (
        (
            "F.adaptive_max_pool2d(x, (2, 3))",
            "tf.keras.ops.adaptive_max_pool(x, (2, 3), data_format='channels_last')",
        ),
    ),
    "adaptive_max_pool3d": (
        ("F.adaptive_max_pool3d(x, 1)", "tf.reduce_max(x, axis=[1, 2, 3], keepdims=True)"),
    ),
    **{
        f"dropout{d}d": (
            (
                f"F.dropout{d}d(x, 0.2, self.training)",
                "torch_channel_dropout(x, 0.2) if training else x",
            ),
        )
        for d in (1, 2, 3)
    },
}


def _register_functional_pools(dims: int) -> None:
    max_pool = _functional_pool("max", dims)
    avg_pool = _functional_pool("avg", dims)

    @function(f"torch.nn.functional.max_pool{dims}d", examples=_EXAMPLES[f"max_pool{dims}d"])
    def max_pool_nd(
        input,
        kernel_size,
        stride=None,
        padding=0,
        dilation=1,
        ceil_mode=False,
        return_indices=False,
        *,
        _channels_last=False,
    ):
        dilated = dilation_extra(dilation, dims, f"F.max_pool{dims}d")
        if literal_flag(return_indices, "return_indices="):
            raise Unsupported(f"F.max_pool{dims}d(return_indices=True) is not translated")
        return max_pool(
            input, kernel_size, stride, padding, ceil_mode, _channels_last, True, dilated
        )

    max_pool_nd.__doc__ = f"tf.nn.max_pool{dims}d on channels-last maps; padding -inf first."

    if dims == 1:

        def avg_pool_nd(
            input,
            kernel_size,
            stride=None,
            padding=0,
            ceil_mode=False,
            count_include_pad=True,
            *,
            _channels_last=False,
        ):
            counted = literal_flag(count_include_pad, "count_include_pad=")
            return avg_pool(input, kernel_size, stride, padding, ceil_mode, _channels_last, counted)

    else:

        def avg_pool_nd(
            input,
            kernel_size,
            stride=None,
            padding=0,
            ceil_mode=False,
            count_include_pad=True,
            divisor_override=None,
            *,
            _channels_last=False,
        ):
            extra = divisor_extra(divisor_override, f"F.avg_pool{dims}d")
            counted = literal_flag(count_include_pad, "count_include_pad=") or bool(extra)
            return avg_pool(
                input, kernel_size, stride, padding, ceil_mode, _channels_last, counted, extra
            )

    avg_pool_nd.__doc__ = (
        f"tf.nn.avg_pool{dims}d on channels-last maps; zero padding (counted) first."
    )
    function(f"torch.nn.functional.avg_pool{dims}d", examples=_EXAMPLES[f"avg_pool{dims}d"])(
        avg_pool_nd
    )

    def adaptive(kind: str, keras_kind: str, reduce: str):
        def rule(input, output_size, return_indices=False, *, _channels_last=False):
            on_map(f"adaptive_{kind}_pool{dims}d", _channels_last)
            if const(return_indices, None) is not False:
                raise Unsupported("adaptive pooling with return_indices=True is not translated")
            sizes = tuple_of(output_size, dims, f"F.adaptive_{kind}_pool{dims}d")
            if sizes is None:
                raise Unsupported("the output size of adaptive pooling must be a literal")
            axes = list(range(1, dims + 1))
            if set(sizes) == {1}:
                return f"{reduce}({src(input)}, axis={axes}, keepdims=True)"
            return (
                f"tf.keras.ops.adaptive_{keras_kind}_pool({src(input)}, "
                f"{short(sizes, output_size)}, data_format='channels_last')"
            )

        rule.__doc__ = (
            f"{reduce} for output size 1, else keras.ops.adaptive_{keras_kind}_pool "
            "(static spatial size)."
        )
        return rule

    function(
        f"torch.nn.functional.adaptive_avg_pool{dims}d",
        examples=_EXAMPLES[f"adaptive_avg_pool{dims}d"],
    )(adaptive("avg", "average", "tf.reduce_mean"))
    function(
        f"torch.nn.functional.adaptive_max_pool{dims}d",
        examples=_EXAMPLES[f"adaptive_max_pool{dims}d"],
    )(adaptive("max", "max", "tf.reduce_max"))

    @function(f"torch.nn.functional.dropout{dims}d", examples=_EXAMPLES[f"dropout{dims}d"])
    def channel_dropout(input, p=0.5, training=True, inplace=False, *, _channels_last=False):
        on_map(f"dropout{dims}d", _channels_last)
        if const(inplace, None) is not False:
            raise Unsupported(f"F.dropout{dims}d(inplace=...) is not translated")
        rate = const(p, None)
        if rate is not None and not 0 <= rate < 1:
            raise Unsupported(f"F.dropout{dims}d(p={rate}) is not translated: needs 0 <= p < 1")
        dropped = f"torch_channel_dropout({src(input)}, {src(p)})"
        mode = const(training, None)
        if mode is True:  # torch's default: it drops even in eval mode
            return dropped
        if mode is False:
            return src(input)
        return f"({dropped} if {src(training)} else {src(input)})"

    channel_dropout.__doc__ = (
        "torch_channel_dropout helper: whole channels of a channels-last map dropped."
    )


for _dims in (1, 2, 3):
    _register_functional_pools(_dims)
