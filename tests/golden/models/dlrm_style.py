"""DLRM-style dense and over arches: MLPs named per layer through OrderedDicts built in loops."""

import math
from collections import OrderedDict

import tensorflow as tf


# torch2tf helpers: exact Keras versions of torch behaviour Keras lacks.
def torch_default_kernel():
    """torch's default Linear weight init, U(+-1/sqrt(fan_in)); Keras's is glorot_uniform."""
    return tf.keras.initializers.VarianceScaling(1 / 3, "fan_in", "uniform")


def torch_default_bias(fan_in):
    """torch's default Linear bias init, U(+-1/sqrt(fan_in)); Keras's is zeros."""
    bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0.0
    return tf.keras.initializers.RandomUniform(-bound, bound)


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


@tf.keras.utils.register_keras_serializable(package="dlrm_style")
class DenseArch(tf.keras.Model):
    def __init__(self, in_features, layer_sizes):
        super().__init__()
        self.init_arguments = {"in_features": in_features, "layer_sizes": layer_sizes}
        # torch2tf: _log_api_usage_once(...) dropped: torch's API-usage telemetry
        dims = [in_features, *layer_sizes]
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
            layers.append((f"relu{i}", tf.keras.layers.ReLU()))
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


@tf.keras.utils.register_keras_serializable(package="dlrm_style")
class OverArch(tf.keras.Model):
    def __init__(self, d, depth, out_features):
        super().__init__()
        self.init_arguments = {"d": d, "depth": depth, "out_features": out_features}
        # torch2tf: _log_api_usage_once(...) dropped: torch's API-usage telemetry
        self.mlp = tf.keras.Sequential(
            torch_named_layers(
                OrderedDict(
                    (
                        f"layer{i}",
                        tf.keras.layers.Dense(
                            d,
                            kernel_initializer=tf.keras.initializers.RandomNormal(
                                0.0, 0.02
                            ),
                            bias_initializer=tf.keras.initializers.Zeros(),
                        ),
                    )
                    for i in range(depth)
                )
            ),
            name="mlp",
        )
        self.out = tf.keras.layers.Dense(
            out_features,
            kernel_initializer=torch_default_kernel(),
            bias_initializer=torch_default_bias(d),
            name="out",
        )

    def get_config(self):
        """The constructor's arguments: load_model rebuilds the model from them."""
        return config_from_arguments(self.init_arguments)

    @classmethod
    def from_config(cls, config):
        """The model get_config describes (its classes and layers rebuilt)."""
        return cls(**arguments_from_config(config))

    def call(self, x, training=None):
        return self.out(tf.nn.relu(self.mlp(x, training=training)))


@tf.keras.utils.register_keras_serializable(package="dlrm_style")
class DLRMStyle(tf.keras.Model):
    def __init__(self, in_features, dense_sizes=(32, 16), over_depth=2, out_features=1):
        super().__init__()
        self.init_arguments = {
            "in_features": in_features,
            "dense_sizes": dense_sizes,
            "over_depth": over_depth,
            "out_features": out_features,
        }
        self.dense = DenseArch(in_features, dense_sizes)
        self.over = OverArch(dense_sizes[-1], over_depth, out_features)

    def get_config(self):
        """The constructor's arguments: load_model rebuilds the model from them."""
        return config_from_arguments(self.init_arguments)

    @classmethod
    def from_config(cls, config):
        """The model get_config describes (its classes and layers rebuilt)."""
        return cls(**arguments_from_config(config))

    def call(self, x, training=None):
        return tf.sigmoid(
            self.over(self.dense(x, training=training), training=training)
        )
