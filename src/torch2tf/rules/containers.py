"""torch.nn containers -> Keras/Python containers whose indices and keys match torch's paths.

``blocks.0.fc.weight`` in torch is ``blocks[0].fc.kernel`` in Keras (``.layers[0]`` for a
``tf.keras.Sequential``), so weights move by the same paths.
"""

from __future__ import annotations

import ast

from torch2tf.rules.registry import (
    LayerRule,
    Unsupported,
    const,
    function,
    keras_call,
    layer,
    src,
)


@layer
class Sequential(LayerRule):
    """nn.Sequential -> tf.keras.Sequential: the same layers in the same order."""

    torch = "torch.nn.Sequential"
    examples = (
        (
            "nn.Sequential(nn.Linear(4, 8), nn.Tanh())",
            (
                "tf.keras.Sequential([tf.keras.layers.Dense(8, "
                "kernel_initializer=torch_default_kernel(), "
                "bias_initializer=torch_default_bias(4)), tf.keras.layers.Activation('tanh')])"
            ),
        ),
        # torch's empty Sequential returns its input; Keras's cannot be called
        # (torch_add_module replaces its placeholder)
        (
            "nn.Sequential()",
            "tf.keras.Sequential([tf.keras.layers.Identity(name='torch_empty')])",
        ),
    )
    takes_training = True

    def rank_sensitive(self, arguments):
        return True  # a Keras Sequential built on 2-D input refuses any other rank

    def keras(self, *args):
        if not args:  # torch's returns its input; a Keras Sequential without layers fails
            return "tf.keras.Sequential([tf.keras.layers.Identity(name='torch_empty')])"
        if len(args) == 1 and src(args[0]).startswith(("OrderedDict(", "collections.OrderedDict(")):
            try:
                return f"tf.keras.Sequential([{', '.join(_named_layers(src(args[0])))}])"
            except Unsupported:  # keys or layers computed (a loop, a comprehension): named at run
                return f"tf.keras.Sequential(torch_named_layers({src(args[0])}))"
        return f"tf.keras.Sequential([{', '.join(src(a) for a in args)}])"


def _named_layers(ordered_dict: str) -> list[str]:
    """``OrderedDict([("fc", Dense(...))])`` -> ``["Dense(..., name='fc')"]``: Keras finds a
    Sequential's layers by name, where torch finds them by key (``seq.fc.weight``)."""
    call = ast.parse(ordered_dict, mode="eval").body
    items = call.args[0] if isinstance(call, ast.Call) and len(call.args) == 1 else None
    pairs: list[tuple[ast.expr, ast.expr]] = []
    if isinstance(items, (ast.List, ast.Tuple)):
        for item in items.elts:
            if not (isinstance(item, ast.Tuple) and len(item.elts) == 2):
                pairs = []
                break
            pairs.append((item.elts[0], item.elts[1]))
    elif isinstance(items, ast.Dict) and None not in items.keys:
        pairs = list(zip(items.keys, items.values, strict=True))
    layers = []
    for key, value in pairs:
        if not (isinstance(key, ast.Constant) and isinstance(key.value, str)):
            break
        if not (isinstance(value, ast.Call) and not any(k.arg == "name" for k in value.keywords)):
            break
        value.keywords.append(ast.keyword("name", ast.Constant(key.value)))
        layers.append(ast.unparse(value))
    if not pairs or len(layers) != len(pairs):
        raise Unsupported(
            "nn.Sequential(OrderedDict(...)) is translated only for literal string keys and "
            "layers constructed in place",
            "write OrderedDict([('name', nn.Layer(...)), ...])",
        )
    return layers


@layer
class ModuleList(LayerRule):
    """nn.ModuleList -> a Python list, which Keras tracks like torch tracks the ModuleList."""

    torch = "torch.nn.ModuleList"
    examples = (
        (
            "nn.ModuleList([nn.Linear(4, 4), nn.Linear(4, 4)])",
            (
                "[tf.keras.layers.Dense(4, kernel_initializer=torch_default_kernel(), "
                "bias_initializer=torch_default_bias(4)), tf.keras.layers.Dense(4, "
                "kernel_initializer=torch_default_kernel(), "
                "bias_initializer=torch_default_bias(4))]"
            ),
        ),
    )

    def keras(self, modules=None):
        if const(modules, "") is None:
            return "[]"
        text = src(modules)
        return text if text.startswith("[") and text.endswith("]") else f"list({text})"


@layer
class ModuleDict(LayerRule):
    """nn.ModuleDict -> a Python dict, which Keras tracks like torch tracks the ModuleDict."""

    torch = "torch.nn.ModuleDict"
    examples = (("nn.ModuleDict({'act': nn.ReLU()})", "{'act': tf.keras.layers.ReLU()}"),)

    def keras(self, modules=None):
        if const(modules, "") is None:
            return "{}"
        text = src(modules)
        return text if text.startswith("{") and text.endswith("}") else f"dict({text})"


@function(
    "torch.nn.ParameterList",
    examples=(("nn.ParameterList(x)", "torch_parameter_list(x)"),),
)
def parameter_list(values=None):
    """torch_parameter_list helper: a list of the same variables (those of layers the model
    already holds, as ``nn.ParameterList(block.parameters())`` registers them again); a tensor
    that is not yet a variable, which torch would make a new Parameter, raises."""
    return keras_call("torch_parameter_list", *([] if values is None else [src(values)]))
