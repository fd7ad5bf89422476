"""einops (``rearrange``, ``repeat``, ``reduce``, ``einops.layers.torch.Rearrange/Reduce``)
kept as einops in the generated code.

einops runs on TensorFlow tensors itself, and ``einops.layers.keras`` holds the same two layers
for Keras 3 (checked with einops 0.8.2, tensorflow 2.21), so the calls stay as written: exact,
and as readable as the source. What changes is the pattern where a tensor's layout does: a
channels-last feature map (torch's ``b c h w`` is Keras's ``b h w c``) has the channel axis of
the pattern's input side moved last; the tensor facts mark those calls (``_channels_last``) and
the calls whose result feeds a map (``_map_output``: the output side's channel axis moved last).
The generated file then imports einops (``import einops``, ``import einops.layers.keras``):
generated code using einops needs the ``einops`` package beside TensorFlow.
"""

from __future__ import annotations

import re
from typing import Any

from torch2tf.rules.functional import src
from torch2tf.rules.registry import LayerRule, Unsupported, const, function, layer

_GROUP = re.compile(r"\([^()]*\)|\.\.\.|[^\s()]+")


def _groups(side: str) -> list[str]:
    """The top-level axes of one side of a pattern: names, ``(h p1)`` groups, ``...``, ``1``."""
    if side.count("(") != side.count(")"):
        raise Unsupported(f"cannot read the einops pattern side {side!r}")
    return _GROUP.findall(side)


def _channels_last(side: str) -> str:
    """One side of a pattern on torch's (N, C, *S) order -> on Keras's (N, *S, C): the axis
    (or group) at index 1 moves last. An ellipsis before the spatial axes is refused: where
    the channel axis is then depends on the rank, which the pattern does not say."""
    groups = _groups(side)
    if "..." in groups[:2] or len(groups) < 3:
        raise Unsupported(
            f"the einops pattern side {side.strip()!r} does not name a feature map's batch and "
            "channel axes first (b c ...), so its channels-last form is unknown",
            "write the batch and channel axes of the map explicitly: 'b c h w -> ...'",
        )
    return " ".join([groups[0], *groups[2:], groups[1]])


def pattern_for(pattern: Any, channels_last: bool, map_output: bool) -> str:
    """Source of the pattern, with its input and/or output side in channels-last order."""
    if not (channels_last or map_output):
        return src(pattern)
    text = const(pattern, None)
    if not isinstance(text, str):
        raise Unsupported(
            "the pattern of an einops call on a channels-last feature map must be a string "
            f"literal, so that torch2tf can move its channel axis; received {src(pattern)}",
            "write the pattern as a literal string",
        )
    if text.count("->") != 1:
        raise Unsupported(f"cannot read the einops pattern {text!r}")
    left, right = text.split("->")
    if channels_last:
        left = _channels_last(left)
    if map_output:
        right = _channels_last(right)
    return repr(f"{left.strip()} -> {right.strip()}")


def _tensor(tensor: Any) -> str:
    """The tensor argument; a variable of the layer (``self.cls_token``, a Keras 3 Variable,
    which einops does not take for a TensorFlow tensor) read as a tensor first."""
    text = src(tensor)
    if re.fullmatch(r"self(\.\w+)+", text):
        return f"tf.convert_to_tensor({text})"
    return text


def _lengths(axes_lengths: dict[str, Any]) -> list[str]:
    return [f"{name}={src(value)}" for name, value in axes_lengths.items()]


@function(
    "einops.rearrange",
    examples=(
        (
            "rearrange(y, 'b n (h d) -> b h n d', h=2)",
            "einops.rearrange(y, 'b n (h d) -> b h n d', h=2)",
        ),
    ),
)
def rearrange(tensor, pattern, *, _channels_last=False, _map_output=False, **axes_lengths):
    """einops.rearrange itself (einops runs on TensorFlow); a map's channel axis moved last."""
    pattern = pattern_for(pattern, _channels_last, _map_output)
    return f"einops.rearrange({', '.join([_tensor(tensor), pattern, *_lengths(axes_lengths)])})"


@function(
    "einops.repeat",
    examples=(("repeat(y, 'n d -> b n d', b=4)", "einops.repeat(y, 'n d -> b n d', b=4)"),),
)
def repeat(tensor, pattern, *, _channels_last=False, _map_output=False, **axes_lengths):
    """einops.repeat itself (einops runs on TensorFlow); a map's channel axis moved last."""
    pattern = pattern_for(pattern, _channels_last, _map_output)
    return f"einops.repeat({', '.join([_tensor(tensor), pattern, *_lengths(axes_lengths)])})"


@function(
    "einops.reduce",
    examples=(("reduce(y, 'b n d -> b d', 'mean')", "einops.reduce(y, 'b n d -> b d', 'mean')"),),
)
def reduce(tensor, pattern, reduction, *, _channels_last=False, _map_output=False, **axes_lengths):
    """einops.reduce itself (einops runs on TensorFlow); a map's channel axis moved last."""
    if not isinstance(const(reduction, "mean"), str):
        raise Unsupported(
            f"einops.reduce with a callable reduction ({src(reduction)}) is not translated",
            "use one of einops's named reductions: 'mean', 'sum', 'max', 'min', 'prod'",
        )
    pattern = pattern_for(pattern, _channels_last, _map_output)
    arguments = [_tensor(tensor), pattern, src(reduction), *_lengths(axes_lengths)]
    return f"einops.reduce({', '.join(arguments)})"


class _EinopsLayer(LayerRule):
    """An einops layer -> the same layer of ``einops.layers.keras`` (no weights)."""

    def rank_sensitive(self, arguments: dict[str, Any]) -> bool:
        return True  # its pattern fixes the input's rank

    def _pattern(self, pattern: Any) -> str:
        return pattern_for(pattern, self.channels_last, False)

    @classmethod
    def arguments(cls, module: Any) -> dict[str, Any]:
        values = {"pattern": module.pattern, **module.axes_lengths}
        if hasattr(module, "reduction"):
            if not isinstance(module.reduction, str):
                raise Unsupported("einops Reduce with a callable reduction is not translated")
            values["reduction"] = module.reduction
        return values


@layer
class Rearrange(_EinopsLayer):
    torch = "einops.layers.torch.Rearrange"
    examples = (
        (
            "Rearrange('b c (h p1) (w p2) -> b (h w) (p1 p2 c)', p1=4, p2=4)",
            "einops.layers.keras.Rearrange('b c (h p1) (w p2) -> b (h w) (p1 p2 c)', p1=4, p2=4)",
        ),
    )

    def keras(self, pattern, **axes_lengths):
        arguments = [self._pattern(pattern), *_lengths(axes_lengths)]
        return f"einops.layers.keras.Rearrange({', '.join(arguments)})"


@layer
class Reduce(_EinopsLayer):
    torch = "einops.layers.torch.Reduce"
    examples = (
        (
            "Reduce('b n d -> b d', 'mean')",
            "einops.layers.keras.Reduce('b n d -> b d', 'mean')",
        ),
    )

    def keras(self, pattern, reduction, **axes_lengths):
        if not isinstance(const(reduction, "mean"), str):
            raise Unsupported(
                f"einops Reduce with a callable reduction ({src(reduction)}) is not translated",
                "use one of einops's named reductions: 'mean', 'sum', 'max', 'min', 'prod'",
            )
        arguments = [self._pattern(pattern), src(reduction), *_lengths(axes_lengths)]
        return f"einops.layers.keras.Reduce({', '.join(arguments)})"
