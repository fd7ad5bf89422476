"""F.conv1d/conv2d/conv3d with a weight in torch's layout (a custom layer's nn.Parameter) on a
channels-last map -> tf.nn.convolution.

The weight variable keeps torch's (O, I, *k), as its state-dict entry does, so the kernel is
transposed to TensorFlow's (*k, I, O) where it is used. Padding is explicit (zeros on both
sides) before a "VALID" convolution; torch's ``'same'`` (stride 1) pads d(k-1)//2 before and
the rest after, as TensorFlow's ``"SAME"`` does at stride 1.
"""

from __future__ import annotations

import re

from torch2tf.rules.conv import tuple_of
from torch2tf.rules.functional_pooling import on_map, spatial_pad
from torch2tf.rules.registry import Unsupported, const, function, src


def _register(dims: int) -> None:
    name = f"conv{dims}d"

    def conv(
        input,
        weight,
        bias=None,
        stride=1,
        padding=0,
        dilation=1,
        groups=1,
        *,
        _channels_last=False,
    ):
        on_map(name, _channels_last)
        if const(groups, None) != 1:
            raise Unsupported(
                f"F.{name}(groups=...) is not translated yet",
                "TensorFlow's CPU convolution has no groups; use nn.Conv{dims}d",
            )
        strides = tuple_of(stride, dims, f"F.{name} stride")
        dilations = tuple_of(dilation, dims, f"F.{name} dilation")
        if strides is None or dilations is None:
            raise Unsupported(f"F.{name} stride= and dilation= must be literal ints or tuples")
        if max(strides) > 1 and max(dilations) > 1:
            raise Unsupported(
                f"F.{name} with both stride > 1 and dilation > 1 is not translated yet",
                "tf.nn.convolution refuses the combination",
            )
        mode, source = "'VALID'", src(input)
        literal = const(padding, None)
        if literal == "same":
            if max(strides) > 1:
                raise Unsupported("padding='same' needs stride 1 (torch refuses it too)")
            mode = "'SAME'"
        elif literal != "valid":
            pads = tuple_of(padding, dims, f"F.{name} padding")
            if pads is None:
                raise Unsupported(f"F.{name} padding= must be a literal int, tuple or string")
            if set(pads) != {0}:
                source = spatial_pad(source, pads)
        order = [*range(2, dims + 2), 1, 0]
        kernel = f"tf.transpose({src(weight)}, {order})"  # torch's (O, I, *k) -> (*k, I, O)
        extra = "" if set(strides) == {1} else f", strides={list(strides)}"
        extra += "" if set(dilations) == {1} else f", dilations={list(dilations)}"
        result = f"tf.nn.convolution({source}, {kernel}, padding={mode}{extra})"
        if src(bias) == "None":
            return result
        if re.fullmatch(r"[A-Za-z_][\w.]*", src(bias)):  # a name: maybe None at run time
            return f"({result} if {src(bias)} is None else {result} + {src(bias)})"
        return f"({result} + ({src(bias)}))"

    conv.__doc__ = (
        f"tf.nn.convolution of a channels-last map by a torch-layout weight (F.{name}), "
        "explicit zero padding; no groups."
    )
    function(f"torch.nn.functional.{name}", examples=_EXAMPLES[dims])(conv)


_EXAMPLES = {
    1: (
        (
            "F.conv1d(x, torch.ones(16, 16, 3), stride=2)",
            "tf.nn.convolution(x, tf.transpose(tf.ones((16, 16, 3)), [2, 1, 0]), "
            "padding='VALID', strides=[2])",
        ),
    ),
    2: (
        (
            "F.conv2d(x, torch.ones(16, 16, 3, 3), padding=1)",
            "tf.nn.convolution(tf.pad(x, [[0, 0], [1, 1], [1, 1], [0, 0]]), "
            "tf.transpose(tf.ones((16, 16, 3, 3)), [2, 3, 1, 0]), padding='VALID')",
        ),
    ),
    3: (
        (
            "F.conv3d(x, torch.ones(16, 16, 3, 3, 3), stride=2)",
            "tf.nn.convolution(x, tf.transpose(tf.ones((16, 16, 3, 3, 3)), [2, 3, 4, 1, 0]), "
            "padding='VALID', strides=[2, 2, 2])",
        ),
    ),
}


for _dims in (1, 2, 3):
    _register(_dims)
