"""nn.Sequential subclasses, torchvision's ConvNormActivation style: __init__ builds a list of
layers and hands it to super().__init__; a subclass binds the conv class; layer classes passed
as values are constructed with torch's inplace."""

from typing import Callable, Optional

import torch
from torch import nn


class ConvNormAct(nn.Sequential):
    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int = 3,
        stride: int = 1,
        groups: int = 1,
        norm_layer: Optional[Callable[..., nn.Module]] = nn.BatchNorm2d,
        activation_layer: Optional[Callable[..., nn.Module]] = nn.ReLU,
        conv_layer: Callable[..., nn.Module] = nn.Conv2d,
    ) -> None:
        padding = (kernel_size - 1) // 2
        bias = norm_layer is None
        layers = [
            conv_layer(in_channels, out_channels, kernel_size, stride, padding, groups=groups, bias=bias)
        ]
        if norm_layer is not None:
            layers.append(norm_layer(out_channels))
        if activation_layer is not None:
            layers.append(activation_layer(inplace=True))
        super().__init__(*layers)
        self.out_channels = out_channels


class Conv2dNormAct(ConvNormAct):
    def __init__(self, in_channels: int, out_channels: int, kernel_size: int = 3, stride: int = 1,
                 groups: int = 1, activation_layer=nn.ReLU) -> None:
        super().__init__(in_channels, out_channels, kernel_size, stride, groups,
                         nn.BatchNorm2d, activation_layer, nn.Conv2d)


class Head(nn.Sequential):
    def __init__(self, features: int, classes: int) -> None:
        super().__init__(nn.Dropout(0.2), nn.Linear(features, classes))


class Net(nn.Module):
    def __init__(self, num_classes: int = 10) -> None:
        super().__init__()
        features = [Conv2dNormAct(3, 16, stride=2, activation_layer=nn.ReLU6)]
        features.extend([
            Conv2dNormAct(16, 16, groups=16),  # depthwise
            Conv2dNormAct(16, 32, kernel_size=1),
        ])
        self.features = nn.Sequential(*features)
        self.head = Head(32, num_classes)

    def forward(self, x):
        x = self.features(x)
        x = nn.functional.adaptive_avg_pool2d(x, (1, 1))
        return self.head(torch.flatten(x, 1))

# output
"""nn.Sequential subclasses, torchvision's ConvNormActivation style: __init__ builds a list of
layers and hands it to super().__init__; a subclass binds the conv class; layer classes passed
as values are constructed with torch's inplace."""

import math
from typing import Callable, Optional

import tensorflow as tf


# torch2tf helpers: exact Keras versions of torch behaviour Keras lacks.
def torch_padded(layer, padding, dims):
    """A conv after torch's zero padding, given as a variable: the conv alone where the
    padding is 0, or with Keras's "same" where that pads as torch does (stride 1, d(k-1)/2 on
    each side); else ZeroPaddingND then the conv (a Keras Sequential)."""
    pads = tuple(padding) if isinstance(padding, (tuple, list)) else (padding,) * dims
    if not any(pads):
        return layer
    sizes = zip(
        pads, layer.kernel_size, layer.dilation_rate, layer.strides, strict=True
    )
    if all(s == 1 and d * (k - 1) == 2 * p for p, k, d, s in sizes):
        layer.padding = "same"
        return layer
    zero_padding = {1: tf.keras.layers.ZeroPadding1D, 2: tf.keras.layers.ZeroPadding2D}
    zero_padding[3] = tf.keras.layers.ZeroPadding3D
    return tf.keras.Sequential([zero_padding[dims](padding), layer])


def torch_default_kernel():
    """torch's default Linear weight init, U(+-1/sqrt(fan_in)); Keras's is glorot_uniform."""
    return tf.keras.initializers.VarianceScaling(1 / 3, "fan_in", "uniform")


