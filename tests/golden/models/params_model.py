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


@tf.keras.utils.register_keras_serializable(package="params_model")
class Scaled(tf.keras.Model):
    """Learned per-feature scale and a fixed running offset."""

    def __init__(self, d, hidden):
        super().__init__()
        self.init_arguments = {"d": d, "hidden": hidden}
        self.fc = tf.keras.layers.Dense(
            hidden,
            kernel_initializer=torch_default_kernel(),
            bias_initializer=torch_default_bias(d),
            name="fc",
        )
        self.scale = self.add_weight(name="scale", shape=(hidden,), initializer="ones")
        self.bias2 = self.add_weight(
            name="bias2",
            shape=(1, hidden),
            initializer=tf.keras.initializers.RandomNormal(0.0, 0.02),
        )
        self.temperature = self.add_weight(
            name="temperature",
            shape=(),
            initializer=tf.keras.initializers.Constant(1.5),
            trainable=False,
        )
        self.offset = self.add_weight(
            name="offset", shape=(hidden,), initializer="zeros", trainable=False
        )
        # Create the weights now, as torch does at construction.
        self(tf.keras.Input(shape=(d,)))

    def get_config(self):
        """The constructor's arguments: load_model rebuilds the model from them."""
        return config_from_arguments(self.init_arguments)

    @classmethod
    def from_config(cls, config):
        """The model get_config describes (its classes and layers rebuilt)."""
        return cls(**arguments_from_config(config))

    def call(self, x, training=None):
        return (self.fc(x) * self.scale + self.bias2 - self.offset) / self.temperature
