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


@tf.keras.utils.register_keras_serializable(package="init_model")
class Applied(tf.keras.Model):
    def __init__(self, n):
        super().__init__()
        self.init_arguments = {"n": n}
        self.fc1 = tf.keras.layers.Dense(
            32,
            kernel_initializer=tf.keras.initializers.Orthogonal(1.6666666666666667),
            bias_initializer=tf.keras.initializers.Constant(0.0),
            name="fc1",
        )
        self.fc2 = tf.keras.layers.Dense(
            4,
            kernel_initializer=tf.keras.initializers.Orthogonal(1.6666666666666667),
            bias_initializer=tf.keras.initializers.Constant(0.0),
            name="fc2",
        )
        # apply(init_weights) is applied through initializer arguments.
        # Create the weights now, as torch does at construction.
        self(tf.keras.Input(shape=(n,)))

    def get_config(self):
        """The constructor's arguments: load_model rebuilds the model from them."""
        return config_from_arguments(self.init_arguments)

    @classmethod
    def from_config(cls, config):
        """The model get_config describes (its classes and layers rebuilt)."""
        return cls(**arguments_from_config(config))

    def call(self, x, training=None):
        return self.fc2(tf.tanh(self.fc1(x)))


@tf.keras.utils.register_keras_serializable(package="init_model")
class Method(tf.keras.Model):
    def __init__(self, n):
        super().__init__()
        self.init_arguments = {"n": n}
        self.fc1 = tf.keras.layers.Dense(
            32,
            kernel_initializer=tf.keras.initializers.VarianceScaling(
                2.0, "fan_out", "untruncated_normal"
            ),
            bias_initializer=tf.keras.initializers.Constant(0.01),
            name="fc1",
        )
        self.bn = TorchBatchNorm(
            momentum=0.9,
            epsilon=1e-05,
            gamma_initializer=tf.keras.initializers.Ones(),
            beta_initializer=tf.keras.initializers.Zeros(),
            name="bn",
        )
        self.fc2 = tf.keras.layers.Dense(
            4,
            kernel_initializer=torch_default_kernel(),
            bias_initializer=tf.keras.initializers.Constant(0.01),
            name="fc2",
        )
        # apply(self._init) is applied through initializer arguments.
        # Create the weights now, as torch does at construction.
        self(tf.keras.Input(shape=(n,)))

    def get_config(self):
        """The constructor's arguments: load_model rebuilds the model from them."""
        return config_from_arguments(self.init_arguments)

    @classmethod
    def from_config(cls, config):
        """The model get_config describes (its classes and layers rebuilt)."""
        return cls(**arguments_from_config(config))

    def call(self, x, training=None):
        return self.fc2(self.bn(self.fc1(x), training=training))


@tf.keras.utils.register_keras_serializable(package="init_model")
class Ordered(tf.keras.Model):
    """Init code only reaches layers that exist when it runs; later init code wins."""

    def __init__(self, n):
        super().__init__()
        self.init_arguments = {"n": n}
        self.early = tf.keras.layers.Dense(
            n,
            kernel_initializer=tf.keras.initializers.Ones(),
            bias_initializer=torch_default_bias(n),
            name="early",
        )
        self.late = tf.keras.layers.Dense(
            n,
            kernel_initializer=torch_default_kernel(),
            bias_initializer=torch_default_bias(n),
            name="late",
        )
        # apply(self._ones) is applied through initializer arguments.
        # Create the weights now, as torch does at construction.
        self(tf.keras.Input(shape=(n,)))

    def get_config(self):
        """The constructor's arguments: load_model rebuilds the model from them."""
        return config_from_arguments(self.init_arguments)

    @classmethod
    def from_config(cls, config):
        """The model get_config describes (its classes and layers rebuilt)."""
        return cls(**arguments_from_config(config))

    def call(self, x, training=None):
        return self.late(self.early(x))