def torch_default_bias(fan_in):
    """torch's default Linear bias init, U(+-1/sqrt(fan_in)); Keras's is zeros."""
    bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0.0
    return tf.keras.initializers.RandomUniform(-bound, bound)


@tf.keras.utils.register_keras_serializable(package="torch2tf")
class TorchDepthwiseInit(tf.keras.initializers.Initializer):
    """A depthwise kernel (*k, C, m) drawn with torch's fans (k and C*m*k; Keras would read k*C
    and k*m): drawn as a (*k, 1, C*m) kernel, whose output c*m+j is group c's j-th."""

    def __init__(self, initializer):
        self.initializer = tf.keras.initializers.get(initializer)

    def __call__(self, shape, dtype=None):
        *kernel, channels, multiplier = shape
        values = self.initializer((*kernel, 1, channels * multiplier), dtype=dtype)
        return tf.reshape(values, shape)

    def get_config(self):
        return {"initializer": tf.keras.initializers.serialize(self.initializer)}


def torch_fan_in(in_channels, kernel_size, groups, dims):
    """torch's fan-in of a conv kernel, in/groups * prod(kernel), for its default bias bound."""
    if isinstance(kernel_size, int):
        kernel_size = (kernel_size,) * dims
    return in_channels // groups * math.prod(kernel_size)


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


@tf.keras.utils.register_keras_serializable(package="torch2tf")
def nn_batchnorm2d(num_features, eps=1e-05, momentum=0.1, device=None, dtype=None):
    """nn.BatchNorm2d used as a value: its constructor arguments -> the Keras layer."""
    if dtype is not None:
        raise ValueError("nn.BatchNorm2d(dtype=...) other than None is not translated")
    return TorchBatchNorm(axis=-1, momentum=1 - (momentum), epsilon=eps)


@tf.keras.utils.register_keras_serializable(package="torch2tf")
def nn_conv2d(
    in_channels,
    out_channels,
    kernel_size,
    stride=1,
    padding=0,
    dilation=1,
    groups=1,
    bias=True,
    device=None,
    dtype=None,
):
    """nn.Conv2d used as a value: its constructor arguments -> the Keras layer."""
    if dtype is not None:
        raise ValueError("nn.Conv2d(dtype=...) other than None is not translated")
    return torch_padded(
        (
            # depthwise convs as DepthwiseConv2D (fast on CPU), others as Conv2D
            tf.keras.layers.DepthwiseConv2D(
                kernel_size,
                strides=stride,
                dilation_rate=dilation,
                use_bias=bias,
                depth_multiplier=out_channels // in_channels,
                depthwise_initializer=TorchDepthwiseInit(torch_default_kernel()),
                bias_initializer=torch_default_bias(
                    torch_fan_in(in_channels, kernel_size, groups, 2)
                ),
            )
            if groups == in_channels != 1
            else tf.keras.layers.Conv2D(
                out_channels,
                kernel_size,
                strides=stride,
                dilation_rate=dilation,
                use_bias=bias,
                groups=groups,
                kernel_initializer=torch_default_kernel(),
                bias_initializer=torch_default_bias(
                    torch_fan_in(in_channels, kernel_size, groups, 2)
                ),
            )
        ),
        padding,
        2,
    )


