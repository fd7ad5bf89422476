"""Building blocks of a tabular-learning package, written the way such packages write them."""

import logging
import math
import warnings

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


logger = logging.getLogger(__name__)


@tf.keras.utils.register_keras_serializable(package="tabular_blocks")
class LinearBlock(tf.keras.Model):
    """y = x W^T + b, with torch's own Linear initialisation spelt out."""

    def __init__(self, in_features: int, out_features: int, bias: bool = True) -> None:
        super().__init__()
        self.init_arguments = {
            "in_features": in_features,
            "out_features": out_features,
            "bias": bias,
        }
        # torch2tf: torch._C._log_api_usage_once(...) dropped: torch's API-usage telemetry
        if in_features <= 0 or out_features <= 0:
            raise ValueError(
                f"sizes must be positive, got {in_features} and {out_features}"
            )
        self.in_features = in_features
        self.out_features = out_features
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

    def get_config(self):
        """The constructor's arguments: load_model rebuilds the model from them."""
        return config_from_arguments(self.init_arguments)

    @classmethod
    def from_config(cls, config):
        """The model get_config describes (its classes and layers rebuilt)."""
        return cls(**arguments_from_config(config))

    def call(self, x: tf.Tensor, training=None) -> tf.Tensor:
        if len(x.shape) != 2:
            raise ValueError(f"expected a 2-D batch, got {len(x.shape)}-D")
        return (
            tf.matmul(x, self.weight, transpose_b=True)
            if self.bias is None
            else tf.matmul(x, self.weight, transpose_b=True) + self.bias
        )


@tf.keras.utils.register_keras_serializable(package="tabular_blocks")
class ResidualBlock(tf.keras.Model):
    """Pre-norm residual MLP block with a learned, zero-centred residual gate."""

    def __init__(self, d: int, hidden: int, dropout: float = 0.1) -> None:
        super().__init__()
        self.init_arguments = {"d": d, "hidden": hidden, "dropout": dropout}
        assert 0.0 <= dropout < 1.0, "dropout must be in [0, 1)"
        if hidden < d:
            warnings.warn("hidden is narrower than the input", stacklevel=2)
        logger.debug("ResidualBlock(%d, %d)", d, hidden)
        self.norm = TorchBatchNorm(momentum=0.9, epsilon=1e-05, name="norm")
        self.up = LinearBlock(d, hidden)
        self.down = LinearBlock(hidden, d, bias=False)
        self.dropout = tf.keras.layers.Dropout(dropout, name="dropout")
        self.gate = self.add_weight(
            name="gate", shape=(d,), initializer=tf.keras.initializers.Constant(0.5)
        )

    def get_config(self):
        """The constructor's arguments: load_model rebuilds the model from them."""
        return config_from_arguments(self.init_arguments)

    @classmethod
    def from_config(cls, config):
        """The model get_config describes (its classes and layers rebuilt)."""
        return cls(**arguments_from_config(config))

    def call(self, x, training=None):
        h = tf.nn.relu(self.up(self.norm(x, training=training), training=training))
        return x + self.gate * self.down(
            self.dropout(h, training=training), training=training
        )


@tf.keras.utils.register_keras_serializable(package="tabular_blocks")
class TabularResNet(tf.keras.Model):
    def __init__(
        self,
        n_features: int,
        d: int = 16,
        hidden: int = 32,
        n_blocks: int = 2,
        n_classes: int = 3,
    ) -> None:
        super().__init__()
        self.init_arguments = {
            "n_features": n_features,
            "d": d,
            "hidden": hidden,
            "n_blocks": n_blocks,
            "n_classes": n_classes,
        }
        self.stem = LinearBlock(n_features, d)
        self.blocks = [ResidualBlock(d, hidden) for _ in range(n_blocks)]
        self.head = tf.keras.layers.Dense(
            n_classes,
            kernel_initializer=torch_default_kernel(),
            bias_initializer=torch_default_bias(d),
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
        x = self.stem(x, training=training)
        for block in self.blocks:
            x = block(x)
        return self.head(x)
