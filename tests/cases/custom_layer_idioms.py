"""A custom layer and an MLP written with the idioms of real model code."""

import math
from collections import OrderedDict

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.nn import init
from torch.nn.parameter import Parameter


class MaskedLinear(nn.Module):
    """A linear layer whose weight is multiplied by a fixed connectivity mask."""

    def __init__(self, in_features, out_features, bias=True):
        super().__init__()
        torch._C._log_api_usage_once("example.MaskedLinear")
        self.weight = Parameter(torch.empty(out_features, in_features))
        if bias:
            self.bias = Parameter(torch.empty(out_features))
        else:
            self.register_parameter("bias", None)
        self.register_buffer("mask", torch.ones(out_features, in_features))
        self.reset_parameters()

    def reset_parameters(self):
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            fan_in, _ = init._calculate_fan_in_and_fan_out(self.weight)
            bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0
            init.uniform_(self.bias, -bound, bound)

    def forward(self, x):
        assert x.dim() == 2, "expected a 2-D batch"
        return F.linear(x, self.weight * self.mask, self.bias)


class NamedMLP(nn.Module):
    def __init__(self, dims):
        super().__init__()
        layers = []
        for i, (a, b) in enumerate(zip(dims[:-1], dims[1:])):
            layers.append((f"fc{i}", nn.Linear(a, b)))
            layers.append((f"act{i}", nn.ReLU()))
        self.mlp = nn.Sequential(OrderedDict(layers))
        for m in self.modules():
            if isinstance(m, nn.Linear):
                nn.init.xavier_uniform_(m.weight)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)

    def forward(self, x):
        return self.mlp(x)

# output
"""A custom layer and an MLP written with the idioms of real model code."""

import math
from collections import OrderedDict

import tensorflow as tf


# torch2tf helpers: exact Keras versions of torch behaviour Keras lacks.
def torch_default_bias(fan_in):
    """torch's default Linear bias init, U(+-1/sqrt(fan_in)); Keras's is zeros."""
    bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0.0
    return tf.keras.initializers.RandomUniform(-bound, bound)


@tf.keras.utils.register_keras_serializable(package="torch2tf")
class TorchLayout(tf.keras.initializers.Initializer):
    """A Keras initializer for a variable in torch's layout (out, in, *kernel): Keras reads fans
    (and orthogonal rows) from the last axes, torch from the first; drawn in Keras's, transposed."""

    def __init__(self, initializer):
        self.initializer = tf.keras.initializers.get(initializer)

    def __call__(self, shape, dtype=None):
        shape = tuple(shape)
        keras_shape = (*shape[2:], shape[1], shape[0])
        values = self.initializer(keras_shape, dtype=dtype)
        rank = len(shape)
        return tf.transpose(values, [rank - 1, rank - 2, *range(rank - 2)])

    def get_config(self):
        return {"initializer": tf.keras.initializers.serialize(self.initializer)}


def torch_named_layers(layers):
    """nn.Sequential(OrderedDict(...)) with computed keys: each layer named by its key, as Keras
    finds a Sequential's layers by name where torch finds them by key (``mlp.fc0.weight``)."""
    for name, layer in layers.items():
        layer.name = name
    return list(layers.values())


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


@tf.keras.utils.register_keras_serializable(package="custom_layer_idioms")
class MaskedLinear(tf.keras.Model):
    """A linear layer whose weight is multiplied by a fixed connectivity mask."""

    def __init__(self, in_features, out_features, bias=True):
        super().__init__()
        self.init_arguments = {
            "in_features": in_features,
            "out_features": out_features,
            "bias": bias,
        }
        # torch2tf: torch._C._log_api_usage_once(...) dropped: torch's API-usage telemetry
        self.weight = self.add_weight(
            name="weight",
            shape=(out_features, in_features),
            initializer=TorchLayout(
                tf.keras.initializers.VarianceScaling(
                    0.33333333333333326, "fan_in", "uniform"
                )
            ),
        )
        if bias:
            self.bias = self.add_weight(
                name="bias",
                shape=(out_features,),
                initializer=torch_default_bias(in_features),
            )
        else:
            self.bias = None
        self.mask = self.add_weight(
            name="mask",
            shape=(out_features, in_features),
            initializer="ones",
            trainable=False,
        )

    def get_config(self):
        """The constructor's arguments: load_model rebuilds the model from them."""
        return config_from_arguments(self.init_arguments)

    @classmethod
    def from_config(cls, config):
        """The model get_config describes (its classes and layers rebuilt)."""
        return cls(**arguments_from_config(config))

    def call(self, x, training=None):
        assert len(x.shape) == 2, "expected a 2-D batch"
        return (
            tf.matmul(x, self.weight * self.mask, transpose_b=True)
            if self.bias is None
            else tf.matmul(x, self.weight * self.mask, transpose_b=True) + self.bias
        )


@tf.keras.utils.register_keras_serializable(package="custom_layer_idioms")
class NamedMLP(tf.keras.Model):
    def __init__(self, dims):
        super().__init__()
        self.init_arguments = {"dims": dims}
        layers = []
        for i, (a, b) in enumerate(zip(dims[:-1], dims[1:])):
            layers.append(
                (
                    f"fc{i}",
                    tf.keras.layers.Dense(
                        b,
                        kernel_initializer=tf.keras.initializers.GlorotUniform(),
                        bias_initializer=tf.keras.initializers.Zeros(),
                    ),
                )
            )
            layers.append((f"act{i}", tf.keras.layers.ReLU()))
        self.mlp = tf.keras.Sequential(
            torch_named_layers(OrderedDict(layers)), name="mlp"
        )

    def get_config(self):
        """The constructor's arguments: load_model rebuilds the model from them."""
        return config_from_arguments(self.init_arguments)

    @classmethod
    def from_config(cls, config):
        """The model get_config describes (its classes and layers rebuilt)."""
        return cls(**arguments_from_config(config))

    def call(self, x, training=None):
        return self.mlp(x, training=training)
