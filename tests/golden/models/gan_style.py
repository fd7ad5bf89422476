"""Tabular GAN networks in the style of tabular-synthesis libraries (written for tests)."""

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


@tf.keras.utils.register_keras_serializable(package="gan_style")
class PackedCritic(tf.keras.Model):
    """Scores packs of rows: several samples are concatenated before the first layer."""

    def __init__(self, input_dim, discriminator_dim, pac=10):
        super().__init__()
        self.init_arguments = {
            "input_dim": input_dim,
            "discriminator_dim": discriminator_dim,
            "pac": pac,
        }
        dim = input_dim * pac
        self.pac = pac
        self.pacdim = dim
        seq = []
        for item in list(discriminator_dim):
            seq += [
                tf.keras.layers.Dense(
                    item,
                    kernel_initializer=torch_default_kernel(),
                    bias_initializer=torch_default_bias(dim),
                ),
                tf.keras.layers.LeakyReLU(negative_slope=0.2),
                tf.keras.layers.Dropout(0.5),
            ]
            dim = item

        seq += [
            tf.keras.layers.Dense(
                1,
                kernel_initializer=torch_default_kernel(),
                bias_initializer=torch_default_bias(dim),
            )
        ]
        self.seq = tf.keras.Sequential([*seq], name="seq")

    def get_config(self):
        """The constructor's arguments: load_model rebuilds the model from them."""
        return config_from_arguments(self.init_arguments)

    @classmethod
    def from_config(cls, config):
        """The model get_config describes (its classes and layers rebuilt)."""
        return cls(**arguments_from_config(config))

    def call(self, input_, training=None):
        """Score the packed rows."""
        assert tf.keras.ops.shape(input_)[0] % self.pac == 0
        return self.seq(tf.reshape(input_, (-1, self.pacdim)), training=training)


@tf.keras.utils.register_keras_serializable(package="gan_style")
class WideningBlock(tf.keras.Model):
    """Linear-BatchNorm-ReLU whose output is concatenated with its input."""

    def __init__(self, i, o):
        super().__init__()
        self.init_arguments = {"i": i, "o": o}
        self.fc = tf.keras.layers.Dense(
            o,
            kernel_initializer=torch_default_kernel(),
            bias_initializer=torch_default_bias(i),
            name="fc",
        )
        self.bn = TorchBatchNorm(momentum=0.9, epsilon=1e-05, name="bn")
        self.relu = tf.keras.layers.ReLU(name="relu")
        # Create the weights now, as torch does at construction.
        self(tf.keras.Input(shape=(i,)))

    def get_config(self):
        """The constructor's arguments: load_model rebuilds the model from them."""
        return config_from_arguments(self.init_arguments)

    @classmethod
    def from_config(cls, config):
        """The model get_config describes (its classes and layers rebuilt)."""
        return cls(**arguments_from_config(config))

    def call(self, input_, training=None):
        """Concatenate the block output with its input."""
        out = self.fc(input_)
        out = self.bn(out, training=training)
        out = self.relu(out)
        return tf.concat([out, input_], axis=1)


@tf.keras.utils.register_keras_serializable(package="gan_style")
class RowGenerator(tf.keras.Model):
    """Residual blocks that widen the representation, then a Linear head."""

    def __init__(self, embedding_dim, generator_dim, data_dim):
        super().__init__()
        self.init_arguments = {
            "embedding_dim": embedding_dim,
            "generator_dim": generator_dim,
            "data_dim": data_dim,
        }
        dim = embedding_dim
        seq = []
        for item in list(generator_dim):
            seq += [WideningBlock(dim, item)]
            dim += item
        seq.append(
            tf.keras.layers.Dense(
                data_dim,
                kernel_initializer=torch_default_kernel(),
                bias_initializer=torch_default_bias(dim),
            )
        )
        self.seq = tf.keras.Sequential([*seq], name="seq")

    def get_config(self):
        """The constructor's arguments: load_model rebuilds the model from them."""
        return config_from_arguments(self.init_arguments)

    @classmethod
    def from_config(cls, config):
        """The model get_config describes (its classes and layers rebuilt)."""
        return cls(**arguments_from_config(config))

    def call(self, input_, training=None):
        """Generate rows from noise."""
        data = self.seq(input_, training=training)
        return data
