"""A temporal convolutional network in the TCN style: residual blocks of two dilated Conv1d,
each weight-normalised, over (N, C, L) sequences (padded to keep the length, as the
non-causal TCN variants do); written for the tests, with the init of ``weight`` after
weight_norm that torch ignores (weight is recomputed from g and v before every forward)."""

import math

import tensorflow as tf


# torch2tf helpers: exact Keras versions of torch behaviour Keras lacks.
def torch_padded(layer, padding, dims):
    """A conv after torch's zero padding, given as a variable: the conv alone where the
    padding is 0, or with Keras's "same" where that pads as torch does (stride 1, d(k-1)/2 on
    each side); else ZeroPaddingND then the conv (a Keras Sequential)."""
    pads = tuple(padding) if isinstance(padding, (tuple, list)) else (padding,) * dims
    if not any(pads):
        return layer
    sizes = zip(
        pads, layer.kernel_size, layer.dilation_rate, layer.strides, strict=True
    )
    if all(s == 1 and d * (k - 1) == 2 * p for p, k, d, s in sizes):
        layer.padding = "same"
        return layer
    zero_padding = {1: tf.keras.layers.ZeroPadding1D, 2: tf.keras.layers.ZeroPadding2D}
    zero_padding[3] = tf.keras.layers.ZeroPadding3D
    return tf.keras.Sequential([zero_padding[dims](padding), layer])


def torch_default_kernel():
    """torch's default Linear weight init, U(+-1/sqrt(fan_in)); Keras's is glorot_uniform."""
    return tf.keras.initializers.VarianceScaling(1 / 3, "fan_in", "uniform")


def torch_default_bias(fan_in):
    """torch's default Linear bias init, U(+-1/sqrt(fan_in)); Keras's is zeros."""
    bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0.0
    return tf.keras.initializers.RandomUniform(-bound, bound)


def torch_fan_in(in_channels, kernel_size, groups, dims):
    """torch's fan-in of a conv kernel, in/groups * prod(kernel), for its default bias bound."""
    if isinstance(kernel_size, int):
        kernel_size = (kernel_size,) * dims
    return in_channels // groups * math.prod(kernel_size)


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


@tf.keras.utils.register_keras_serializable(package="torch2tf")
class TorchWeightNorm(tf.keras.layers.Wrapper):
    """torch's weight_norm: kernel g * v / ||v||, g and v trained; Keras 3 has no such wrapper."""

    def __init__(self, layer, dim=0, g_initializer=None, g_trainable=True, **kwargs):
        super().__init__(layer, **kwargs)
        self.dim = dim  # torch's: None or -1 is the whole tensor's norm
        self.g_initializer = tf.keras.initializers.get(g_initializer)  # None: g = ||v||
        self._g_trainable = g_trainable

    @property
    def g_trainable(self):
        return self._g_trainable

    @g_trainable.setter
    def g_trainable(self, value):  # torch's weight_g.requires_grad
        self._g_trainable = bool(value)
        if self.built:
            self.g.trainable = bool(value)

    def _target(self):
        """The layer whose kernel is v (the wrapped layer, or the conv after its padding)."""
        found = [sub for sub in self.layer._flatten_layers() if hasattr(sub, "_kernel")]
        if len(found) != 1:
            raise ValueError(
                f"TorchWeightNorm needs one layer with a kernel, found {len(found)}"
            )
        return found[0]

    def build(self, input_shape=None):
        if not self.layer.built:
            self.layer.build(input_shape)
        target = self._target()
        rank = len(target._kernel.shape)
        if self.dim is None or self.dim == -1:
            self.axes, g_shape = list(range(rank)), ()
        else:
            # torch's axis -> Keras's: Dense's kernel is (in, out), a conv's (*k, in, out)
            order = [1, 0] if rank == 2 else [rank - 1, rank - 2, *range(rank - 2)]
            axis = order[self.dim % rank]
            self.axes = [a for a in range(rank) if a != axis]
            g_shape = tuple(
                target._kernel.shape[a] if a == axis else 1 for a in range(rank)
            )
        initializer = self.g_initializer
        if initializer is None:  # torch starts from g = ||v|| (v drawn first)

            def initializer(shape, dtype=None):
                return tf.cast(tf.reshape(self._norm(target._kernel), shape), dtype)

        self.g = self.add_weight(
            name="g", shape=g_shape, initializer=initializer, trainable=self.g_trainable
        )
        self.built = True

    def _norm(self, v):
        keep = len(self.axes) < len(v.shape)
        return tf.sqrt(tf.reduce_sum(tf.square(v), axis=self.axes, keepdims=keep))

    def call(self, inputs):
        target = self._target()
        v = target._kernel
        kernel = v * (self.g / self._norm(v))
        # the layer's own op, on this kernel
        object.__setattr__(target, "_kernel", kernel)
        try:
            return self.layer(inputs)
        finally:
            object.__setattr__(target, "_kernel", v)

    def compute_output_shape(self, input_shape):
        return self.layer.compute_output_shape(input_shape)

    def get_config(self):
        g_initializer = None
        if self.g_initializer is not None:
            g_initializer = tf.keras.initializers.serialize(self.g_initializer)
        return {
            **super().get_config(),
            "dim": self.dim,
            "g_initializer": g_initializer,
            "g_trainable": self.g_trainable,
        }


