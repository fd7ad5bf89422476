"""A torchvision-style residual network: layers from project functions, a norm-layer class
held by a name, blocks stacked in a loop, an init loop reaching all of them."""

from typing import Optional, Union

import torch
import torch.nn as nn


def conv3x3(in_planes: int, out_planes: int, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(in_planes, out_planes, kernel_size=3, stride=stride, padding=1, bias=False)


class Block(nn.Module):
    def __init__(self, inplanes: int, planes: int, stride: int = 1,
                 downsample: Optional[nn.Module] = None, norm_layer=None) -> None:
        super().__init__()
        if norm_layer is None:
            norm_layer = nn.BatchNorm2d
        self.conv1 = conv3x3(inplanes, planes, stride)
        self.bn1 = norm_layer(planes)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = conv3x3(planes, planes)
        self.bn2 = norm_layer(planes)
        self.downsample = downsample

    def forward(self, x):
        identity = x
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        if self.downsample is not None:
            identity = self.downsample(x)
        out += identity
        return self.relu(out)


class Net(nn.Module):
    def __init__(self, block: type[Union[Block]], layers: list[int], num_classes: int = 10):
        super().__init__()
        self.inplanes = 16
        self.stem = nn.Conv2d(3, 16, 3, padding=1, bias=False)
        self.stage1 = self._make_layer(block, 16, layers[0])
        self.stage2 = self._make_layer(block, 32, layers[1], stride=2)
        self.pool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(32, num_classes)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.constant_(m.weight, 1)
                nn.init.constant_(m.bias, 0)

    def _make_layer(self, block, planes, blocks, stride=1):
        norm_layer = nn.BatchNorm2d
        downsample = None
        if stride != 1 or self.inplanes != planes:
            downsample = nn.Sequential(
                nn.Conv2d(self.inplanes, planes, 1, stride=stride, bias=False),
                norm_layer(planes),
            )
        layers = []
        layers.append(block(self.inplanes, planes, stride, downsample))
        self.inplanes = planes
        for _ in range(1, blocks):
            layers.append(block(self.inplanes, planes))
        return nn.Sequential(*layers)

    def forward(self, x):
        x = self.stage2(self.stage1(self.stem(x)))
        return self.fc(torch.flatten(self.pool(x), 1))

# output
"""A torchvision-style residual network: layers from project functions, a norm-layer class
held by a name, blocks stacked in a loop, an init loop reaching all of them."""

import math
from typing import Optional, Union

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


def torch_modules(model):
    """torch's model.modules(): the model and every layer inside it (in Keras's order)."""
    return model._flatten_layers(include_self=True, recursive=True)


def torch_init(layer, variable, initializer):
    """torch's nn.init on a layer's tensor after construction: the initializer of a layer not
    built yet (Keras creates its variables later), new values for one that is."""
    # a depthwise conv's torch weight: Keras's depthwise kernel, drawn with torch's fans
    depthwise = (tf.keras.layers.DepthwiseConv1D, tf.keras.layers.DepthwiseConv2D)
    if isinstance(layer, tf.keras.Sequential):  # a layer behind its padding: that layer
        (layer,) = [
            inner
            for inner in layer.layers
            if hasattr(inner, f"{variable}_initializer") or isinstance(inner, depthwise)
        ]
    name = variable
    if isinstance(layer, depthwise) and variable == "kernel":
        initializer, name = TorchDepthwiseInit(initializer), "depthwise"
    if layer.built:
        value = getattr(layer, variable)
        value.assign(initializer(value.shape, value.dtype))
    elif hasattr(layer, f"{name}_initializer"):
        setattr(layer, f"{name}_initializer", initializer)
    else:
        raise TypeError(f"{type(layer).__name__} has no {variable} to initialise")


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


def conv3x3(in_planes: int, out_planes: int, stride: int = 1) -> tf.keras.layers.Layer:
    return tf.keras.Sequential(
        [
            tf.keras.layers.ZeroPadding2D(1),
            tf.keras.layers.Conv2D(
                out_planes,
                3,
                strides=stride,
                use_bias=False,
                kernel_initializer=torch_default_kernel(),
            ),
        ]
    )


@tf.keras.utils.register_keras_serializable(package="residual_blocks")
class Block(tf.keras.Model):
    def __init__(
        self,
        inplanes: int,
        planes: int,
        stride: int = 1,
        downsample: Optional[tf.keras.layers.Layer] = None,
        norm_layer=None,
    ) -> None:
        super().__init__()
        self.init_arguments = {
            "inplanes": inplanes,
            "planes": planes,
            "stride": stride,
            "downsample": downsample,
            "norm_layer": norm_layer,
        }
        if norm_layer is None:
            norm_layer = nn_batchnorm2d
        self.conv1 = conv3x3(inplanes, planes, stride)
        self.bn1 = norm_layer(planes)
        self.relu = tf.keras.layers.ReLU(name="relu")
        self.conv2 = conv3x3(planes, planes)
        self.bn2 = norm_layer(planes)
        self.downsample = downsample

    def get_config(self):
        """The constructor's arguments: load_model rebuilds the model from them."""
        return config_from_arguments(self.init_arguments)

    @classmethod
    def from_config(cls, config):
        """The model get_config describes (its classes and layers rebuilt)."""
        return cls(**arguments_from_config(config))

    def call(self, x, training=None):
        identity = x
        out = self.relu(self.bn1(self.conv1(x, training=training), training=training))
        out = self.bn2(self.conv2(out, training=training), training=training)
        if self.downsample is not None:
            identity = self.downsample(x, training=training)
        out += identity
        return self.relu(out)


@tf.keras.utils.register_keras_serializable(package="residual_blocks")
class Net(tf.keras.Model):
    def __init__(
        self, block: type[Union[Block]], layers: list[int], num_classes: int = 10
    ):
        super().__init__()
        self.init_arguments = {
            "block": block,
            "layers": layers,
            "num_classes": num_classes,
        }
        self.inplanes = 16
        self.stem = tf.keras.layers.Conv2D(
            16,
            3,
            padding="same",
            use_bias=False,
            kernel_initializer=torch_default_kernel(),
            name="stem",
        )
        self.stage1 = self._make_layer(block, 16, layers[0])
        self.stage2 = self._make_layer(block, 32, layers[1], stride=2)
        self.pool = tf.keras.layers.GlobalAveragePooling2D(keepdims=True, name="pool")
        self.fc = tf.keras.layers.Dense(
            num_classes,
            kernel_initializer=torch_default_kernel(),
            bias_initializer=torch_default_bias(32),
            name="fc",
        )
        # torch's init loop, run on the Keras layers (before they are built)
        for m in torch_modules(self):
            if isinstance(m, (tf.keras.layers.Conv2D, tf.keras.layers.DepthwiseConv2D)):
                torch_init(
                    m,
                    "kernel",
                    tf.keras.initializers.VarianceScaling(
                        2.0, "fan_out", "untruncated_normal"
                    ),
                )
            elif isinstance(m, TorchBatchNorm):
                pass  # torch's defaults already: constant_(m.weight, 1), constant_(m.bias, 0)

    def get_config(self):
        """The constructor's arguments: load_model rebuilds the model from them."""
        return config_from_arguments(self.init_arguments)

    @classmethod
    def from_config(cls, config):
        """The model get_config describes (its classes and layers rebuilt)."""
        return cls(**arguments_from_config(config))

    def _make_layer(self, block, planes, blocks, stride=1):
        norm_layer = nn_batchnorm2d
        downsample = None
        if stride != 1 or self.inplanes != planes:
            downsample = tf.keras.Sequential(
                [
                    tf.keras.layers.Conv2D(
                        planes,
                        1,
                        strides=stride,
                        use_bias=False,
                        kernel_initializer=torch_default_kernel(),
                    ),
                    norm_layer(planes),
                ]
            )
        layers = []
        layers.append(block(self.inplanes, planes, stride, downsample))
        self.inplanes = planes
        for _ in range(1, blocks):
            layers.append(block(self.inplanes, planes))
        return tf.keras.Sequential([*layers])

    def call(self, x, training=None):
        x = self.stage2(self.stage1(self.stem(x), training=training), training=training)
        return self.fc(torch_flatten(self.pool(x), 1))
