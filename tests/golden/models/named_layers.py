"""Layers chosen by name or as values, statistics pairs and container iteration, written the
way tabular-model packages write them."""

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


def torch_normalized_axes(normalized_shape):
    """Keras axes for torch's normalized_shape (an int or trailing sizes)."""
    if isinstance(normalized_shape, (tuple, list)):  # torch.Size is a tuple
        return list(range(-len(normalized_shape), 0))
    return -1


@tf.keras.utils.register_keras_serializable(package="torch2tf")
class ActivationWith(tf.keras.layers.Layer):
    """A Keras activation with arguments (celu's alpha); Activation takes none."""

    def __init__(self, activation, **arguments):
        super().__init__()
        self.activation = activation
        self.arguments = arguments

    def call(self, inputs):
        return tf.keras.activations.get(self.activation)(inputs, **self.arguments)

    def get_config(self):
        return {"activation": self.activation, **self.arguments}


@tf.keras.utils.register_keras_serializable(package="torch2tf")
class TorchPReLU(tf.keras.layers.Layer):
    """torch's PReLU: alpha shared or per axis-1 channel, 0.25; Keras's: per item, 0."""

    def __init__(self, num_parameters=1, init=0.25, alpha_initializer=None, **kwargs):
        super().__init__(**kwargs)
        self.num_parameters = num_parameters
        self.init = init
        self.alpha_initializer = tf.keras.initializers.get(
            alpha_initializer or tf.keras.initializers.Constant(init)
        )

    def build(self, input_shape):
        self.alpha = self.add_weight(
            name="alpha",
            shape=(self.num_parameters,),
            initializer=self.alpha_initializer,
        )

    def call(self, inputs):
        rank = len(inputs.shape)
        alpha = (
            tf.reshape(self.alpha, [-1] + [1] * (rank - 2)) if rank > 1 else self.alpha
        )
        return tf.where(inputs > 0, inputs, alpha * inputs)

    def get_config(self):
        config = {"num_parameters": self.num_parameters, "init": self.init}
        initializer = tf.keras.initializers.serialize(self.alpha_initializer)
        return {**super().get_config(), **config, "alpha_initializer": initializer}


@tf.keras.utils.register_keras_serializable(package="torch2tf")
class TorchSoftplus(tf.keras.layers.Layer):
    """torch's Softplus(beta, threshold): linear past threshold; Keras's: no args."""

    def __init__(self, beta=1.0, threshold=20.0, **kwargs):
        super().__init__(**kwargs)
        self.beta = beta
        self.threshold = threshold

    def call(self, inputs):
        scaled = inputs * self.beta
        return tf.where(
            scaled > self.threshold, inputs, tf.math.softplus(scaled) / self.beta
        )

    def get_config(self):
        return {**super().get_config(), "beta": self.beta, "threshold": self.threshold}


@tf.keras.utils.register_keras_serializable(package="torch2tf")
class TorchHardtanh(tf.keras.layers.Layer):
    """torch's Hardtanh(min_val, max_val); Keras's hard_tanh clips to [-1, 1] only."""

    def __init__(self, min_val=-1.0, max_val=1.0, **kwargs):
        super().__init__(**kwargs)
        self.min_val = min_val
        self.max_val = max_val

    def call(self, inputs):
        return tf.clip_by_value(inputs, self.min_val, self.max_val)

    def get_config(self):
        return {
            **super().get_config(),
            "min_val": self.min_val,
            "max_val": self.max_val,
        }


@tf.keras.utils.register_keras_serializable(package="torch2tf")
class TorchSoftmin(tf.keras.layers.Layer):
    """torch's Softmin, softmax(-x) along an axis; Keras has no softmin."""

    def __init__(self, axis=-1, **kwargs):
        super().__init__(**kwargs)
        self.axis = axis

    def call(self, inputs):
        return tf.nn.softmax(-inputs, axis=self.axis)

    def get_config(self):
        return {**super().get_config(), "axis": self.axis}


