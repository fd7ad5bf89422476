import tensorflow as tf


@tf.keras.utils.register_keras_serializable(package="torch2tf")
class TorchModuleDict(tf.keras.Model):
    """A class deriving from nn.ModuleDict: its modules under their keys, in the order added
    (``items()``, ``keys()``, ``values()``, ``[key]``), each an attribute named so."""

    def __init__(self, modules=None, **kwargs):
        super().__init__(**kwargs)
        self.torch_keys = []
        for key, module in dict(modules or {}).items():
            self.add_module(key, module)

    def add_module(self, name, module):
        if name not in self.torch_keys:
            self.torch_keys.append(name)
        module.name = name
        setattr(self, name, module)

    def __getitem__(self, key):
        if key not in self.torch_keys:
            raise KeyError(key)
        return getattr(self, key)

    def __len__(self):
        return len(self.torch_keys)

    def __iter__(self):
        return iter(list(self.torch_keys))

    def __contains__(self, key):
        return key in self.torch_keys

    def keys(self):
        return list(self.torch_keys)

    def values(self):
        return [getattr(self, key) for key in self.torch_keys]

    def items(self):
        return [(key, getattr(self, key)) for key in self.torch_keys]


def torch_add_module(owner, name, module):
    """torch's ``owner.add_module(name, module)``: a Keras Sequential appends it under that
    name (it finds its layers by name; an empty one's placeholder goes), a TorchModuleDict
    keeps it under its key, any other model holds it as an attribute."""
    if hasattr(owner, "torch_keys"):
        owner.add_module(name, module)
    elif isinstance(owner, tf.keras.Sequential):
        if [layer.name for layer in owner.layers] == ["torch_empty"]:
            owner.pop(rebuild=False)  # an empty nn.Sequential's placeholder, returning its input
        module.name = name
        owner.add(module)
    else:
        setattr(owner, name, module)


def torch_parameter_list(values=()):
    """nn.ParameterList(values) of parameters layers already own: a list of those variables."""
    values = list(values)
    for value in values:
        if not isinstance(value, (tf.Variable, tf.keras.Variable)):
            raise NotImplementedError(
                "nn.ParameterList of a tensor that is not a parameter yet (torch makes it a new "
                f"Parameter) is not translated; received {type(value).__name__}"
            )
    return values


def torch_parameters(layer):
    """module.parameters(): torch's order (own, then sub-layers'); raises where Keras cannot
    tell torch's parameters from its buffers (non-trainable variables) or has not built them."""
    if not isinstance(layer, tf.keras.layers.Layer):
        return layer.parameters()  # not a module: its own method, as written
    unbuilt = [inner.name for inner in layer._flatten_layers() if not inner.built]
    if unbuilt:
        raise NotImplementedError(
            f"parameters() of {layer.name}: its layers {unbuilt} have no weights before their "
            "first call in Keras; call the layer once first"
        )
    if layer.non_trainable_weights:
        raise NotImplementedError(
            f"parameters() of {layer.name}, which holds non-trainable variables (torch buffers "
            "or frozen parameters, which Keras does not tell apart), is not translated"
        )
    return list(layer.trainable_weights)
