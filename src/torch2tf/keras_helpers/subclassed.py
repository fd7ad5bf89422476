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


def torch_batch_norm(
    x,
    running_mean,
    running_var,
    weight=None,
    bias=None,
    training=False,
    momentum=0.1,
    eps=1e-5,
    axis=1,
):
    """F.batch_norm: batch statistics when training (running ones, if given, updated in place
    with the unbiased batch variance); else the running ones, which must be given."""
    rank = len(x.shape)
    axis = axis % rank
    if not training and (running_mean is None or running_var is None):
        raise ValueError("running_mean must be defined in evaluation mode")
    if training:
        reduce_axes = [i for i in range(rank) if i != axis]
        mean, variance = tf.nn.moments(x, reduce_axes)
        count = tf.size(x) // tf.shape(x)[axis]
        message = "Expected more than 1 value per channel when training"
        with tf.control_dependencies([tf.debugging.assert_greater(count, 1, message=message)]):
            mean = tf.identity(mean)
        if running_mean is not None and running_var is not None:
            count = tf.cast(count, variance.dtype)
            unbiased = variance * count / (count - 1)
            running_mean.assign(running_mean * (1 - momentum) + mean * momentum)
            running_var.assign(running_var * (1 - momentum) + unbiased * momentum)
    else:
        mean, variance = running_mean, running_var
    return tf.keras.ops.batch_normalization(x, mean, variance, axis, bias, weight, eps)


@tf.keras.utils.register_keras_serializable(package="torch2tf")
class TorchBatchNormBase(tf.keras.Model):
    """nn.BatchNorm1d/2d/3d with torch's attributes, weights and buffers, the base of a
    subclass's own call (timm's BatchNormAct2d); the channel axis is a map's last."""

    def __init__(
        self,
        num_features,
        eps=1e-5,
        momentum=0.1,
        affine=True,
        track_running_stats=True,
        device=None,
        dtype=None,
        **kwargs,
    ):
        super().__init__(dtype=dtype, **kwargs)  # no device: TensorFlow places the ops
        self.init_arguments = {
            "num_features": num_features,
            "eps": eps,
            "momentum": momentum,
            "affine": affine,
            "track_running_stats": track_running_stats,
        }
        self.num_features = num_features
        self.eps = eps
        self.momentum = momentum
        self.affine = affine
        self.track_running_stats = track_running_stats
        shape = (num_features,)
        self.weight = self.bias = None
        if affine:
            self.weight = self.add_weight(name="weight", shape=shape, initializer="ones")
            self.bias = self.add_weight(name="bias", shape=shape, initializer="zeros")
        self.running_mean = self.running_var = self.num_batches_tracked = None
        if track_running_stats:
            self.running_mean = self.add_weight(
                name="running_mean", shape=shape, initializer="zeros", trainable=False
            )
            self.running_var = self.add_weight(
                name="running_var", shape=shape, initializer="ones", trainable=False
            )
            self.num_batches_tracked = self.add_weight(
                name="num_batches_tracked",
                shape=(),
                dtype="int64",
                initializer="zeros",
                trainable=False,
            )

    def get_config(self):
        return dict(self.init_arguments)

    def call(self, x, training=None):
        factor = 0.0 if self.momentum is None else self.momentum
        if training and self.track_running_stats:
            self.num_batches_tracked.assign_add(1)
            if self.momentum is None:  # the cumulative moving average
                factor = 1.0 / tf.cast(self.num_batches_tracked, x.dtype)
        use_batch = bool(training) or self.running_mean is None
        tracked = not training or self.track_running_stats
        return torch_batch_norm(
            x,
            self.running_mean if tracked else None,
            self.running_var if tracked else None,
            self.weight,
            self.bias,
            use_batch,
            factor,
            self.eps,
            axis=-1,
        )
