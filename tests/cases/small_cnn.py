import torch
import torch.nn as nn
import torch.nn.functional as F


class Net(nn.Module):
    """A small image classifier, written the usual way (NCHW)."""

    def __init__(self, num_classes=10):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 16, 3, padding=1)
        self.bn1 = nn.BatchNorm2d(16)
        self.pool = nn.MaxPool2d(2)
        self.conv2 = nn.Conv2d(16, 32, 3, stride=2, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(32)
        self.drop = nn.Dropout2d(0.1)
        self.fc = nn.Linear(32 * 2 * 2, num_classes)

    def forward(self, x):
        x = self.pool(F.relu(self.bn1(self.conv1(x))))
        x = self.drop(F.relu(self.bn2(self.conv2(x))))
        x = torch.flatten(x, 1)  # rows of fc are permuted at conversion: (C, H, W) order kept
        return F.log_softmax(self.fc(x), dim=1)


class SequenceNet(nn.Module):
    def __init__(self, channels=6, classes=3):
        super().__init__()
        self.conv = nn.Conv1d(channels, 16, 5, padding=2)
        self.bn = nn.BatchNorm1d(16)
        self.pool = nn.AdaptiveAvgPool1d(1)
        self.head = nn.Linear(16, classes)

    def forward(self, x):
        x = torch.relu(self.bn(self.conv(x)))
        return self.head(self.pool(x).flatten(1))

# output
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


@tf.keras.utils.register_keras_serializable(package="torch2tf")
class TorchBatchNorm(tf.keras.layers.BatchNormalization):
    """torch's BatchNorm: channel axis 1, running variance from the unbiased batch variance."""

    def __init__(
        self, axis=1, momentum=0.9, epsilon=1e-5, track_running_stats=True, **kwargs
    ):
        super().__init__(axis=axis, momentum=momentum, epsilon=epsilon, **kwargs)
        self.track_running_stats = track_running_stats

    def build(self, input_shape):
        if self.axis % len(input_shape) == len(input_shape) - 1:
            # the same axis; Keras reshapes at every call for any other value
            self.axis = -1
        super().build(input_shape)

    def call(self, inputs, training=None):
        if (
            inputs.dtype == tf.float32
            and len(inputs.shape) in (4, 5)
            and self.axis == -1
        ):
            return self.fused_call(inputs, training)
        if self.track_running_stats and not training:
            return super().call(inputs, training=False)
        rank = len(inputs.shape)
        axis = self.axis % rank
        reduce_axes = [i for i in range(rank) if i != axis]
        mean, variance = tf.nn.moments(inputs, reduce_axes)
        if training and self.track_running_stats:
            count = tf.cast(tf.size(inputs) // tf.shape(inputs)[axis], variance.dtype)
            unbiased = variance * count / tf.maximum(count - 1, 1)
            m = self.momentum
            self.moving_mean.assign(self.moving_mean * m + mean * (1 - m))
            self.moving_variance.assign(self.moving_variance * m + unbiased * (1 - m))
        return tf.keras.ops.batch_normalization(
            inputs,
            mean,
            variance,
            axis,
            self.beta if self.center else None,
            self.gamma if self.scale else None,
            self.epsilon,
        )

    def fused_call(self, inputs, training):
        """A float32 map: the same formulas as one op, which TensorFlow folds into the conv
        before it in inference (Keras 3 runs separate elementwise ops); in training its
        variance for the running average is the unbiased one, as torch's."""
        batch_statistics = bool(training) or not self.track_running_stats
        update = bool(training) and self.track_running_stats
        ones = tf.ones_like(self.moving_mean)
        outputs, mean, variance = tf.compat.v1.nn.fused_batch_norm(
            inputs,
            self.gamma if self.scale else ones,
            self.beta if self.center else tf.zeros_like(ones),
            None if batch_statistics and not update else self.moving_mean,
            None if batch_statistics and not update else self.moving_variance,
            epsilon=self.epsilon,
            data_format="NHWC" if len(inputs.shape) == 4 else "NDHWC",
            is_training=batch_statistics,
            exponential_avg_factor=1 - self.momentum if update else 1.0,
        )
        if update:
            self.moving_mean.assign(mean)
            self.moving_variance.assign(variance)
        return outputs

    def get_config(self):
        return {**super().get_config(), "track_running_stats": self.track_running_stats}


def torch_flatten(x, start_dim=0, end_dim=-1):
    """torch.flatten(x, start_dim, end_dim); a tf.reshape with tf.shape would lose static sizes."""
    rank = len(x.shape)
    if rank == 0:
        return tf.reshape(x, [1])
    if not (-rank <= start_dim < rank and -rank <= end_dim < rank):
        raise IndexError(
            f"flatten dims ({start_dim}, {end_dim}) out of range for rank {rank}"
        )
    start, end = start_dim % rank, end_dim % rank
    if start > end:
        raise ValueError("flatten: start_dim comes after end_dim")
    sizes = tf.keras.ops.shape(x)
    merged = 1
    for size in sizes[start : end + 1]:
        merged = merged * size
    return tf.reshape(x, [*sizes[:start], merged, *sizes[end + 1 :]])


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


@tf.keras.utils.register_keras_serializable(package="small_cnn")
class Net(tf.keras.Model):
    """A small image classifier, written the usual way (NCHW)."""

    def __init__(self, num_classes=10):
        super().__init__()
        self.init_arguments = {"num_classes": num_classes}
        self.conv1 = tf.keras.layers.Conv2D(
            16,
            3,
            padding="same",
            kernel_initializer=torch_default_kernel(),
            bias_initializer=torch_default_bias(9),
            name="conv1",
        )
        self.bn1 = TorchBatchNorm(axis=-1, momentum=0.9, epsilon=1e-05, name="bn1")
        self.pool = tf.keras.layers.MaxPooling2D(2, name="pool")
        self.conv2 = tf.keras.Sequential(
            [
                tf.keras.layers.ZeroPadding2D(1),
                tf.keras.layers.Conv2D(
                    32,
                    3,
                    strides=2,
                    use_bias=False,
                    kernel_initializer=torch_default_kernel(),
                ),
            ],
            name="conv2",
        )
        self.bn2 = TorchBatchNorm(axis=-1, momentum=0.9, epsilon=1e-05, name="bn2")
        self.drop = tf.keras.layers.SpatialDropout2D(0.1, name="drop")
        self.fc = tf.keras.layers.Dense(
            num_classes,
            kernel_initializer=torch_default_kernel(),
            bias_initializer=torch_default_bias(32 * 2 * 2),
            name="fc",
        )

    def get_config(self):
        """The constructor's arguments: load_model rebuilds the model from them."""
        return config_from_arguments(self.init_arguments)

    @classmethod
    def from_config(cls, config):
        """The model get_config describes (its classes and layers rebuilt)."""
        return cls(**arguments_from_config(config))

    def call(self, x, training=None):
        x = self.pool(tf.nn.relu(self.bn1(self.conv1(x), training=training)))
        x = self.drop(
            tf.nn.relu(self.bn2(self.conv2(x), training=training)), training=training
        )
        # rows of fc are permuted at conversion: (C, H, W) order kept
        x = torch_flatten(x, 1)
        return tf.nn.log_softmax(self.fc(x), axis=1)


@tf.keras.utils.register_keras_serializable(package="small_cnn")
class SequenceNet(tf.keras.Model):
    def __init__(self, channels=6, classes=3):
        super().__init__()
        self.init_arguments = {"channels": channels, "classes": classes}
        self.conv = tf.keras.layers.Conv1D(
            16,
            5,
            padding="same",
            kernel_initializer=torch_default_kernel(),
            bias_initializer=torch_default_bias(channels * 5),
            name="conv",
        )
        self.bn = TorchBatchNorm(axis=-1, momentum=0.9, epsilon=1e-05, name="bn")
        self.pool = tf.keras.layers.GlobalAveragePooling1D(keepdims=True, name="pool")
        self.head = tf.keras.layers.Dense(
            classes,
            kernel_initializer=torch_default_kernel(),
            bias_initializer=torch_default_bias(16),
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
        x = tf.nn.relu(self.bn(self.conv(x), training=training))
        return self.head(torch_flatten(self.pool(x), 1))
