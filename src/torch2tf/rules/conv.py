"""torch.nn convolutions -> channels-last Keras convolutions, each with its weight mapping.

The generated model is channels-last (NLC, NHWC): a kernel (O, I/g, *k) becomes (*k, I/g, O).
torch pads p on every side; Keras's ``"same"`` pads by its own rule, which agrees with torch
only for stride 1 with an odd dilated kernel and p = d(k-1)/2. Every other padding is an explicit
``ZeroPaddingND(p)`` before a ``"valid"`` convolution, which is exact whatever the input size.
A depthwise conv (groups == in_channels, out = m * in) is Keras's DepthwiseConv1D/2D (a grouped
Conv2D runs ~10x slower on CPU), kernel (C*m, 1, *k) -> (*k, C, m); where only the values decide
it, the generated code picks one when it makes the layer.
"""

from __future__ import annotations

import math
from typing import Any

from torch2tf.rules.init import LAYOUT_SENSITIVE
from torch2tf.rules.layers import _array, _no_dtype
from torch2tf.rules.registry import LayerRule, Unsupported, const, keras_call, layer, src


def tuple_of(value: Any, dims: int, what: str) -> tuple[int, ...] | None:
    """A literal int or tuple as ``dims`` ints; None when the value is not a literal."""
    literal = const(value, None)
    if isinstance(literal, int) and not isinstance(literal, bool):
        return (literal,) * dims
    if isinstance(literal, (tuple, list)) and all(isinstance(n, int) for n in literal):
        if len(literal) != dims:
            raise Unsupported(f"{what} needs {dims} sizes, received {len(literal)}")
        return tuple(literal)
    return None


def literal_flag(value: Any, what: str) -> bool:
    flag = const(value, None)
    if not isinstance(flag, bool):
        raise Unsupported(f"{what} must be a literal True or False")
    return flag


def short(values: tuple[int, ...] | None, source: Any) -> str:
    """``3`` for (3, 3), ``(3, 5)`` for (3, 5); the source text when not a literal."""
    if values is None:
        return src(source)
    return repr(values[0]) if len(set(values)) == 1 else repr(values)


def _operand(text: str) -> str:
    return text if text.isidentifier() or text.isdigit() else f"({text})"


def depthwise_init(source: str) -> str:
    """A conv weight's initializer for a Keras depthwise kernel (*k, C, m): Keras reads its
    fans as k*C and k*m, torch as k and C*m*k, so one that depends on fans is wrapped in
    TorchDepthwiseInit (drawn as a (*k, 1, C*m) kernel); elementwise ones stay as they are."""
    if "torch_default_kernel" in source or any(
        f"initializers.{name}" in source for name in LAYOUT_SENSITIVE
    ):
        return f"TorchDepthwiseInit({source})"
    return source


def padded(layer: str, padding: str | None, dims: int) -> str:
    """``layer`` after ``ZeroPaddingND(padding)`` (a Keras Sequential), or alone."""
    if padding is None:
        return layer
    return f"tf.keras.Sequential([tf.keras.layers.ZeroPadding{dims}D({padding}), {layer}])"


