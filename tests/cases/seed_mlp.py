import torch
import torch.nn as nn

class PyTorchMLP(nn.Module):
    def __init__(self, input_size, hidden_size, output_size):
        super(PyTorchMLP, self).__init__()
        self.fc1 = nn.Linear(input_size, hidden_size)
        self.relu = nn.ReLU()
        self.fc2 = nn.Linear(hidden_size, output_size)

    def forward(self, x):
        x = self.fc1(x)
        x = self.relu(x)
        x = self.fc2(x)
        return x

# Example instantiation
model_pytorch = PyTorchMLP(input_size=784, hidden_size=256, output_size=10)

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


@tf.keras.utils.register_keras_serializable(package="seed_mlp")
class PyTorchMLP(tf.keras.Model):
    def __init__(self, input_size, hidden_size, output_size):
        super().__init__()
        self.init_arguments = {
            "input_size": input_size,
            "hidden_size": hidden_size,
            "output_size": output_size,
        }
        self.fc1 = tf.keras.layers.Dense(
            hidden_size,
            kernel_initializer=torch_default_kernel(),
            bias_initializer=torch_default_bias(input_size),
            name="fc1",
        )
        self.relu = tf.keras.layers.ReLU(name="relu")
        self.fc2 = tf.keras.layers.Dense(
            output_size,
            kernel_initializer=torch_default_kernel(),
            bias_initializer=torch_default_bias(hidden_size),
            name="fc2",
        )
        # Create the weights now, as torch does at construction.
        self(tf.keras.Input(shape=(input_size,)))

    def get_config(self):
        """The constructor's arguments: load_model rebuilds the model from them."""
        return config_from_arguments(self.init_arguments)

    @classmethod
    def from_config(cls, config):
        """The model get_config describes (its classes and layers rebuilt)."""
        return cls(**arguments_from_config(config))

    def call(self, x, training=None):
        x = self.fc1(x)
        x = self.relu(x)
        x = self.fc2(x)
        return x


# Example instantiation
model_pytorch = PyTorchMLP(input_size=784, hidden_size=256, output_size=10)
