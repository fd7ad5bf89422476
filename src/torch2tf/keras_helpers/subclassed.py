import math

import tensorflow as tf


@tf.keras.utils.register_keras_serializable(package="torch2tf")
class TorchLayerNormBase(tf.keras.Model):
    """nn.LayerNorm with torch's attributes and weights, the base of a subclass's own call."""

    def __init__(
        self,
        normalized_shape,
        eps=1e-5,
        elementwise_affine=True,
        bias=True,
        device=None,
        dtype=None,
        **kwargs,
    ):
        super().__init__(dtype=dtype, **kwargs)  # no device: TensorFlow places the ops
        self.init_arguments = {
            "normalized_shape": normalized_shape,
            "eps": eps,
            "elementwise_affine": elementwise_affine,
            "bias": bias,
        }
        if isinstance(normalized_shape, int):
            normalized_shape = (normalized_shape,)
        self.normalized_shape = tuple(normalized_shape)
        self.eps = eps
        self.elementwise_affine = elementwise_affine
        shape = self.normalized_shape
        self.weight = None
        self.bias = None
        if elementwise_affine:
            self.weight = self.add_weight(name="weight", shape=shape, initializer="ones")
            if bias:
                self.bias = self.add_weight(name="bias", shape=shape, initializer="zeros")

    def get_config(self):
        return dict(self.init_arguments)

    def call(self, x, training=None):
        axes = list(range(-len(self.normalized_shape), 0))
        return tf.keras.ops.layer_normalization(
            x, gamma=self.weight, beta=self.bias, axis=axes, epsilon=self.eps
        )


@tf.keras.utils.register_keras_serializable(package="torch2tf")
class TorchLinearBase(tf.keras.Model):
    """nn.Linear with torch's attributes and (out, in) weight, the base of a subclass's call."""

    def __init__(self, in_features, out_features, bias=True, device=None, dtype=None, **kwargs):
        super().__init__(dtype=dtype, **kwargs)  # no device: TensorFlow places the ops
        self.init_arguments = {
            "in_features": in_features,
            "out_features": out_features,
            "bias": bias,
        }
        self.in_features = in_features
        self.out_features = out_features
        bound = 1 / math.sqrt(in_features) if in_features > 0 else 0.0
        # torch's kaiming_uniform_(a=sqrt(5)) and bias init: both U(-bound, bound)
        uniform = tf.keras.initializers.RandomUniform
        self.weight = self.add_weight(
            name="weight", shape=(out_features, in_features), initializer=uniform(-bound, bound)
        )
        self.bias = None
        if bias:
            self.bias = self.add_weight(
                name="bias", shape=(out_features,), initializer=uniform(-bound, bound)
            )

    def get_config(self):
        return dict(self.init_arguments)

    def call(self, x, training=None):
        y = tf.matmul(x, self.weight, transpose_b=True)
        return y if self.bias is None else y + self.bias