class _Conv(LayerRule):
    dims: int
    initializers = {"weight": "kernel_initializer", "bias": "bias_initializer"}

    def rank_sensitive(self, arguments):
        return True

    def keras(
        self,
        in_channels,
        out_channels,
        kernel_size,
        stride=1,
        padding=0,
        dilation=1,
        groups=1,
        bias=True,
        padding_mode="zeros",
        device=None,
        dtype=None,
    ):
        _no_dtype(dtype)
        dims, name = self.dims, f"Conv{self.dims}d"
        mode = const(padding_mode, None)
        if mode not in ("zeros", "reflect", "replicate", "circular"):
            raise Unsupported(f"{name}(padding_mode={src(padding_mode)}) is not translated")
        kernel = tuple_of(kernel_size, dims, f"{name} kernel_size")
        strides = tuple_of(stride, dims, f"{name} stride")
        dilations = tuple_of(dilation, dims, f"{name} dilation")
        # A variable stride or dilation goes to Keras as it is (Keras refuses stride > 1 with
        # dilation > 1 when it builds the layer, loudly); the padding is then explicit.
        known = strides is not None and dilations is not None
        if known and any(s > 1 for s in strides) and any(d > 1 for d in dilations):
            raise Unsupported(
                f"{name} with both stride > 1 and dilation > 1 is not translated yet "
                "(Keras refuses the combination)"
            )
        # bias=<a name>: Keras's use_bias reads it as torch does (the initializer is unused
        # without a bias)
        with_bias = True if const(bias, None) is None else literal_flag(bias, f"{name} bias=")
        pairs = None
        if mode != "zeros":  # torch pads by the mode, then convolves without padding
            pairs = self._pairs(padding, kernel, dilations, name)
            padding = 0
        keras_mode, pad = self._padding(padding, kernel, strides, dilations)
        fan_in = self._fan_in(in_channels, kernel_size, kernel, groups)
        common = {
            "strides": None if strides and set(strides) == {1} else short(strides, stride),
            "padding": keras_mode,
            "dilation_rate": None
            if dilations and set(dilations) == {1}
            else short(dilations, dilation),
            "use_bias": None if const(bias, None) is True else src(bias) if with_bias else "False",
        }
        bias_init = self.initializer("bias", f"torch_default_bias({fan_in})") if with_bias else None
        kernel_text = short(kernel, kernel_size)
        grouped = keras_call(
            f"tf.keras.layers.Conv{dims}D",
            src(out_channels),
            kernel_text,
            **common,
            groups=None if const(groups, None) == 1 else src(groups),
            kernel_initializer=self.initializer("weight", "torch_default_kernel()"),
            bias_initializer=bias_init,
        )
        depthwise = self._depthwise(in_channels, out_channels, groups, name)
        conv = grouped
        if depthwise is not False:
            conv = keras_call(
                f"tf.keras.layers.DepthwiseConv{dims}D",
                kernel_text,
                **common,
                depth_multiplier=self._multiplier(in_channels, out_channels),
                depthwise_initializer=depthwise_init(
                    self.initializer("weight", "torch_default_kernel()")
                ),
                bias_initializer=bias_init,
            )
        if depthwise is None:  # decided where the layer is made, from the values
            conv = (
                f"(\n# depthwise convs as DepthwiseConv{dims}D (fast on CPU), "
                f"others as Conv{dims}D\n"
                f"{conv} if {src(groups)} == {src(in_channels)} != 1 else {grouped}\n)"
            )
        if pairs is not None and any(pairs):
            return f"tf.keras.Sequential([TorchPad({list(pairs)!r}, {mode!r}), {conv}])"
        if pad is not None and const(padding, None) is None:  # 0 at run time: no copy
            return f"torch_padded({conv}, {pad}, {dims})"
        return padded(conv, pad, dims)

    def _depthwise(self, in_channels, out_channels, groups, name) -> bool | None:
        """Whether the conv is depthwise (groups == in_channels): True or False when the
        arguments decide it (literals, or the very same expression), None when only their
        values can. One input channel is a plain Conv: both compute the same there."""
        if self.dims == 3:  # Keras has no DepthwiseConv3D: a grouped Conv3D
            return False
        channels, count = const(in_channels, None), const(groups, None)
        if count == 1 or channels == 1:
            return False
        if isinstance(channels, int) and isinstance(count, int):
            if count != channels:
                return False
        elif src(groups) != src(in_channels):
            return None
        outs = const(out_channels, None)
        if isinstance(channels, int) and isinstance(outs, int) and outs % channels:
            raise Unsupported(
                f"{name}: out_channels ({outs}) must be divisible by groups ({channels}) "
                "(torch raises ValueError)"
            )
        return True

    @staticmethod
    def _multiplier(in_channels, out_channels) -> str | None:
        """Keras's depth_multiplier, out_channels / in_channels; None when it is 1."""
        channels, outs = const(in_channels, None), const(out_channels, None)
        if isinstance(channels, int) and isinstance(outs, int):
            return None if outs == channels else repr(outs // channels)
        if src(out_channels) == src(in_channels):
            return None
        return f"{_operand(src(out_channels))} // {_operand(src(in_channels))}"

    def _pairs(self, padding, kernel, dilations, name) -> tuple[int, ...]:
        """torch's padding as TorchPad's pairs (last dim first) for a non-zero padding_mode."""
        literal = const(padding, None)
        if literal == "valid":
            return ()
        if literal == "same":
            if kernel is None or dilations is None:
                raise Unsupported(f"{name} padding='same' needs a literal kernel_size and dilation")
            totals = [d * (k - 1) for d, k in zip(dilations, kernel, strict=True)]
            per_dim = [(t // 2, t - t // 2) for t in totals]
        else:
            pads = tuple_of(padding, self.dims, f"{name} padding")
            if pads is None:
                raise Unsupported(f"{name} padding= must be literal with a padding_mode")
            per_dim = [(p, p) for p in pads]
        return tuple(n for pair in reversed(per_dim) for n in pair)

    def _padding(self, padding, kernel, strides, dilations) -> tuple[str | None, str | None]:
        """(Keras ``padding=``, ZeroPadding source or None) for torch's ``padding``."""
        literal = const(padding, None)
        if literal in ("same", "valid"):
            if literal == "same" and (strides is None or any(s > 1 for s in strides)):
                raise Unsupported("padding='same' needs stride 1 (torch refuses it too)")
            return (repr(literal) if literal == "same" else None), None
        pads = tuple_of(padding, self.dims, f"Conv{self.dims}d padding")
        if pads is None:  # a name: explicit padding is exact for any value
            return None, src(padding)
        if set(pads) == {0}:
            return None, None
        if strides is None or dilations is None:  # not literal: "same" is not provably exact
            return None, short(pads, padding)
        if kernel is not None and all(
            s == 1 and d * (k - 1) % 2 == 0 and p == d * (k - 1) // 2
            for s, d, k, p in zip(strides, dilations, kernel, pads, strict=True)
        ):
            return "'same'", None
        return None, short(pads, padding)

    def _fan_in(self, in_channels, kernel_size, kernel, groups) -> str:
        channels, group_count = const(in_channels, None), const(groups, None)
        if isinstance(channels, int) and isinstance(group_count, int) and kernel is not None:
            return repr(channels // group_count * math.prod(kernel))
        if kernel is not None and src(groups) == src(in_channels):  # depthwise: one channel
            return repr(math.prod(kernel))
        if group_count == 1 and kernel is not None:
            size = math.prod(kernel)
            text = src(in_channels)
            text = text if text.isidentifier() else f"({text})"
            return text if size == 1 else f"{text} * {size}"
        return f"torch_fan_in({src(in_channels)}, {src(kernel_size)}, {src(groups)}, {self.dims})"

    @staticmethod
    def weights(module):
        kernel = _array(module.weight)
        rank = kernel.ndim
        if module.groups == module.in_channels and rank < 5:
            # depthwise: (C*m, 1, *k) -> (*k, C, m); torch's output channel c*m+j is group c's
            # j-th, as Keras's is (one input channel: the same array as a Conv's kernel)
            kernel = kernel.reshape(module.in_channels, -1, *kernel.shape[2:])
            kernel = kernel.transpose(*range(2, rank), 0, 1)
        else:
            kernel = kernel.transpose(*range(2, rank), 1, 0)  # (O, I/g, *k) -> (*k, I/g, O)
        return [kernel] if module.bias is None else [kernel, _array(module.bias)]


@layer
class Conv1d(_Conv):
    """nn.Conv1d -> Conv1D on (N, L, C), kernel permute(2, 1, 0); depthwise: DepthwiseConv1D.

    Explicit zero padding; a depthwise kernel (C*m, 1, k) becomes (k, C, m)."""

    torch = "torch.nn.Conv1d"
    examples = (
        (
            "nn.Conv1d(4, 8, kernel_size=3, padding=1)",
            (
                "tf.keras.layers.Conv1D(8, 3, padding='same', "
                "kernel_initializer=torch_default_kernel(), "
                "bias_initializer=torch_default_bias(12))"
            ),
        ),
        (
            "nn.Conv1d(8, 8, 5, padding=2, groups=8, bias=False)",
            (
                "tf.keras.layers.DepthwiseConv1D(5, padding='same', use_bias=False, "
                "depthwise_initializer=TorchDepthwiseInit(torch_default_kernel()))"
            ),
        ),
    )
    dims = 1


@layer
class Conv2d(_Conv):
    """nn.Conv2d -> Conv2D on NHWC, kernel permute(2, 3, 1, 0); depthwise: DepthwiseConv2D.

    Explicit zero padding; a depthwise kernel (C*m, 1, kh, kw) becomes (kh, kw, C, m)."""

    torch = "torch.nn.Conv2d"
    examples = (
        (
            "nn.Conv2d(3, 16, 3, stride=2, padding=1, bias=False)",
            (
                "tf.keras.Sequential([tf.keras.layers.ZeroPadding2D(1), tf.keras.layers.Conv2D(16, "
                "3, strides=2, use_bias=False, kernel_initializer=torch_default_kernel())])"
            ),
        ),
        (
            "nn.Conv2d(16, 32, 3, padding='same', groups=16)",
            (
                "tf.keras.layers.DepthwiseConv2D(3, padding='same', depth_multiplier=2, "
                "depthwise_initializer=TorchDepthwiseInit(torch_default_kernel()), "
                "bias_initializer=torch_default_bias(9))"
            ),
        ),
        (
            "nn.Conv2d(16, 32, 3, padding=1, groups=2)",
            (
                "tf.keras.layers.Conv2D(32, 3, padding='same', groups=2, "
                "kernel_initializer=torch_default_kernel(), "
                "bias_initializer=torch_default_bias(72))"
            ),
        ),
    )
    dims = 2


@layer
class Conv3d(_Conv):
    """nn.Conv3d -> Conv3D on NDHWC, kernel permute(2, 3, 4, 1, 0); explicit zero padding.

    A depthwise one stays a grouped Conv3D (Keras has no DepthwiseConv3D)."""

    torch = "torch.nn.Conv3d"
    examples = (
        (
            "nn.Conv3d(2, 8, 3, padding=1)",
            (
                "tf.keras.layers.Conv3D(8, 3, padding='same', "
                "kernel_initializer=torch_default_kernel(), "
                "bias_initializer=torch_default_bias(54))"
            ),
        ),
    )
    dims = 3


class _ConvTranspose(LayerRule):
    dims: int
    initializers = {"weight": "kernel_initializer", "bias": "bias_initializer"}

    def rank_sensitive(self, arguments):
        return True

    def keras(
        self,
        in_channels,
        out_channels,
        kernel_size,
        stride=1,
        padding=0,
        output_padding=0,
        groups=1,
        bias=True,
        dilation=1,
        padding_mode="zeros",
        device=None,
        dtype=None,
    ):
        _no_dtype(dtype)
        dims, name = self.dims, f"ConvTranspose{self.dims}d"
        if const(padding_mode, None) != "zeros":
            raise Unsupported(f"{name}: torch accepts only padding_mode='zeros'")
        if const(groups, None) not in (1, None):
            raise Unsupported(
                f"{name}(groups=...) is not translated yet", "Conv{dims}DTranspose has no groups"
            )
        self.dilation = dilation
        if const(dilation, None) is not None and tuple_of(dilation, dims, name) != (1,) * dims:
            raise Unsupported(
                f"{name}(dilation=...) is not translated yet",
                "TensorFlow's CPU kernel refuses dilated transposed convolutions",
            )
        kernel = tuple_of(kernel_size, dims, f"{name} kernel_size")
        strides = tuple_of(stride, dims, f"{name} stride")
        pads = tuple_of(padding, dims, f"{name} padding")
        extra = tuple_of(output_padding, dims, f"{name} output_padding")
        if None in (kernel, strides, pads, extra) or const(groups, None) is None:
            return self._at_run_time(
                out_channels, kernel_size, stride, padding, output_padding, groups, bias
            )
        with_bias = literal_flag(bias, f"{name} bias=")
        # Keras's "same" crops like torch only when k - s = 2p without output padding;
        # otherwise "valid" (with output_padding) and a symmetric crop of p is exact.
        same = set(extra) == {0} and all(
            k - s == 2 * p for k, s, p in zip(kernel, strides, pads, strict=True)
        )
        fan_in = f"{src(out_channels)} * {math.prod(kernel)}" if math.prod(kernel) > 1 else None
        conv = keras_call(
            f"tf.keras.layers.Conv{dims}DTranspose",
            src(out_channels),
            short(kernel, kernel_size),
            strides=None if set(strides) == {1} else short(strides, stride),
            padding="'same'" if same and set(pads) != {0} else None,
            output_padding=None if set(extra) == {0} else short(extra, output_padding),
            use_bias=None if with_bias else "False",
            kernel_initializer=self.initializer("weight", "torch_default_kernel()"),
            bias_initializer=self.initializer(
                "bias", f"torch_default_bias({fan_in or src(out_channels)})"
            )
            if with_bias
            else None,
        )
        if same or set(pads) == {0}:
            return conv
        crop = short(pads, padding)
        return f"tf.keras.Sequential([{conv}, tf.keras.layers.Cropping{dims}D({crop})])"

    def _at_run_time(
        self, out_channels, kernel_size, stride, padding, output_padding, groups, bias
    ):
        """torch_conv_transpose(...): sizes, groups or dilation known only when it runs (a
        layer class used as a value, a registry's); its choices are made then."""
        with_bias = True if const(bias, None) is None else literal_flag(bias, "bias=")
        fan_in = (
            f"torch_fan_in({src(out_channels)}, {src(kernel_size)}, {src(groups)}, {self.dims})"
        )
        return keras_call(
            "torch_conv_transpose",
            repr(self.dims),
            src(out_channels),
            src(kernel_size),
            src(stride),
            src(padding),
            src(output_padding),
            src(groups),
            src(self.dilation),
            use_bias=None if const(bias, None) is True else src(bias) if with_bias else "False",
            kernel_initializer=self.initializer("weight", "torch_default_kernel()"),
            bias_initializer=self.initializer("bias", f"torch_default_bias({fan_in})")
            if with_bias
            else None,
        )

    @staticmethod
    def weights(module):
        kernel = _array(module.weight)  # (I, O, *k) -> (*k, O, I): torch keeps (in, out)
        kernel = kernel.transpose(*range(2, kernel.ndim), 1, 0)
        return [kernel] if module.bias is None else [kernel, _array(module.bias)]


@layer
class ConvTranspose1d(_ConvTranspose):
    """nn.ConvTranspose1d -> Conv1DTranspose on (N, L, C) ("valid", output_padding, crop p)."""

    torch = "torch.nn.ConvTranspose1d"
    examples = (
        (
            "nn.ConvTranspose1d(16, 8, 4, stride=2, padding=1)",
            (
                "tf.keras.layers.Conv1DTranspose(8, 4, strides=2, padding='same', "
                "kernel_initializer=torch_default_kernel(), "
                "bias_initializer=torch_default_bias(8 * 4))"
            ),
        ),
    )
    dims = 1


@layer
class ConvTranspose2d(_ConvTranspose):
    """nn.ConvTranspose2d -> Conv2DTranspose on NHWC ("valid", output_padding, crop p)."""

    torch = "torch.nn.ConvTranspose2d"
    examples = (
        (
            "nn.ConvTranspose2d(16, 8, 4, stride=2, padding=1)",
            (
                "tf.keras.layers.Conv2DTranspose(8, 4, strides=2, padding='same', "
                "kernel_initializer=torch_default_kernel(), "
                "bias_initializer=torch_default_bias(8 * 16))"
            ),
        ),
    )
    dims = 2
