"""Initialisers and init-loop helpers: torch's default draws and its nn.init run on Keras layers."""

import math

import tensorflow as tf


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
class TorchDepthwiseInit(tf.keras.initializers.Initializer):
    """A depthwise kernel (*k, C, m) drawn with torch's fans (k and C*m*k; Keras would read k*C
    and k*m): drawn as a (*k, 1, C*m) kernel, whose output c*m+j is group c's j-th."""

    def __init__(self, initializer):
        self.initializer = tf.keras.initializers.get(initializer)

    def __call__(self, shape, dtype=None):
        *kernel, channels, multiplier = shape
        values = self.initializer((*kernel, 1, channels * multiplier), dtype=dtype)
        return tf.reshape(values, shape)

    def get_config(self):
        return {"initializer": tf.keras.initializers.serialize(self.initializer)}


@tf.keras.utils.register_keras_serializable(package="torch2tf")
class TorchTruncatedNormal(tf.keras.initializers.Initializer):
    """torch's trunc_normal_: a normal cut at the absolute bounds [a, b] (Keras's
    TruncatedNormal cuts at mean +- 2 std), drawn by the inverse CDF as torch draws it."""

    def __init__(self, mean, std, a, b):
        self.mean, self.std, self.a, self.b = float(mean), float(std), float(a), float(b)

    def __call__(self, shape, dtype=None):
        def cdf(x):
            return (1.0 + math.erf((x - self.mean) / self.std / math.sqrt(2.0))) / 2.0

        low, high = 2 * cdf(self.a) - 1, 2 * cdf(self.b) - 1
        dtype = dtype or tf.keras.backend.floatx()
        u = tf.random.uniform(shape, low, high, dtype=dtype)
        values = tf.math.erfinv(u) * (self.std * math.sqrt(2.0)) + self.mean
        return tf.clip_by_value(values, self.a, self.b)

    def get_config(self):
        return {"mean": self.mean, "std": self.std, "a": self.a, "b": self.b}


@tf.keras.utils.register_keras_serializable(package="torch2tf")
class TorchInPlace(tf.keras.initializers.Initializer):
    """An init then torch's in-place elementwise ops on its values, in order (``w.uniform_(l,
    u); w.erfinv_(); w.mul_(s)``): Keras initializers take no ops after drawing."""

    def __init__(self, initializer, ops):
        self.initializer = tf.keras.initializers.get(initializer)
        self.ops = [tuple(op) for op in ops]

    def __call__(self, shape, dtype=None):
        x = self.initializer(shape, dtype=dtype)
        for name, *args in self.ops:
            if name in ("mul", "div", "add", "sub"):
                other = tf.cast(args[0], x.dtype)
                x = {"mul": x * other, "div": x / other, "add": x + other, "sub": x - other}[name]
            elif name == "clamp":
                low, high = args
                x = x if low is None else tf.maximum(x, tf.cast(low, x.dtype))
                x = x if high is None else tf.minimum(x, tf.cast(high, x.dtype))
            else:  # erfinv, exp, log, abs, negative, sqrt, tanh, sigmoid
                x = getattr(tf.math, name)(x)
        return x

    def get_config(self):
        return {
            "initializer": tf.keras.initializers.serialize(self.initializer),
            "ops": [list(op) for op in self.ops],
        }


@tf.keras.utils.register_keras_serializable(package="torch2tf")
class TorchSlices(tf.keras.initializers.Initializer):
    """Draws each slice w[i] of a stacked variable on its own, as a torch loop of inits over
    ``w[i]`` does: fans (and orthogonality) are those of one slice."""

    def __init__(self, initializer):
        self.initializer = tf.keras.initializers.get(initializer)

    def __call__(self, shape, dtype=None):
        return tf.stack([self.initializer(shape[1:], dtype=dtype) for _ in range(shape[0])])

    def get_config(self):
        return {"initializer": tf.keras.initializers.serialize(self.initializer)}


def torch_fan_in(in_channels, kernel_size, groups, dims):
    """torch's fan-in of a conv kernel, in/groups * prod(kernel), for its default bias bound."""
    if isinstance(kernel_size, int):
        kernel_size = (kernel_size,) * dims
    return in_channels // groups * math.prod(kernel_size)


def torch_modules(model):
    """torch's model.modules(): the model and every layer inside it (in Keras's order)."""
    return model._flatten_layers(include_self=True, recursive=True)


def torch_init(layer, variable, initializer):
    """torch's nn.init on a layer's tensor after construction: the initializer of a layer not
    built yet (Keras creates its variables later), new values for one that is."""
    # a depthwise conv's torch weight: Keras's depthwise kernel, drawn with torch's fans
    depthwise = (tf.keras.layers.DepthwiseConv1D, tf.keras.layers.DepthwiseConv2D)
    if isinstance(layer, tf.keras.Sequential):  # a layer behind its padding: that layer
        (layer,) = [
            inner
            for inner in layer.layers
            if hasattr(inner, f"{variable}_initializer") or isinstance(inner, depthwise)
        ]
    name = variable
    if isinstance(layer, depthwise) and variable == "kernel":
        initializer, name = TorchDepthwiseInit(initializer), "depthwise"
    if layer.built:
        value = getattr(layer, variable)
        value.assign(initializer(value.shape, value.dtype))
    elif hasattr(layer, f"{name}_initializer"):
        setattr(layer, f"{name}_initializer", initializer)
    else:
        raise TypeError(f"{type(layer).__name__} has no {variable} to initialise")


def torch_has(layer, variable):
    """Whether a layer has (or will build) a variable: torch's ``m.bias is not None``."""
    flag = {"gamma": "scale", "beta": "center", "bias": "use_bias"}.get(variable)
    return getattr(layer, flag, True) if flag else True