@tf.keras.utils.register_keras_serializable(package="sequential_subclass")
class ConvNormAct(tf.keras.Sequential):
    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int = 3,
        stride: int = 1,
        groups: int = 1,
        norm_layer: Optional[Callable[..., tf.keras.layers.Layer]] = nn_batchnorm2d,
        activation_layer: Optional[Callable[..., tf.keras.layers.Layer]] = (
            lambda inplace=False: tf.keras.layers.ReLU()
        ),
        conv_layer: Callable[..., tf.keras.layers.Layer] = nn_conv2d,
    ) -> None:
        padding = (kernel_size - 1) // 2
        bias = norm_layer is None
        layers = [
            conv_layer(
                in_channels,
                out_channels,
                kernel_size,
                stride,
                padding,
                groups=groups,
                bias=bias,
            )
        ]
        if norm_layer is not None:
            layers.append(norm_layer(out_channels))
        if activation_layer is not None:
            layers.append(activation_layer(inplace=True))
        super().__init__(layers)
        self.init_arguments = {
            "in_channels": in_channels,
            "out_channels": out_channels,
            "kernel_size": kernel_size,
            "stride": stride,
            "groups": groups,
            "norm_layer": norm_layer,
            "activation_layer": activation_layer,
            "conv_layer": conv_layer,
        }
        self.out_channels = out_channels

    def get_config(self):
        """The constructor's arguments: load_model rebuilds the model from them."""
        return config_from_arguments(self.init_arguments)

    @classmethod
    def from_config(cls, config):
        """The model get_config describes (its classes and layers rebuilt)."""
        return cls(**arguments_from_config(config))


@tf.keras.utils.register_keras_serializable(package="sequential_subclass")
class Conv2dNormAct(ConvNormAct):
    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int = 3,
        stride: int = 1,
        groups: int = 1,
        activation_layer=(lambda inplace=False: tf.keras.layers.ReLU()),
    ) -> None:
        super().__init__(
            in_channels,
            out_channels,
            kernel_size,
            stride,
            groups,
            nn_batchnorm2d,
            activation_layer,
            nn_conv2d,
        )
        self.init_arguments = {
            "in_channels": in_channels,
            "out_channels": out_channels,
            "kernel_size": kernel_size,
            "stride": stride,
            "groups": groups,
            "activation_layer": activation_layer,
        }

    def get_config(self):
        """The constructor's arguments: load_model rebuilds the model from them."""
        return config_from_arguments(self.init_arguments)

    @classmethod
    def from_config(cls, config):
        """The model get_config describes (its classes and layers rebuilt)."""
        return cls(**arguments_from_config(config))


@tf.keras.utils.register_keras_serializable(package="sequential_subclass")
class Head(tf.keras.Sequential):
    def __init__(self, features: int, classes: int) -> None:
        super().__init__(
            [
                tf.keras.layers.Dropout(0.2),
                tf.keras.layers.Dense(
                    classes,
                    kernel_initializer=torch_default_kernel(),
                    bias_initializer=torch_default_bias(features),
                ),
            ]
        )
        self.init_arguments = {"features": features, "classes": classes}

    def get_config(self):
        """The constructor's arguments: load_model rebuilds the model from them."""
        return config_from_arguments(self.init_arguments)

    @classmethod
    def from_config(cls, config):
        """The model get_config describes (its classes and layers rebuilt)."""
        return cls(**arguments_from_config(config))


@tf.keras.utils.register_keras_serializable(package="sequential_subclass")
class Net(tf.keras.Model):
    def __init__(self, num_classes: int = 10) -> None:
        super().__init__()
        self.init_arguments = {"num_classes": num_classes}
        features = [
            Conv2dNormAct(
                3,
                16,
                stride=2,
                activation_layer=(
                    lambda inplace=False: tf.keras.layers.ReLU(max_value=6.0)
                ),
            )
        ]
        features.extend(
            [
                Conv2dNormAct(16, 16, groups=16),  # depthwise
                Conv2dNormAct(16, 32, kernel_size=1),
            ]
        )
        self.features = tf.keras.Sequential([*features], name="features")
        self.head = Head(32, num_classes)

    def get_config(self):
        """The constructor's arguments: load_model rebuilds the model from them."""
        return config_from_arguments(self.init_arguments)

    @classmethod
    def from_config(cls, config):
        """The model get_config describes (its classes and layers rebuilt)."""
        return cls(**arguments_from_config(config))

    def call(self, x, training=None):
        x = self.features(x, training=training)
        x = tf.reduce_mean(x, axis=[1, 2], keepdims=True)
        return self.head(torch_flatten(x, 1), training=training)