def build_from_shapes(model, **shapes):
    """Builds a model of several inputs from their shapes, as load_model does with the ones it
    saved (Keras's default build keeps only the first input's): one call on zeros of each
    shape (None as 1), each input float or else int, the ints 0 or else 1 (sequence lengths
    cannot be 0), a tuple of tensors ((h, c)) as one; only the weights' shapes matter here."""
    given = {name: shape for name, shape in shapes.items() if shape}
    float_dtype = model.compute_dtype

    def filled(shape, dtype, value):  # an input may be a tuple of tensors: (h, c)
        if not any(isinstance(d, (tuple, list)) for d in shape):
            return tf.fill([d or 1 for d in shape], tf.constant(value, dtype))
        return tuple(filled(part, dtype, value) for part in shape)

    for ints in sorted(range(2 ** len(given)), key=lambda mask: bin(mask).count("1")):
        for fill in (0, 1) if ints else (0,):
            inputs = {
                name: filled(shape, "int32", fill)
                if ints >> i & 1
                else filled(shape, float_dtype, 0)
                for i, (name, shape) in enumerate(given.items())
            }
            try:
                model.call(**inputs, training=False)
                return
            # another dtype may do; else the first call builds the layers
            except Exception:
                continue


def torch_var(x, dim=None, correction=1, keepdim=False):
    """torch's var divides by N - correction (default 1); tf.math.reduce_variance by N."""
    mean = tf.reduce_mean(x, axis=dim, keepdims=True)
    squares = tf.reduce_sum(tf.square(x - mean), axis=dim, keepdims=keepdim)
    count = tf.cast(tf.size(x) // tf.maximum(tf.size(mean), 1), x.dtype)
    return squares / tf.maximum(count - correction, 0)


def torch_std(x, dim=None, correction=1, keepdim=False):
    """torch's std divides by N - correction (default 1); tf.math.reduce_std by N."""
    mean = tf.reduce_mean(x, axis=dim, keepdims=True)
    squares = tf.reduce_sum(tf.square(x - mean), axis=dim, keepdims=keepdim)
    count = tf.cast(tf.size(x) // tf.maximum(tf.size(mean), 1), x.dtype)
    return tf.sqrt(squares / tf.maximum(count - correction, 0))


def torch_var_mean(x, dim=None, correction=1, keepdim=False):
    """torch.var_mean gives (var, mean) at once; var as torch_var computes it."""
    return torch_var(x, dim, correction, keepdim), tf.reduce_mean(
        x, axis=dim, keepdims=keepdim
    )


def torch_std_mean(x, dim=None, correction=1, keepdim=False):
    """torch.std_mean gives (std, mean) at once; std as torch_std computes it."""
    return torch_std(x, dim, correction, keepdim), tf.reduce_mean(
        x, axis=dim, keepdims=keepdim
    )


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


def torch_activation(name):
    """getattr(torch.nn, name), an activation named at run time -> its Keras maker."""
    makers = {
        "ReLU": lambda inplace=False: tf.keras.layers.ReLU(),
        "SELU": lambda inplace=False: tf.keras.layers.Activation("selu"),
        "SiLU": lambda inplace=False: tf.keras.layers.Activation("silu"),
        "Mish": lambda inplace=False: tf.keras.layers.Activation("mish"),
        "Hardswish": lambda inplace=False: tf.keras.layers.Activation("hard_swish"),
        "Hardsigmoid": lambda inplace=False: tf.keras.layers.Activation("hard_sigmoid"),
        "Sigmoid": lambda *args, **kwargs: tf.keras.layers.Activation("sigmoid"),
        "Tanh": lambda *args, **kwargs: tf.keras.layers.Activation("tanh"),
        "Softsign": lambda *args, **kwargs: tf.keras.layers.Activation("softsign"),
        "LogSigmoid": lambda *args, **kwargs: tf.keras.layers.Activation("log_sigmoid"),
        "Tanhshrink": lambda *args, **kwargs: tf.keras.layers.Activation("tanh_shrink"),
        "ReLU6": lambda inplace=False: tf.keras.layers.ReLU(max_value=6.0),
        "LeakyReLU": lambda negative_slope=0.01, inplace=False: (
            tf.keras.layers.LeakyReLU(negative_slope=negative_slope)
        ),
        "PReLU": lambda num_parameters=1, init=0.25: TorchPReLU(
            num_parameters, init=init
        ),
        "ELU": lambda alpha=1.0, inplace=False: tf.keras.layers.ELU(alpha=alpha),
        "CELU": lambda alpha=1.0, inplace=False: ActivationWith("celu", alpha=alpha),
        "GELU": lambda: tf.keras.layers.Activation("gelu"),
        "Softplus": lambda beta=1.0, threshold=20.0: TorchSoftplus(
            beta=beta, threshold=threshold
        ),
        "Hardtanh": lambda min_val=-1.0, max_val=1.0, inplace=False: TorchHardtanh(
            min_val, max_val
        ),
        "Softmax": lambda dim: tf.keras.layers.Softmax(axis=int(dim)),
        "LogSoftmax": lambda dim: ActivationWith("log_softmax", axis=int(dim)),
        "Softmin": lambda dim: TorchSoftmin(axis=int(dim)),
        "GLU": lambda dim=-1: ActivationWith("glu", axis=dim),
        "Softshrink": lambda lambd=0.5: ActivationWith("soft_shrink", threshold=lambd),
        "Hardshrink": lambda lambd=0.5: ActivationWith("hard_shrink", threshold=lambd),
        "Threshold": lambda threshold, value, inplace=False: ActivationWith(
            "threshold", threshold=threshold, default_value=value
        ),
    }
    if name not in makers:
        raise NotImplementedError(
            f"torch.nn.{name} is not a translated activation: {sorted(makers)} are"
        )
    return makers[name]


@tf.keras.utils.register_keras_serializable(package="torch2tf")
def nn_softmax(dim):
    """nn.Softmax used as a value: its constructor arguments -> the Keras layer."""
    return tf.keras.layers.Softmax(axis=int(dim))


@tf.keras.utils.register_keras_serializable(package="torch2tf")
def nn_logsoftmax(dim):
    """nn.LogSoftmax used as a value: its constructor arguments -> the Keras layer."""
    return ActivationWith("log_softmax", axis=int(dim))


@tf.keras.utils.register_keras_serializable(package="torch2tf")
def nn_softmin(dim):
    """nn.Softmin used as a value: its constructor arguments -> the Keras layer."""
    return TorchSoftmin(axis=int(dim))


@tf.keras.utils.register_keras_serializable(package="torch2tf")
def nn_linear(in_features, out_features, bias=True, device=None, dtype=None):
    """nn.Linear used as a value: its constructor arguments -> the Keras layer."""
    if dtype is not None:
        raise ValueError("nn.Linear(dtype=...) other than None is not translated")
    return tf.keras.layers.Dense(
        out_features,
        use_bias=bias,
        kernel_initializer=torch_default_kernel(),
        bias_initializer=torch_default_bias(in_features),
    )


@tf.keras.utils.register_keras_serializable(package="named_layers")
class ActivationByName(tf.keras.Model):
    """The activation class is looked up on torch.nn by a constructor argument."""

    def __init__(
        self,
        d_in: int,
        d_out: int,
        activation: str = "ReLU",
        slope_name: str = "LeakyReLU",
    ) -> None:
        super().__init__()
        self.init_arguments = {
            "d_in": d_in,
            "d_out": d_out,
            "activation": activation,
            "slope_name": slope_name,
        }
        self.linear = tf.keras.layers.Dense(
            d_out,
            kernel_initializer=torch_default_kernel(),
            bias_initializer=torch_default_bias(d_in),
            name="linear",
        )
        self.activation = torch_activation(activation)()
        self.leaky = torch_activation(slope_name)(0.2)
        self.gelu = tf.keras.layers.Activation("gelu", name="gelu")
        # Create the weights now, as torch does at construction.
        self(tf.keras.Input(shape=(d_in,)))

    def get_config(self):
        """The constructor's arguments: load_model rebuilds the model from them."""
        return config_from_arguments(self.init_arguments)

    @classmethod
    def from_config(cls, config):
        """The model get_config describes (its classes and layers rebuilt)."""
        return cls(**arguments_from_config(config))

    def call(self, x: tf.Tensor, training=None) -> tf.Tensor:
        return self.gelu(
            self.leaky(
                self.activation(self.linear(x), training=training), training=training
            )
        )


NORMALISERS = {
    "softmax": nn_softmax,
    "logsoftmax": nn_logsoftmax,
    "softmin": nn_softmin,
}


@tf.keras.utils.register_keras_serializable(package="named_layers")
class NormaliserFromRegistry(tf.keras.Model):
    """A registry holds layer classes whose dim comes with the constructor's arguments."""

    def __init__(self, d_in: int, kind: str = "softmax", dim: int = -1) -> None:
        super().__init__()
        self.init_arguments = {"d_in": d_in, "kind": kind, "dim": dim}
        self.linear = tf.keras.layers.Dense(
            4,
            kernel_initializer=torch_default_kernel(),
            bias_initializer=torch_default_bias(d_in),
            name="linear",
        )
        self.normalise = NORMALISERS[kind](dim=dim)
        # Create the weights now, as torch does at construction.
        self(tf.keras.Input(shape=(d_in,)))

    def get_config(self):
        """The constructor's arguments: load_model rebuilds the model from them."""
        return config_from_arguments(self.init_arguments)

    @classmethod
    def from_config(cls, config):
        """The model get_config describes (its classes and layers rebuilt)."""
        return cls(**arguments_from_config(config))

    def call(self, x: tf.Tensor, training=None) -> tf.Tensor:
        return self.normalise(
            tf.reshape(self.linear(x), (tf.keras.ops.shape(x)[0], 2, 2)),
            training=training,
        )


@tf.keras.utils.register_keras_serializable(package="named_layers")
class LinearChosen(tf.keras.Model):
    """A layer class picked by a conditional and called later with its arguments."""

    def __init__(self, d_in: int, d_out: int, shared: bool = True) -> None:
        super().__init__()
        self.init_arguments = {"d_in": d_in, "d_out": d_out, "shared": shared}
        Linear = nn_linear if shared else tf.keras.layers.Identity
        self.first = Linear(d_in, d_out) if shared else Linear()
        make_linear = nn_linear
        self.head = make_linear(d_out if shared else d_in, 3, bias=False)

    def get_config(self):
        """The constructor's arguments: load_model rebuilds the model from them."""
        return config_from_arguments(self.init_arguments)

    @classmethod
    def from_config(cls, config):
        """The model get_config describes (its classes and layers rebuilt)."""
        return cls(**arguments_from_config(config))

    def call(self, x, training=None):
        return self.head(
            tf.nn.relu(self.first(x, training=training)), training=training
        )


@tf.keras.utils.register_keras_serializable(package="named_layers")
class StatsNorm(tf.keras.Model):
    """A hand-written normalisation from torch.var_mean / std_mean and legacy constants."""

    def __init__(self, d_in: int, d_out: int, eps: float = 1e-5) -> None:
        super().__init__()
        self.init_arguments = {"d_in": d_in, "d_out": d_out, "eps": eps}
        self.linear = tf.keras.layers.Dense(
            d_out,
            kernel_initializer=torch_default_kernel(),
            bias_initializer=torch_default_bias(d_in),
            name="linear",
        )
        self.eps = eps
        self.shift = tf.constant([0.5, -0.5, 1.0, 2.0])
        # Create the weights now, as torch does at construction.
        self(tf.keras.Input(shape=(d_in,)))

    def get_config(self):
        """The constructor's arguments: load_model rebuilds the model from them."""
        return config_from_arguments(self.init_arguments)

    @classmethod
    def from_config(cls, config):
        """The model get_config describes (its classes and layers rebuilt)."""
        return cls(**arguments_from_config(config))

    def output_shape(self) -> tuple:
        return tuple((self.linear.out_features,))

    def call(self, x: tf.Tensor, training=None) -> tf.Tensor:
        h = self.linear(x)
        variance, mean = torch_var_mean(h, -1, keepdim=True)
        std, center = torch_std_mean(h, 1, correction=0, keepdim=True)
        all_var, all_mean = torch_var_mean(h, correction=0)
        scale = tf.sqrt(tf.constant([0.5], dtype=tf.float32))
        out = (h - mean) / tf.sqrt(variance + self.eps) * scale
        return out + (h - center) / (std + self.eps) + all_var + all_mean + self.shift


@tf.keras.utils.register_keras_serializable(package="named_layers")
class IteratedBlocks(tf.keras.Model):
    """Sequential and ModuleList walked in forward: loops, len, indices, slices, zip, enumerate."""

    def __init__(self, d: int, n_blocks: int = 3, dropout: float = 0.1) -> None:
        super().__init__()
        self.init_arguments = {"d": d, "n_blocks": n_blocks, "dropout": dropout}
        self.stem = tf.keras.Sequential(
            [
                tf.keras.layers.Dense(
                    d,
                    kernel_initializer=torch_default_kernel(),
                    bias_initializer=torch_default_bias(d),
                ),
                TorchBatchNorm(momentum=0.9, epsilon=1e-05),
                tf.keras.layers.ReLU(),
                tf.keras.layers.Dropout(dropout),
            ],
            name="stem",
        )
        self.blocks = [
            tf.keras.layers.Dense(
                d,
                kernel_initializer=torch_default_kernel(),
                bias_initializer=torch_default_bias(d),
            )
            for _ in range(n_blocks)
        ]
        self.norms = [
            tf.keras.layers.LayerNormalization(
                axis=torch_normalized_axes(d), epsilon=1e-05
            )
            for _ in range(n_blocks)
        ]
        self.head = tf.keras.Sequential(
            [
                tf.keras.layers.Dense(
                    d,
                    kernel_initializer=torch_default_kernel(),
                    bias_initializer=torch_default_bias(d),
                ),
                tf.keras.layers.Activation("tanh"),
                tf.keras.layers.Dense(
                    2,
                    kernel_initializer=torch_default_kernel(),
                    bias_initializer=torch_default_bias(d),
                ),
            ],
            name="head",
        )

    def get_config(self):
        """The constructor's arguments: load_model rebuilds the model from them."""
        return config_from_arguments(self.init_arguments)

    @classmethod
    def from_config(cls, config):
        """The model get_config describes (its classes and layers rebuilt)."""
        return cls(**arguments_from_config(config))

    def build(self, x_shape=None, skip_shape=None):
        """Keras saves these shapes for load_model, which builds the model from them."""
        build_from_shapes(self, x=x_shape, skip=skip_shape)

    def call(
        self, x: tf.Tensor, skip: Optional[int] = None, training=None
    ) -> tf.Tensor:
        for layer in self.stem.layers:
            x = layer(x)
        for i in range(len(self.blocks)):
            x = x + self.blocks[i](x)
        for block, norm in zip(self.blocks, self.norms):
            x = norm(block(x))
        for i, layer in enumerate(self.head.layers):
            if i < len(self.head.layers) - 1:
                x = layer(x)
        x = self.blocks[-1](x)
        for layer in self.stem.layers[:2]:
            x = layer(x)
        return self.head.layers[-1](x) + self.head.layers[0](x)[:, :2]
