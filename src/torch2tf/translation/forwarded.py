"""A torch layer constructed with ``**kwargs`` forwarded (GoogLeNet's BasicConv2d:
``nn.Conv2d(in_channels, out_channels, bias=False, **kwargs)``): the arguments are known
only when the model is built, so the call goes to a function taking torch's constructor
arguments and making the Keras layer, the one a layer class used as a value translates to:

    nn.Conv2d(in_channels, out_channels, bias=False, **kwargs)
    -> nn_conv2d(in_channels, out_channels, bias=False, **kwargs)

An argument the function does not take (``padding_mode``) raises TypeError there, when the
model is built: never ignored; a ``dtype`` other than None raises ValueError (``device`` places
tensors only, as where a layer is built directly). A layer given ``dtype=dtype`` (timm's, a
value known when built) goes the same way.
"""

from __future__ import annotations

import ast

import libcst as cst

from torch2tf.rules import LAYERS
from torch2tf.rules.registry import constructor, layer_factory


def forwards_kwargs(call: cst.Call) -> bool:
    """``**kwargs``, or ``dtype=`` of a variable (its value known when built); a literal
    dtype (``torch.float64``) is refused where it is written."""
    return any(
        a.star == "**"
        or (
            a.keyword is not None
            and a.keyword.value == "dtype"
            and isinstance(a.value, cst.Name)
            and a.value.value != "None"
        )
        for a in call.args
    )


def forwarded_layer(qualified: str, updated: cst.Call) -> tuple[str, str, cst.Call] | str:
    """(function name, its source, the call of it), or why the layer cannot be made so."""
    rule = LAYERS[qualified]
    name = "nn_" + qualified.rsplit(".", 1)[1].lower()  # nn.Conv2d -> nn_conv2d(...)
    factory = layer_factory(rule, name)
    made = constructor(rule)
    if factory is None or made is None:
        return "its Keras layer depends on the values of its arguments"
    signature = ast.parse(f"def f({made[0]}): pass").body[0].args
    params = [a.arg for a in [*signature.args, *signature.kwonlyargs]]
    positional = [a for a in updated.args if a.keyword is None and not a.star]
    if any(a.star == "*" for a in updated.args) or len(positional) > len(signature.args):
        return "its positional arguments do not bind to torch's parameters statically"
    named = params[len(positional) :] + [n for n in ("device", "dtype") if f"{n}=None" in factory]
    unknown = [a.keyword.value for a in updated.args if a.keyword and a.keyword.value not in named]
    if unknown:
        return f"{', '.join(unknown)} is not translated when the rest is forwarded"
    return name, factory, updated.with_changes(func=cst.Name(name))
