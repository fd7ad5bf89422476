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


@tf.keras.utils.register_keras_serializable(package="functional_dropout")
class FDrop(tf.keras.Model):
    def __init__(self, n):
        super().__init__()
        self.init_arguments = {"n": n}
        self.fc = tf.keras.layers.Dense(
            n,
            kernel_initializer=torch_default_kernel(),
            bias_initializer=torch_default_bias(n),
            name="fc",
        )
        # Create the weights now, as torch does at construction.
        self(tf.keras.Input(shape=(n,)))

    def get_config(self):
        """The constructor's arguments: load_model rebuilds the model from them."""
        return dict(self.init_arguments)

    def call(self, x, training=None):
        return (
            tf.nn.dropout(tf.nn.relu(self.fc(x)), rate=0.5)
            if training
            else tf.nn.relu(self.fc(x))
        )
