import torch
import torch.nn as nn
import torch.nn.init as init

class PyTorchMLPInit(nn.Module):
    def __init__(self, input_size, hidden_size, output_size):
      super(PyTorchMLPInit, self).__init__()
      self.fc1 = nn.Linear(input_size, hidden_size)
      self.relu = nn.ReLU()
      self.fc2 = nn.Linear(hidden_size, output_size)
      self._initialize_weights()

    def forward(self, x):
      x = self.fc1(x)
      x = self.relu(x)
      x = self.fc2(x)
      return x

    def _initialize_weights(self):
        for m in self.modules():
            if isinstance(m, nn.Linear):
                init.xavier_uniform_(m.weight)
                if m.bias is not None:
                    init.zeros_(m.bias)
# Example instantiation
model_pytorch_init = PyTorchMLPInit(input_size=784, hidden_size=256, output_size=10)

# output
import tensorflow as tf


# torch2tf helpers: exact Keras versions of torch behaviour Keras lacks.
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


@tf.keras.utils.register_keras_serializable(package="seed_mlp_init")
class PyTorchMLPInit(tf.keras.Model):
    def __init__(self, input_size, hidden_size, output_size):
        super().__init__()
        self.init_arguments = {
            "input_size": input_size,
            "hidden_size": hidden_size,
            "output_size": output_size,
        }
        self.fc1 = tf.keras.layers.Dense(
            hidden_size,
            kernel_initializer=tf.keras.initializers.GlorotUniform(),
            bias_initializer=tf.keras.initializers.Zeros(),
            name="fc1",
        )
        self.relu = tf.keras.layers.ReLU(name="relu")
        self.fc2 = tf.keras.layers.Dense(
            output_size,
            kernel_initializer=tf.keras.initializers.GlorotUniform(),
            bias_initializer=tf.keras.initializers.Zeros(),
            name="fc2",
        )
        # _initialize_weights() is applied through the layers' initializer arguments.
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
model_pytorch_init = PyTorchMLPInit(input_size=784, hidden_size=256, output_size=10)
