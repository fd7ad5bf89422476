"""torch.nn pooling and channel dropout -> channels-last Keras layers (no weights).

torch pads a max pool with -inf and (by default, ``count_include_pad=True``) an average pool
with zeros counted in the divisor; Keras's ``"same"`` pads by its own rule and leaves pads out
of the average. So padding is explicit: ``TorchPadding(p, -inf)`` or ``ZeroPaddingND(p)``, then
a ``"valid"`` pool, exact whatever the input size.
"""

from __future__ import annotations

from typing import Any

from torch2tf.rules.conv import literal_flag, padded, short, tuple_of
from torch2tf.rules.registry import (
    LayerRule,
    Unsupported,
    const,
    keras_call,
    layer,
    src,
)


def pool_args(name: str, dims: int, kernel_size, stride, padding, ceil_mode):
    """(Keras pool size, strides or None, torch's padding or None), as source.

    Without padding, kernel_size= and stride= may be variables: Keras's ``"valid"`` pool
    takes an int or a tuple as torch does, and a stride of None is the kernel size in both.
    """
    kernel = tuple_of(kernel_size, dims, f"{name} kernel_size")
    strides = kernel if src(stride) == "None" else tuple_of(stride, dims, f"{name} stride")
    pads = tuple_of(padding, dims, f"{name} padding")
    if pads is None:
        raise Unsupported(f"{name} padding= must be literal")
    if kernel is None or strides is None:
        if set(pads) != {0}:
            raise Unsupported(f"{name} kernel_size= and stride= must be literal with padding")
        return src(kernel_size), (None if src(stride) == "None" else src(stride)), None
    if any(2 * p > k for p, k in zip(pads, kernel, strict=True)):
        raise Unsupported(f"{name}: padding should be at most half the kernel size")
    keras_strides = None if strides == kernel else short(strides, stride)
    return short(kernel, kernel_size), keras_strides, (None if set(pads) == {0} else pads)


def pool_spec(name: str, dims: int, kernel_size, stride, padding) -> list[str]:
    """TorchPool's/torch_pool's kernel, stride and padding, as lists of ints (source)."""
    kernel = tuple_of(kernel_size, dims, f"{name} kernel_size")
    strides = kernel if src(stride) == "None" else tuple_of(stride, dims, f"{name} stride")
    pads = tuple_of(padding, dims, f"{name} padding")
    if kernel is None or strides is None or pads is None:
        raise Unsupported(
            f"{name} kernel_size=, stride= and padding= must be literal with ceil_mode=True, "
            "dilation, divisor_override or uncounted padding"
        )
    return [repr(list(kernel)), repr(list(strides)), repr(list(pads))]


def _torch_pool(
    kind, dims, kernel_size, stride, padding, ceil_mode, count_include_pad, extra=None
) -> str:
    spec = pool_spec(f"{kind} pool", dims, kernel_size, stride, padding)
    return keras_call(
        "TorchPool",
        repr(kind),
        *spec,
        ceil_mode="True" if ceil_mode else None,
        count_include_pad=None if count_include_pad else "False",
        **(extra or {}),
    )


def dilation_extra(dilation, dims: int, name: str) -> dict[str, str]:
    """torch_pool's ``dilation=`` (source) for a max pool's, {} for none."""
    dilations = tuple_of(dilation, dims, f"{name} dilation")
    if dilations is None or min(dilations) < 1:
        raise Unsupported(f"{name} dilation= must be literal positive ints")
    return {} if set(dilations) == {1} else {"dilation": repr(list(dilations))}


def divisor_extra(divisor_override, name: str) -> dict[str, str]:
    """torch_pool's ``divisor_override=`` (source) for an average pool's, {} for None."""
    if src(divisor_override) == "None":
        return {}
    value = const(divisor_override, None)
    if value is not None and (not isinstance(value, int) or isinstance(value, bool) or not value):
        raise Unsupported(f"{name} divisor_override= must be a non-zero int (torch's check)")
    return {"divisor_override": src(divisor_override)}


