import math
from typing import Optional

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


def mlp_block(
    in_dim: int,
    out_dim: int,
    activation_fn: type[tf.keras.layers.Layer] = (
        lambda inplace=False: tf.keras.layers.ReLU()
    ),
) -> tf.keras.layers.Layer:
    """A Linear followed by an activation, built by a module-level factory."""
    return tf.keras.Sequential(
        [
            tf.keras.layers.Dense(
                out_dim,
                kernel_initializer=torch_default_kernel(),
                bias_initializer=torch_default_bias(in_dim),
            ),
            activation_fn(),
        ]
    )


@tf.keras.utils.register_keras_serializable(package="styles_model")
class Base(tf.keras.Model):
    """A project's own base class."""

    def num_layers(self) -> int:
        return 2


@tf.keras.utils.register_keras_serializable(package="styles_model")
class Policy(Base):
    hidden_default = 16

    def __init__(
        self,
        obs_dim: int,
        act_dim: int,
        hidden: Optional[int] = None,
        norm: bool = False,
    ):
        super().__init__()
        self.init_arguments = {
            "obs_dim": obs_dim,
            "act_dim": act_dim,
            "hidden": hidden,
            "norm": norm,
        }
        hidden = hidden or self.hidden_default
        self.body = mlp_block(obs_dim, hidden)
        self.hidden_layers = [
            mlp_block(hidden, hidden, (lambda inplace=False: tf.keras.layers.ReLU()))
            for _ in range(2)
        ]
        self.norm = TorchBatchNorm(momentum=0.9, epsilon=1e-05) if norm else None
        self.head = tf.keras.layers.Dense(
            act_dim,
            kernel_initializer=torch_default_kernel(),
            bias_initializer=torch_default_bias(hidden),
            name="head",
        )
        self.act = tf.keras.layers.ReLU(name="act")
        self.leaky = (
            lambda inplace=False: tf.keras.layers.LeakyReLU(negative_slope=0.2)
        )()

    def get_config(self):
        """The constructor's arguments: load_model rebuilds the model from them."""
        return config_from_arguments(self.init_arguments)

    @classmethod
    def from_config(cls, config):
        """The model get_config describes (its classes and layers rebuilt)."""
        return cls(**arguments_from_config(config))

    @property
    def depth(self) -> int:
        return len(self.hidden_layers)

    def call(self, obs: tf.Tensor, training=None) -> tf.Tensor:
        x = self.body(obs, training=training)
        for layer in self.hidden_layers:
            x = layer(x)
        if self.norm is not None:
            x = self.norm(x, training=training)
        return self.head(self.act(x))


@tf.keras.utils.register_keras_serializable(package="styles_model")
class Configurable(tf.keras.Model):
    """Layer classes and partials passed as values, constructed later."""

    def __init__(
        self,
        width: int,
        activation_fn=(lambda: tf.keras.layers.Activation("tanh")),
        out_activation=None,
    ):
        super().__init__()
        self.init_arguments = {
            "width": width,
            "activation_fn": activation_fn,
            "out_activation": out_activation,
        }
        self.fc = tf.keras.layers.Dense(
            width,
            kernel_initializer=torch_default_kernel(),
            bias_initializer=torch_default_bias(width),
            name="fc",
        )
        self.act = activation_fn()
        self.out = (
            out_activation()
            if out_activation is not None
            else tf.keras.layers.Identity()
        )
        # Create the weights now, as torch does at construction.
        self(tf.keras.Input(shape=(width,)))

    def get_config(self):
        """The constructor's arguments: load_model rebuilds the model from them."""
        return config_from_arguments(self.init_arguments)

    @classmethod
    def from_config(cls, config):
        """The model get_config describes (its classes and layers rebuilt)."""
        return cls(**arguments_from_config(config))

    def call(self, x, training=None):
        return self.out(self.act(self.fc(x), training=training), training=training)


@tf.keras.utils.register_keras_serializable(package="styles_model")
class Wrapped(tf.keras.Model):
    """A backbone built outside and passed in, with a head of its own."""

    def __init__(self, backbone: tf.keras.layers.Layer, outputs: int):
        super().__init__()
        self.init_arguments = {"backbone": backbone, "outputs": outputs}
        self.backbone = backbone
        self.head = tf.keras.layers.Dense(
            outputs,
            kernel_initializer=torch_default_kernel(),
            bias_initializer=torch_default_bias(8),
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
        return self.head(self.backbone(x, training=training))
