"""A model class extended by a subclass that adds a head after super().__init__()."""

import math

import tensorflow as tf


# torch2tf helpers: exact Keras versions of torch behaviour Keras lacks.
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


@tf.keras.utils.register_keras_serializable(package="subclassed_model")
class Base(tf.keras.Model):
    def __init__(self, d_in, d_hidden):
        super().__init__()
        self.init_arguments = {"d_in": d_in, "d_hidden": d_hidden}
        self.fc = tf.keras.layers.Dense(
            d_hidden,
            kernel_initializer=torch_default_kernel(),
            bias_initializer=torch_default_bias(d_in),
            name="fc",
        )
        # Create the weights now, as torch does at construction.
        # (Only for this class itself: a subclass adds layers after this.)
        if type(self) is Base:
            self(tf.keras.Input(shape=(d_in,)))

    def get_config(self):
        """The constructor's arguments: load_model rebuilds the model from them."""
        return config_from_arguments(self.init_arguments)

    @classmethod
    def from_config(cls, config):
        """The model get_config describes (its classes and layers rebuilt)."""
        return cls(**arguments_from_config(config))

    def call(self, x, training=None):
        return tf.nn.relu(self.fc(x))


@tf.keras.utils.register_keras_serializable(package="subclassed_model")
class WithHead(Base):
    def __init__(self, d_in, d_hidden, d_out):
        super().__init__(d_in, d_hidden)
        self.init_arguments = {"d_in": d_in, "d_hidden": d_hidden, "d_out": d_out}
        self.head = tf.keras.layers.Dense(
            d_out,
            kernel_initializer=torch_default_kernel(),
            bias_initializer=torch_default_bias(d_hidden),
            name="head",
        )

    def get_config(self):
        """The constructor's arguments: load_model rebuilds the model from them."""
        return config_from_arguments(self.init_arguments)

    @classmethod
    def from_config(cls, config):
        """The model get_config describes (its classes and layers rebuilt)."""
        return cls(**arguments_from_config(config))

    def call(self, x, training=None):
        return self.head(super().call(x, training=training))
