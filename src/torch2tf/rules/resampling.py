"""torch.nn resampling and padding on channels-last maps -> Keras layers or small helpers.

torch's nearest interpolation takes source pixel floor(dst * in/out) where TF's resize uses
half-pixel centres, TF's bilinear resize has no align_corners and its bicubic uses Keys'
a = -0.5 (torch: -0.75; 0.2 to 1.4 apart on N(0, 1) maps): ``torch_interpolate`` gathers
torch's own source pixels with its weights instead. PixelShuffle orders the
channels (C, r, r) where ``depth_to_space`` orders them (r, r, C): ``TorchPixelShuffle``.
Padding pairs run from torch's last dim backwards, which on a map are its spatial axes.
"""

from __future__ import annotations

from typing import Any

from torch2tf.rules.conv import literal_flag
from torch2tf.rules.registry import (
    LayerRule,
    Unsupported,
    const,
    function,
    keras_call,
    layer,
    src,
)

_MODES = ("nearest", "nearest-exact", "linear", "bilinear", "bicubic")


def _interpolation(
    name: str, size: Any, scale_factor: Any, mode: Any, align_corners: Any, recompute: Any
) -> dict[str, str | None]:
    """torch_interpolate's keyword arguments (as source) for torch's, checked."""
    kind = const(mode, None)
    if kind not in _MODES:
        raise Unsupported(
            f"{name}(mode={src(mode)}) is not translated yet",
            f"translated modes: {', '.join(_MODES)}",
        )
    corners = const(align_corners, None)
    if src(align_corners) != "None" and not isinstance(corners, bool):
        raise Unsupported(f"{name} align_corners= must be a literal True or False")
    if "nearest" in kind and corners is not None:
        raise Unsupported("align_corners only goes with the linear modes (torch refuses it too)")
    if (src(size) == "None") == (src(scale_factor) == "None"):
        raise Unsupported(f"{name} needs exactly one of size= and scale_factor=")
    if src(scale_factor) != "None" and const(recompute, None):
        scales = const(scale_factor, None)
        scales = scales if isinstance(scales, (tuple, list)) else [scales]
        if not all(isinstance(s, int) for s in scales):
            raise Unsupported(
                f"{name}(recompute_scale_factor=True) with a non-integer scale_factor "
                "is not translated yet"
            )
    return {
        "size": None if src(size) == "None" else src(size),
        "scale_factor": None if src(scale_factor) == "None" else src(scale_factor),
        "mode": None if kind == "nearest" else repr(kind),
        "align_corners": "True" if corners else None,
    }


@function(
    "torch.nn.functional.interpolate",
    "torch.nn.functional.upsample",
    examples=(
        (
            "F.interpolate(x, scale_factor=2, mode='nearest')",
            "torch_interpolate(x, scale_factor=2)",
        ),
    ),
)
def interpolate(
    input,
    size=None,
    scale_factor=None,
    mode="nearest",
    align_corners=None,
    recompute_scale_factor=None,
    antialias=False,
    *,
    _channels_last=False,
):
    """torch_interpolate helper on channels-last maps: torch's source pixels and weights."""
    if not _channels_last:
        raise Unsupported(
            "F.interpolate is translated only on a feature map the tensor facts follow",
            "torch's axes (N, C, *spatial) are Keras's (N, *spatial, C)",
        )
    if literal_flag(antialias, "antialias="):
        raise Unsupported("F.interpolate(antialias=True) is not translated yet")
    arguments = _interpolation(
        "F.interpolate", size, scale_factor, mode, align_corners, recompute_scale_factor
    )
    return keras_call("torch_interpolate", src(input), **arguments)


class _Upsample(LayerRule):
    def _layer(self, size, scale_factor, mode, align_corners, recompute=None) -> str:
        arguments = _interpolation("Upsample", size, scale_factor, mode, align_corners, recompute)
        return keras_call("TorchUpsample", **arguments)


@layer
class Upsample(_Upsample):
    """nn.Upsample -> TorchUpsample (torch's source pixels; nearest, (bi)linear, bicubic)."""

    torch = "torch.nn.Upsample"
    examples = (
        (
            "nn.Upsample(scale_factor=2, mode='bilinear', align_corners=False)",
            "TorchUpsample(scale_factor=2, mode='bilinear')",
        ),
        (
            "nn.Upsample(size=(32, 32), mode='bicubic', align_corners=True)",
            "TorchUpsample(size=(32, 32), mode='bicubic', align_corners=True)",
        ),
    )

    def keras(
        self,
        size=None,
        scale_factor=None,
        mode="nearest",
        align_corners=None,
        recompute_scale_factor=None,
    ):
        return self._layer(size, scale_factor, mode, align_corners, recompute_scale_factor)


@layer
class UpsamplingNearest2d(_Upsample):
    """nn.UpsamplingNearest2d -> UpSampling2D(s) for an int scale, else TorchUpsample."""

    torch = "torch.nn.UpsamplingNearest2d"
    examples = (("nn.UpsamplingNearest2d(scale_factor=2)", "tf.keras.layers.UpSampling2D(2)"),)

    def keras(self, size=None, scale_factor=None):
        scale = const(scale_factor, None)
        whole = isinstance(scale, (int, float)) and float(scale).is_integer() and scale > 0
        if whole and src(size) == "None":  # torch keeps 2 as 2.0
            return f"tf.keras.layers.UpSampling2D({int(scale)})"  # repeats pixels: torch's rule
        return self._layer(size, scale_factor, "nearest", None)


