"""A linear layer whose parameters may carry a leading stack dimension, created with a starred
shape (zuko style) and initialised from a size read off the weight."""

import tensorflow as tf


# torch2tf helpers: exact Keras versions of torch behaviour Keras lacks.
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


@tf.keras.utils.register_keras_serializable(package="stacked_linear")
class StackLinear(tf.keras.Model):
    def __init__(self, in_features, out_features, bias=True, stack=None):
        super().__init__()
        self.init_arguments = {
            "in_features": in_features,
            "out_features": out_features,
            "bias": bias,
            "stack": stack,
        }
        shape = () if stack is None else (stack,)
        self.weight = self.add_weight(
            name="weight",
            shape=(*shape, out_features, in_features),
            initializer=tf.keras.initializers.RandomUniform(
                -(1 / in_features**0.5), (1 / in_features**0.5)
            ),
        )
        if bias:
            self.bias = self.add_weight(
                name="bias",
                shape=(*shape, out_features),
                initializer=tf.keras.initializers.RandomUniform(
                    -(1 / in_features**0.5), (1 / in_features**0.5)
                ),
            )
        else:
            self.bias = None

    def get_config(self):
        """The constructor's arguments: load_model rebuilds the model from them."""
        return config_from_arguments(self.init_arguments)

    @classmethod
    def from_config(cls, config):
        """The model get_config describes (its classes and layers rebuilt)."""
        return cls(**arguments_from_config(config))

    def call(self, x, training=None):
        return (
            tf.matmul(x, self.weight, transpose_b=True)
            if self.bias is None
            else tf.matmul(x, self.weight, transpose_b=True) + self.bias
        )


@tf.keras.utils.register_keras_serializable(package="stacked_linear")
class StackMLP(tf.keras.Model):
    def __init__(self, d_in, d_hidden, d_out):
        super().__init__()
        self.init_arguments = {"d_in": d_in, "d_hidden": d_hidden, "d_out": d_out}
        self.first = StackLinear(d_in, d_hidden)
        self.last = StackLinear(d_hidden, d_out, bias=False)

    def get_config(self):
        """The constructor's arguments: load_model rebuilds the model from them."""
        return config_from_arguments(self.init_arguments)

    @classmethod
    def from_config(cls, config):
        """The model get_config describes (its classes and layers rebuilt)."""
        return cls(**arguments_from_config(config))

    def call(self, x, training=None):
        return self.last(tf.tanh(self.first(x, training=training)), training=training)
