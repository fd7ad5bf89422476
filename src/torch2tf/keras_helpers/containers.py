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
    name (it finds its layers by name), a TorchModuleDict keeps it under its key, any other
    model holds it as an attribute."""
    if hasattr(owner, "torch_keys"):
        owner.add_module(name, module)
    elif isinstance(owner, tf.keras.Sequential):
        module.name = name
        owner.add(module)
    else:
        setattr(owner, name, module)