@layer
class UpsamplingBilinear2d(_Upsample):
    """nn.UpsamplingBilinear2d -> TorchUpsample(mode='bilinear', align_corners=True)."""

    torch = "torch.nn.UpsamplingBilinear2d"
    examples = (
        (
            "nn.UpsamplingBilinear2d(scale_factor=2)",
            "TorchUpsample(scale_factor=2, mode='bilinear', align_corners=True)",
        ),
    )

    def keras(self, size=None, scale_factor=None):
        return self._layer(size, scale_factor, "bilinear", True)


class _PixelShuffle(LayerRule):
    unshuffle: bool

    def keras(self, factor):
        value = const(factor, None)
        if value is not None and (not isinstance(value, int) or value < 1):
            raise Unsupported("the pixel shuffle factor must be a positive int")
        return keras_call(
            "TorchPixelShuffle", src(factor), unshuffle="True" if self.unshuffle else None
        )


@layer
class PixelShuffle(_PixelShuffle):
    """nn.PixelShuffle -> TorchPixelShuffle on NHWC (torch's (C, r, r) channel order)."""

    torch = "torch.nn.PixelShuffle"
    examples = (("nn.PixelShuffle(2)", "TorchPixelShuffle(2)"),)
    unshuffle = False

    def keras(self, upscale_factor):
        return super().keras(upscale_factor)


@layer
class PixelUnshuffle(_PixelShuffle):
    """nn.PixelUnshuffle -> TorchPixelShuffle(unshuffle=True) on NHWC."""

    torch = "torch.nn.PixelUnshuffle"
    examples = (("nn.PixelUnshuffle(2)", "TorchPixelShuffle(2, unshuffle=True)"),)
    unshuffle = True

    def keras(self, downscale_factor):
        return super().keras(downscale_factor)


# --------------------------------------------------------------------------- padding


def torch_pairs(padding: Any, dims: int, name: str) -> tuple[int, ...]:
    """torch's padding argument of a padding layer as its flat pairs, last dim first."""
    value = const(padding, None)
    if isinstance(value, int) and not isinstance(value, bool):
        return (value,) * (2 * dims)
    if isinstance(value, (tuple, list)) and all(isinstance(n, int) for n in value):
        if len(value) != 2 * dims:
            raise Unsupported(f"{name} padding needs {2 * dims} sizes, received {len(value)}")
        return tuple(value)
    raise Unsupported(f"{name} padding must be a literal int or tuple")


def _pad_layer(name: str, dims: int, mode: str):
    """The ``keras`` method of a padding layer rule, with the torch constructor's signature."""

    def build(padding: Any, value: Any) -> str:
        pairs = torch_pairs(padding, dims, name)
        if any(p < 0 for p in pairs):
            raise Unsupported(f"{name} with negative padding (cropping) is not translated yet")
        if mode == "constant" and const(value, None) in (0, 0.0):
            if dims == 1:
                return f"tf.keras.layers.ZeroPadding1D({pairs!r})"
            # Keras: ((before, after) per spatial axis, first axis first)
            ordered = tuple((pairs[2 * k], pairs[2 * k + 1]) for k in range(dims))[::-1]
            return f"tf.keras.layers.ZeroPadding{dims}D({ordered!r})"
        return keras_call(
            "TorchPad",
            repr(list(pairs)),
            mode=None if mode == "constant" else repr(mode),
            value=src(value) if mode == "constant" else None,
        )

    if name.startswith("ConstantPad"):

        def keras(self, padding, value):
            return build(padding, value)

    else:

        def keras(self, padding):
            return build(padding, 0.0)

    return keras


def _register_pads() -> None:
    kinds = {"ZeroPad": "constant", "ConstantPad": "constant"}
    kinds.update({"ReflectionPad": "reflect", "ReplicationPad": "replicate"})
    kinds["CircularPad"] = "circular"
    for prefix, mode in kinds.items():
        for dims in (1, 2):
            name = f"{prefix}{dims}d"
            doc = (
                f"nn.{name} -> ZeroPadding{dims}D (torch's pairs, last dim first, reordered)"
                if prefix == "ZeroPad"
                else f"nn.{name} -> TorchPad({mode!r}) on the spatial axes of a channels-last map"
            )
            keras = _pad_layer(name, dims, mode)
            arguments = (1, 0.5) if prefix == "ConstantPad" else (1,)
            before = f"nn.{name}({', '.join(map(repr, arguments))})"
            examples = ((before, keras(None, *arguments)),)
            attributes = {"torch": f"torch.nn.{name}", "keras": keras, "__doc__": doc}
            attributes["examples"] = examples
            layer(type(name, (LayerRule,), attributes))


_register_pads()


@function(
    "torch.nn.functional.pad",
    examples=(("F.pad(x, (1, 1, 2, 2))", "torch_pad(x, (1, 1, 2, 2), channels_last=True)"),),
)
def pad(input, pad, mode="constant", value=None, *, _channels_last=False):
    """torch_pad helper: pairs from the last dim backwards (on a map: its spatial axes)."""
    kind = const(mode, None)
    if kind not in ("constant", "reflect", "replicate", "circular"):
        raise Unsupported(f"F.pad(mode={src(mode)}) is not translated")
    return keras_call(
        "torch_pad",
        src(input),
        src(pad),
        *([] if kind == "constant" else [repr(kind)]),
        value=None if src(value) in ("None", "0", "0.0") else src(value),
        channels_last="True" if _channels_last else None,
    )
