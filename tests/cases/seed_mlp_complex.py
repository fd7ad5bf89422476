import torch
import torch.nn as nn

class PyTorchMLPComplex(nn.Module):
    def __init__(self, input_size, hidden_size1, hidden_size2, output_size, dropout_rate):
        super(PyTorchMLPComplex, self).__init__()
        self.fc1 = nn.Linear(input_size, hidden_size1)
        self.bn1 = nn.BatchNorm1d(hidden_size1)
        self.relu1 = nn.ReLU()
        self.dropout1 = nn.Dropout(dropout_rate)
        self.fc2 = nn.Linear(hidden_size1, hidden_size2)
        self.bn2 = nn.BatchNorm1d(hidden_size2)
        self.relu2 = nn.ReLU()
        self.dropout2 = nn.Dropout(dropout_rate)
        self.fc3 = nn.Linear(hidden_size2, output_size)


    def forward(self, x):
        x = self.fc1(x)
        x = self.bn1(x)
        x = self.relu1(x)
        x = self.dropout1(x)
        x = self.fc2(x)
        x = self.bn2(x)
        x = self.relu2(x)
        x = self.dropout2(x)
        x = self.fc3(x)
        return x
# Example instantiation
model_pytorch_complex = PyTorchMLPComplex(input_size=784, hidden_size1=512, hidden_size2=256, output_size=10, dropout_rate=0.2)

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


@tf.keras.utils.register_keras_serializable(package="seed_mlp_complex")
class PyTorchMLPComplex(tf.keras.Model):
    def __init__(
        self, input_size, hidden_size1, hidden_size2, output_size, dropout_rate
    ):
        super().__init__()
        self.init_arguments = {
            "input_size": input_size,
            "hidden_size1": hidden_size1,
            "hidden_size2": hidden_size2,
            "output_size": output_size,
            "dropout_rate": dropout_rate,
        }
        self.fc1 = tf.keras.layers.Dense(
            hidden_size1,
            kernel_initializer=torch_default_kernel(),
            bias_initializer=torch_default_bias(input_size),
            name="fc1",
        )
        self.bn1 = TorchBatchNorm(momentum=0.9, epsilon=1e-05, name="bn1")
        self.relu1 = tf.keras.layers.ReLU(name="relu1")
        self.dropout1 = tf.keras.layers.Dropout(dropout_rate, name="dropout1")
        self.fc2 = tf.keras.layers.Dense(
            hidden_size2,
            kernel_initializer=torch_default_kernel(),
            bias_initializer=torch_default_bias(hidden_size1),
            name="fc2",
        )
        self.bn2 = TorchBatchNorm(momentum=0.9, epsilon=1e-05, name="bn2")
        self.relu2 = tf.keras.layers.ReLU(name="relu2")
        self.dropout2 = tf.keras.layers.Dropout(dropout_rate, name="dropout2")
        self.fc3 = tf.keras.layers.Dense(
            output_size,
            kernel_initializer=torch_default_kernel(),
            bias_initializer=torch_default_bias(hidden_size2),
            name="fc3",
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
        x = self.bn1(x, training=training)
        x = self.relu1(x)
        x = self.dropout1(x, training=training)
        x = self.fc2(x)
        x = self.bn2(x, training=training)
        x = self.relu2(x)
        x = self.dropout2(x, training=training)
        x = self.fc3(x)
        return x


# Example instantiation
model_pytorch_complex = PyTorchMLPComplex(
    input_size=784, hidden_size1=512, hidden_size2=256, output_size=10, dropout_rate=0.2
)