@tf.keras.utils.register_keras_serializable(package="tcn_weight_norm")
class DilatedBlock(tf.keras.Model):
    def __init__(self, n_in, n_out, kernel_size, dilation, dropout=0.1):
        super().__init__()
        self.init_arguments = {
            "n_in": n_in,
            "n_out": n_out,
            "kernel_size": kernel_size,
            "dilation": dilation,
            "dropout": dropout,
        }
        pad = dilation * (kernel_size - 1) // 2
        self.conv1 = TorchWeightNorm(
            torch_padded(
                tf.keras.layers.Conv1D(
                    n_out,
                    kernel_size,
                    dilation_rate=dilation,
                    kernel_initializer=torch_default_kernel(),
                    bias_initializer=torch_default_bias(
                        torch_fan_in(n_in, kernel_size, 1, 1)
                    ),
                ),
                pad,
                1,
            ),
            dim=0,
            name="conv1",
        )
        self.drop1 = tf.keras.layers.Dropout(dropout, name="drop1")
        self.conv2 = TorchWeightNorm(
            torch_padded(
                tf.keras.layers.Conv1D(
                    n_out,
                    kernel_size,
                    dilation_rate=dilation,
                    kernel_initializer=torch_default_kernel(),
                    bias_initializer=torch_default_bias(
                        torch_fan_in(n_out, kernel_size, 1, 1)
                    ),
                ),
                pad,
                1,
            ),
            dim=1,
            name="conv2",
        )
        self.drop2 = tf.keras.layers.Dropout(dropout, name="drop2")
        self.skip = tf.keras.layers.Conv1D(
            n_out,
            1,
            kernel_initializer=torch_default_kernel(),
            bias_initializer=torch_default_bias(n_in),
            name="skip",
        )

    def get_config(self):
        """The constructor's arguments: load_model rebuilds the model from them."""
        return config_from_arguments(self.init_arguments)

    @classmethod
    def from_config(cls, config):
        """The model get_config describes (its classes and layers rebuilt)."""
        return cls(**arguments_from_config(config))

    def call(self, x, training=None):
        out = self.drop1(tf.nn.relu(self.conv1(x)), training=training)
        out = self.drop2(tf.nn.relu(self.conv2(out)), training=training)
        return tf.nn.relu(out + self.skip(x))


@tf.keras.utils.register_keras_serializable(package="tcn_weight_norm")
class TinyTCN(tf.keras.Model):
    def __init__(self, channels=3, hidden=8, classes=4, kernel_size=3):
        super().__init__()
        self.init_arguments = {
            "channels": channels,
            "hidden": hidden,
            "classes": classes,
            "kernel_size": kernel_size,
        }
        self.block1 = DilatedBlock(channels, hidden, kernel_size, dilation=1)
        self.block2 = DilatedBlock(hidden, hidden, kernel_size, dilation=2)
        self.head = TorchWeightNorm(
            tf.keras.layers.Dense(
                classes,
                kernel_initializer=torch_default_kernel(),
                bias_initializer=torch_default_bias(hidden),
            ),
            dim=None,
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
        y = self.block2(self.block1(x, training=training), training=training)
        return self.head(tf.reduce_mean(y, axis=1))