class _MaxPool(LayerRule):
    dims: int

    def keras(
        self,
        kernel_size,
        stride=None,
        padding=0,
        dilation=1,
        return_indices=False,
        ceil_mode=False,
    ):
        name = f"MaxPool{self.dims}d"
        dilated = dilation_extra(dilation, self.dims, name)
        if literal_flag(return_indices, f"{name} return_indices="):
            raise Unsupported(f"{name}(return_indices=True) is not translated")
        pool, strides, pads = pool_args(name, self.dims, kernel_size, stride, padding, ceil_mode)
        ceil = literal_flag(ceil_mode, f"{name} ceil_mode=")
        if ceil or dilated:  # Keras's pools have neither
            return _torch_pool("max", self.dims, kernel_size, stride, padding, ceil, True, dilated)
        layer_source = keras_call(f"tf.keras.layers.MaxPooling{self.dims}D", pool, strides=strides)
        if pads is None:
            return layer_source
        padding_layer = f"TorchPadding({short(pads, padding)}, float('-inf'))"
        return f"tf.keras.Sequential([{padding_layer}, {layer_source}])"


@layer
class MaxPool1d(_MaxPool):
    """nn.MaxPool1d -> MaxPooling1D on (N, L, C); padding with -inf (TorchPadding) first."""

    torch = "torch.nn.MaxPool1d"
    examples = (("nn.MaxPool1d(2)", "tf.keras.layers.MaxPooling1D(2)"),)
    dims = 1


@layer
class MaxPool2d(_MaxPool):
    """nn.MaxPool2d -> MaxPooling2D on NHWC; padding with -inf (TorchPadding) first."""

    torch = "torch.nn.MaxPool2d"
    examples = (
        (
            "nn.MaxPool2d(3, stride=2, padding=1)",
            (
                "tf.keras.Sequential([TorchPadding(1, float('-inf')), "
                "tf.keras.layers.MaxPooling2D(3, strides=2)])"
            ),
        ),
        (
            "nn.MaxPool2d(3, stride=1, dilation=2)",
            "TorchPool('max', [3, 3], [1, 1], [0, 0], dilation=[2, 2])",
        ),
    )
    dims = 2


@layer
class MaxPool3d(_MaxPool):
    """nn.MaxPool3d -> MaxPooling3D on NDHWC; padding with -inf (TorchPadding) first."""

    torch = "torch.nn.MaxPool3d"
    examples = (("nn.MaxPool3d(2)", "tf.keras.layers.MaxPooling3D(2)"),)
    dims = 3


class _AvgPool(LayerRule):
    dims: int

    def _average(
        self, kernel_size, stride, padding, ceil_mode, count_include_pad, divisor=None
    ) -> str:
        name = f"AvgPool{self.dims}d"
        pool, strides, pads = pool_args(name, self.dims, kernel_size, stride, padding, ceil_mode)
        layer_source = keras_call(
            f"tf.keras.layers.AveragePooling{self.dims}D", pool, strides=strides
        )
        ceil = literal_flag(ceil_mode, f"{name} ceil_mode=")
        counted = literal_flag(count_include_pad, f"{name} count_include_pad=")
        extra = divisor_extra(divisor, name)
        if ceil or extra or (pads is not None and not counted):  # torch's divisor: TorchPool
            return _torch_pool(
                "avg", self.dims, kernel_size, stride, padding, ceil, counted or bool(extra), extra
            )
        return padded(layer_source, None if pads is None else short(pads, padding), self.dims)


@layer
class AvgPool1d(_AvgPool):
    """nn.AvgPool1d -> AveragePooling1D; padding counted in the divisor: ZeroPadding1D first."""

    torch = "torch.nn.AvgPool1d"
    examples = (("nn.AvgPool1d(2)", "tf.keras.layers.AveragePooling1D(2)"),)
    dims = 1

    def keras(self, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True):
        return self._average(kernel_size, stride, padding, ceil_mode, count_include_pad)


class _AvgPoolOverride(_AvgPool):
    def keras(
        self,
        kernel_size,
        stride=None,
        padding=0,
        ceil_mode=False,
        count_include_pad=True,
        divisor_override=None,
    ):
        return self._average(
            kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override
        )


@layer
class AvgPool2d(_AvgPoolOverride):
    """nn.AvgPool2d -> AveragePooling2D; padding counted in the divisor: ZeroPadding2D first."""

    torch = "torch.nn.AvgPool2d"
    examples = (
        ("nn.AvgPool2d(2)", "tf.keras.layers.AveragePooling2D(2)"),
        (
            "nn.AvgPool2d(2, divisor_override=3)",
            "TorchPool('avg', [2, 2], [2, 2], [0, 0], divisor_override=3)",
        ),
    )
    dims = 2


