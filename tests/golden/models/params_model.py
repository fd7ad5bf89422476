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
        return dict(self.init_arguments)

    def call(self, x, training=None):
        return (self.fc(x) * self.scale + self.bias2 - self.offset) / self.temperature
