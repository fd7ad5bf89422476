# torch2tf: --allow-partial
"""--allow-partial: the translatable parts are translated; each construct that is not is a
stub that raises NotImplementedError when it runs, and the problems are listed."""

import torch
from torch import nn


class Encoder(nn.Module):
    def __init__(self, d_in: int = 16, d_hidden: int = 32) -> None:
        super().__init__()
        self.proj = nn.Linear(d_in, d_hidden)
        self.mix = nn.Bilinear(d_hidden, d_hidden, d_hidden)
        self.norm = nn.LayerNorm(d_hidden)

    def forward(self, x):
        h = torch.relu(self.proj(x))
        return self.norm(self.mix(h, h))


class Head(nn.Module):
    def __init__(self, d: int = 32, classes: int = 4) -> None:
        super().__init__()
        self.out = nn.Linear(d, classes)

    def forward(self, h):
        return self.out(h).log_softmax(-1)

# output
# PARTIAL TRANSLATION by torch2tf --allow-partial: 1 construct could not be translated.
# Each is a call to torch2tf_untranslated(...), which raises NotImplementedError when it runs.
# torch2tf: --allow-partial
"""--allow-partial: the translatable parts are translated; each construct that is not is a
stub that raises NotImplementedError when it runs, and the problems are listed."""

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


def torch_normalized_axes(normalized_shape):
    """Keras axes for torch's normalized_shape (an int or trailing sizes)."""
    if isinstance(normalized_shape, (tuple, list)):  # torch.Size is a tuple
        return list(range(-len(normalized_shape), 0))
    return -1


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


def torch2tf_untranslated(code, problem):
    """Stands for PyTorch code torch2tf could not translate (written by --allow-partial)."""
    raise NotImplementedError(f"torch2tf could not translate {code}: {problem}")


@tf.keras.utils.register_keras_serializable(package="partial_model")
class Encoder(tf.keras.Model):
    def __init__(self, d_in: int = 16, d_hidden: int = 32) -> None:
        super().__init__()
        self.init_arguments = {"d_in": d_in, "d_hidden": d_hidden}
        self.proj = tf.keras.layers.Dense(
            d_hidden,
            kernel_initializer=torch_default_kernel(),
            bias_initializer=torch_default_bias(d_in),
            name="proj",
        )
        self.mix = torch2tf_untranslated(
            "nn.Bilinear(d_hidden, d_hidden, d_hidden)",
            "torch.nn.Bilinear is not translated",
        )
        self.norm = tf.keras.layers.LayerNormalization(
            axis=torch_normalized_axes(d_hidden), epsilon=1e-05, name="norm"
        )

    def get_config(self):
        """The constructor's arguments: load_model rebuilds the model from them."""
        return config_from_arguments(self.init_arguments)

    @classmethod
    def from_config(cls, config):
        """The model get_config describes (its classes and layers rebuilt)."""
        return cls(**arguments_from_config(config))

    def call(self, x, training=None):
        h = tf.nn.relu(self.proj(x))
        return self.norm(self.mix(h, h, training=training))


@tf.keras.utils.register_keras_serializable(package="partial_model")
class Head(tf.keras.Model):
    def __init__(self, d: int = 32, classes: int = 4) -> None:
        super().__init__()
        self.init_arguments = {"d": d, "classes": classes}
        self.out = tf.keras.layers.Dense(
            classes,
            kernel_initializer=torch_default_kernel(),
            bias_initializer=torch_default_bias(d),
            name="out",
        )
        # Create the weights now, as torch does at construction.
        self(tf.keras.Input(shape=(d,)))

    def get_config(self):
        """The constructor's arguments: load_model rebuilds the model from them."""
        return config_from_arguments(self.init_arguments)

    @classmethod
    def from_config(cls, config):
        """The model get_config describes (its classes and layers rebuilt)."""
        return cls(**arguments_from_config(config))

    def call(self, h, training=None):
        return tf.nn.log_softmax(self.out(h), axis=-1)

# partial_model.py:13:20: error: torch.nn.Bilinear is not translated (hint: see `torch2tf --list-rules` for what is translated)
