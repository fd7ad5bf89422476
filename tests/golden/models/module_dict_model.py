"""An nn.ModuleDict subclass filled by add_module in a loop and run over self.items(), and
modules added to a model and to one of its Sequentials by add_module (a DenseNet-style MLP)."""

import math

import tensorflow as tf


# torch2tf helpers: exact Keras versions of torch behaviour Keras lacks.
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
            # an empty nn.Sequential's placeholder, returning its input
            owner.pop(rebuild=False)
        module.name = name
        owner.add(module)
    else:
        setattr(owner, name, module)


def torch_default_kernel():
    """torch's default Linear weight init, U(+-1/sqrt(fan_in)); Keras's is glorot_uniform."""
    return tf.keras.initializers.VarianceScaling(1 / 3, "fan_in", "uniform")


def torch_default_bias(fan_in):
    """torch's default Linear bias init, U(+-1/sqrt(fan_in)); Keras's is zeros."""
    bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0.0
    return tf.keras.initializers.RandomUniform(-bound, bound)


def config_from_arguments(arguments):
    """get_config's arguments: a class or function (block=BasicBlock) by its Keras name."""
    config = {}
    for name, value in arguments.items():
        registered = None
        if hasattr(value, "__name__"):  # a class or a function: Keras saves neither
            registered = tf.keras.utils.get_registered_name(value)
        if registered and tf.keras.utils.get_registered_object(registered) is value:
            value = registered
        elif isinstance(value, type):
            raise TypeError(
                f"argument {name}={value.__qualname__} cannot be saved: a class is "
                "saved by the name tf.keras.utils.register_keras_serializable gives"
            )
        config[name] = value
    return config


def arguments_from_config(config):
    """from_config's arguments: Keras names to classes, serialized layers to layers."""
    deserialize = tf.keras.utils.deserialize_keras_object
    return {name: deserialize(value) for name, value in config.items()}


@tf.keras.utils.register_keras_serializable(package="module_dict_model")
class Experts(TorchModuleDict):
    def __init__(self, width: int, count: int) -> None:
        super().__init__()
        self.init_arguments = {"width": width, "count": count}
        for i in range(count):
            torch_add_module(
                self,
                "expert%d" % i,
                tf.keras.Sequential(
                    [
                        tf.keras.layers.Dense(
                            width,
                            kernel_initializer=torch_default_kernel(),
                            bias_initializer=torch_default_bias(width),
                        ),
                        tf.keras.layers.Activation("tanh"),
                    ]
                ),
            )

    def get_config(self):
        """The constructor's arguments: load_model rebuilds the model from them."""
        return config_from_arguments(self.init_arguments)

    @classmethod
    def from_config(cls, config):
        """The model get_config describes (its classes and layers rebuilt)."""
        return cls(**arguments_from_config(config))

    def call(self, x: tf.Tensor, training=None) -> tf.Tensor:
        total = x
        for name, expert in self.items():
            total = total + expert(x, training=training)
        return total


@tf.keras.utils.register_keras_serializable(package="module_dict_model")
class Mixture(tf.keras.Model):
    def __init__(self, width: int, count: int, classes: int) -> None:
        super().__init__()
        self.init_arguments = {"width": width, "count": count, "classes": classes}
        self.body = tf.keras.Sequential(
            [
                tf.keras.layers.Dense(
                    width,
                    kernel_initializer=torch_default_kernel(),
                    bias_initializer=torch_default_bias(width),
                )
            ],
            name="body",
        )
        torch_add_module(self.body, "experts", Experts(width, count))
        torch_add_module(self.body, "drop", tf.keras.layers.Dropout(0.1))
        torch_add_module(
            self,
            "head",
            tf.keras.layers.Dense(
                classes,
                kernel_initializer=torch_default_kernel(),
                bias_initializer=torch_default_bias(width),
            ),
        )

    def get_config(self):
        """The constructor's arguments: load_model rebuilds the model from them."""
        return config_from_arguments(self.init_arguments)

    @classmethod
    def from_config(cls, config):
        """The model get_config describes (its classes and layers rebuilt)."""
        return cls(**arguments_from_config(config))

    def call(self, x: tf.Tensor, training=None) -> tf.Tensor:
        return self.head(self.body(x, training=training), training=training)