@layer
class AvgPool3d(_AvgPoolOverride):
    """nn.AvgPool3d -> AveragePooling3D; padding counted in the divisor: ZeroPadding3D first."""

    torch = "torch.nn.AvgPool3d"
    examples = (("nn.AvgPool3d(2)", "tf.keras.layers.AveragePooling3D(2)"),)
    dims = 3


class _Adaptive(LayerRule):
    dims: int
    kind: str  # "Average" or "Max"

    def keras(self, output_size):
        sizes = tuple_of(output_size, self.dims, f"Adaptive{self.kind}Pool{self.dims}d")
        if sizes is None:  # known when the model is built: the layer chosen then
            if const(output_size, None) is not None:  # a literal of another form
                raise Unsupported("the output size of adaptive pooling must be ints")
            kind = repr(self.kind)
            return keras_call("torch_adaptive_pooling", src(output_size), kind, str(self.dims))
        if set(sizes) == {1}:
            return f"tf.keras.layers.Global{self.kind}Pooling{self.dims}D(keepdims=True)"
        # exact for any input size, which must be static (Keras checks it when building)
        return (
            f"tf.keras.layers.Adaptive{self.kind}Pooling{self.dims}D({short(sizes, output_size)})"
        )


def _adaptive(dims: int, kind: str, torch_kind: str) -> None:
    doc = (
        f"nn.Adaptive{torch_kind}Pool{dims}d -> Global{kind}Pooling{dims}D(keepdims=True) for 1, "
        f"else Adaptive{kind}Pooling{dims}D (static spatial size)."
    )

    def keras(self, output_size, return_indices=False):
        if const(return_indices, None) is not False:
            raise Unsupported("adaptive max pooling with return_indices=True is not translated")
        return _Adaptive.keras(self, output_size)

    attributes: dict[str, Any] = {
        "torch": f"torch.nn.Adaptive{torch_kind}Pool{dims}d",
        "dims": dims,
        "kind": kind,
        "__doc__": doc,
        "examples": (
            (
                f"nn.Adaptive{torch_kind}Pool{dims}d(1)",
                f"tf.keras.layers.Global{kind}Pooling{dims}D(keepdims=True)",
            ),
            (
                f"nn.Adaptive{torch_kind}Pool{dims}d({'4' if dims == 1 else (4,) * dims})",
                f"tf.keras.layers.Adaptive{kind}Pooling{dims}D(4)",
            ),
        ),
    }
    if kind == "Max":
        attributes["keras"] = keras
    layer(type(f"Adaptive{torch_kind}Pool{dims}d", (_Adaptive,), attributes))


for _dims in (1, 2, 3):
    _adaptive(_dims, "Average", "Avg")
    _adaptive(_dims, "Max", "Max")


class _ChannelDropout(LayerRule):
    dims: int
    takes_training = True

    def keras(self, p=0.5, inplace=False):
        rate = const(p, None)
        if rate is not None and not 0 <= rate < 1:
            raise Unsupported(f"Dropout{self.dims}d(p={rate}) is not translated: needs 0 <= p < 1")
        return keras_call(f"tf.keras.layers.SpatialDropout{self.dims}D", src(p))


@layer
class Dropout1d(_ChannelDropout):
    """nn.Dropout1d -> SpatialDropout1D on (N, L, C): whole channels dropped, as torch does."""

    torch = "torch.nn.Dropout1d"
    examples = (("nn.Dropout1d(0.2)", "tf.keras.layers.SpatialDropout1D(0.2)"),)
    dims = 1


@layer
class Dropout2d(_ChannelDropout):
    """nn.Dropout2d -> SpatialDropout2D on NHWC: whole channels dropped, as torch does."""

    torch = "torch.nn.Dropout2d"
    examples = (("nn.Dropout2d(0.2)", "tf.keras.layers.SpatialDropout2D(0.2)"),)
    dims = 2


@layer
class Dropout3d(_ChannelDropout):
    """nn.Dropout3d -> SpatialDropout3D on NDHWC: whole channels dropped, as torch does."""

    torch = "torch.nn.Dropout3d"
    examples = (("nn.Dropout3d(0.2)", "tf.keras.layers.SpatialDropout3D(0.2)"),)
    dims = 3
