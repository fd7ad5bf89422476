"""torch.nn containers -> Keras/Python containers whose indices and keys match torch's paths.

``blocks.0.fc.weight`` in torch is ``blocks[0].fc.kernel`` in Keras (``.layers[0]`` for a
``tf.keras.Sequential``), so weights move by the same paths.
"""

from __future__ import annotations

from torch2tf.rules import LayerRule, Unsupported, const, layer, src


@layer
class Sequential(LayerRule):
    """nn.Sequential -> tf.keras.Sequential: the same layers in the same order."""

    torch = "torch.nn.Sequential"
    takes_training = True

    def keras(self, *args):
        if len(args) == 1 and src(args[0]).startswith(("OrderedDict(", "collections.OrderedDict(")):
            raise Unsupported(
                "nn.Sequential(OrderedDict(...)) is not translated yet",
                "pass the layers positionally",
            )
        return f"tf.keras.Sequential([{', '.join(src(a) for a in args)}])"


@layer
class ModuleList(LayerRule):
    """nn.ModuleList -> a Python list, which Keras tracks like torch tracks the ModuleList."""

    torch = "torch.nn.ModuleList"

    def keras(self, modules=None):
        if const(modules, "") is None:
            return "[]"
        text = src(modules)
        return text if text.startswith("[") and text.endswith("]") else f"list({text})"


@layer
class ModuleDict(LayerRule):
    """nn.ModuleDict -> a Python dict, which Keras tracks like torch tracks the ModuleDict."""

    torch = "torch.nn.ModuleDict"

    def keras(self, modules=None):
        if const(modules, "") is None:
            return "{}"
        text = src(modules)
        return text if text.startswith("{") and text.endswith("}") else f"dict({text})"
