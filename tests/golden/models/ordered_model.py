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


@tf.keras.utils.register_keras_serializable(package="ordered_model")
class Named(tf.keras.Model):
    def __init__(self, n):
        super().__init__()
        self.init_arguments = {"n": n}
        self.body = tf.keras.Sequential(
            [
                tf.keras.layers.Dense(
                    8,
                    kernel_initializer=torch_default_kernel(),
                    bias_initializer=torch_default_bias(n),
                    name="fc1",
                ),
                tf.keras.layers.ReLU(name="act"),
                tf.keras.layers.Dense(
                    2,
                    kernel_initializer=torch_default_kernel(),
                    bias_initializer=torch_default_bias(8),
                    name="fc2",
                ),
            ],
            name="body",
        )
        self.head = tf.keras.Sequential(
            [
                tf.keras.layers.Dense(
                    1,
                    kernel_initializer=torch_default_kernel(),
                    bias_initializer=torch_default_bias(2),
                    name="out",
                )
            ],
            name="head",
        )

    def get_config(self):
        """The constructor's arguments: load_model rebuilds the model from them."""
        return dict(self.init_arguments)

    def call(self, x, training=None):
        return self.head(self.body(x, training=training), training=training)
