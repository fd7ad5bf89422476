"""Tabular blocks in pytorch-tabnet's style: init functions with a computed gain applied to a
layer that may be shared (passed in) or new, and ghost batch norm over virtual batches."""

import math

import numpy as np
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


class TorchStaticShape(tuple):
    """x.shape where torch computes with a size as a Python number (int(np.ceil(x.shape[0] /
    n))): a size TensorFlow leaves open (None) has no such value, said at its source line."""

    def __new__(cls, x, where):
        shape = super().__new__(cls, tuple(x.shape))
        shape.where = where
        return shape

    def __getitem__(self, index):
        size = super().__getitem__(index)
        if size is None or (isinstance(size, tuple) and None in size):
            raise ValueError(
                f"{self.where}: torch computes with this size as a Python number and TensorFlow "
                "has none here (a dimension left open, such as a SavedModel's batch): call the "
                "model on inputs of known shape (eagerly, or tf.function with a fixed shape)"
            )
        return size


def torch_chunk(x, chunks, dim=0):
    """torch.chunk: pieces of ceil(n / chunks), so maybe fewer pieces; tf.split needs equal ones."""
    total = x.shape[dim]
    if total is None:
        raise ValueError(f"torch.chunk needs a static size for dim {dim}")
    size = max(-(-total // chunks), 1)
    sizes = [size] * (total // size)
    if total % size:
        sizes.append(total % size)
    return tf.split(x, sizes, axis=dim)


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


@tf.keras.utils.register_keras_serializable(package="ghost_blocks")
class GhostNorm(tf.keras.Model):
    """Batch norm over virtual batches: torch.chunk into ceil(B / size) pieces."""

    def __init__(self, features, virtual_batch=8, momentum=0.05):
        super().__init__()
        self.init_arguments = {
            "features": features,
            "virtual_batch": virtual_batch,
            "momentum": momentum,
        }
        self.virtual_batch = virtual_batch
        self.norm = TorchBatchNorm(momentum=1 - (momentum), epsilon=1e-05, name="norm")

    def get_config(self):
        """The constructor's arguments: load_model rebuilds the model from them."""
        return config_from_arguments(self.init_arguments)

    @classmethod
    def from_config(cls, config):
        """The model get_config describes (its classes and layers rebuilt)."""
        return cls(**arguments_from_config(config))

    def call(self, x, training=None):
        pieces = torch_chunk(
            x,
            int(
                np.ceil(
                    TorchStaticShape(x, "ghost_blocks.py:23:38")[0] / self.virtual_batch
                )
            ),
        )
        return tf.concat(
            [self.norm(piece, training=training) for piece in pieces], axis=0
        )


@tf.keras.utils.register_keras_serializable(package="ghost_blocks")
class GatedUnit(tf.keras.Model):
    def __init__(self, d_in, d_out, shared=None, virtual_batch=8):
        super().__init__()
        self.init_arguments = {
            "d_in": d_in,
            "d_out": d_out,
            "shared": shared,
            "virtual_batch": virtual_batch,
        }
        self.d_out = d_out
        if shared:
            self.proj = shared
        else:
            self.proj = tf.keras.layers.Dense(
                2 * d_out,
                use_bias=False,
                kernel_initializer=torch_default_kernel(),
                name="proj",
            )
        # torch's init after construction: the Keras layer's, before it is built
        torch_init(
            self.proj,
            "kernel",
            tf.keras.initializers.VarianceScaling(
                (math.sqrt((d_in + (2 * d_out)) / math.sqrt(d_in))) ** 2,
                "fan_avg",
                "untruncated_normal",
            ),
        )
        self.norm = GhostNorm(2 * d_out, virtual_batch)

    def get_config(self):
        """The constructor's arguments: load_model rebuilds the model from them."""
        return config_from_arguments(self.init_arguments)

    @classmethod
    def from_config(cls, config):
        """The model get_config describes (its classes and layers rebuilt)."""
        return cls(**arguments_from_config(config))

    def call(self, x, training=None):
        h = self.norm(self.proj(x), training=training)
        return h[:, : self.d_out] * tf.sigmoid(h[:, self.d_out :])


@tf.keras.utils.register_keras_serializable(package="ghost_blocks")
class SharedGates(tf.keras.Model):
    """Two stacks of gated units sharing their first projection."""

    def __init__(self, d_in, d_out, virtual_batch=8):
        super().__init__()
        self.init_arguments = {
            "d_in": d_in,
            "d_out": d_out,
            "virtual_batch": virtual_batch,
        }
        first = tf.keras.layers.Dense(
            2 * d_out, use_bias=False, kernel_initializer=torch_default_kernel()
        )
        self.left = GatedUnit(d_in, d_out, shared=first, virtual_batch=virtual_batch)
        self.right = GatedUnit(d_in, d_out, shared=first, virtual_batch=virtual_batch)
        self.head = GatedUnit(d_out, d_out, virtual_batch=virtual_batch)

    def get_config(self):
        """The constructor's arguments: load_model rebuilds the model from them."""
        return config_from_arguments(self.init_arguments)

    @classmethod
    def from_config(cls, config):
        """The model get_config describes (its classes and layers rebuilt)."""
        return cls(**arguments_from_config(config))

    def call(self, x, training=None):
        return self.head(
            self.left(x, training=training) + self.right(x, training=training),
            training=training,
        )


@tf.keras.utils.register_keras_serializable(package="ghost_blocks")
class Heads(tf.keras.Model):
    """One head, or one per task (a local layer initialised, then appended, in a loop); the
    features mixed by a fixed matrix (the identity by default)."""

    def __init__(self, d_in, out, mix=None):
        super().__init__()
        self.init_arguments = {"d_in": d_in, "out": out, "mix": mix}
        self.multi = isinstance(out, list)
        self.mix = tf.eye(d_in) if mix is None else mix
        if self.multi:
            self.heads = []
            for d_out in out:
                head = tf.keras.layers.Dense(
                    d_out,
                    kernel_initializer=torch_default_kernel(),
                    bias_initializer=torch_default_bias(d_in),
                )
                # torch's init after construction: the Keras layer's, before it is built
                torch_init(
                    head,
                    "kernel",
                    tf.keras.initializers.VarianceScaling(
                        (math.sqrt((d_in + d_out) / math.sqrt(d_in))) ** 2,
                        "fan_avg",
                        "untruncated_normal",
                    ),
                )
                self.heads.append(head)
        else:
            self.head = tf.keras.layers.Dense(
                out,
                kernel_initializer=torch_default_kernel(),
                bias_initializer=torch_default_bias(d_in),
                name="head",
            )
            # torch's init after construction: the Keras layer's, before it is built
            torch_init(
                self.head,
                "kernel",
                tf.keras.initializers.VarianceScaling(
                    (math.sqrt((d_in + out) / math.sqrt(d_in))) ** 2,
                    "fan_avg",
                    "untruncated_normal",
                ),
            )
        # Create the weights now, as torch does at construction.
        self(tf.keras.Input(shape=(d_in,)))

    def get_config(self):
        """The constructor's arguments: load_model rebuilds the model from them."""
        return config_from_arguments(self.init_arguments)

    @classmethod
    def from_config(cls, config):
        """The model get_config describes (its classes and layers rebuilt)."""
        return cls(**arguments_from_config(config))

    def call(self, x, training=None):
        x = tf.matmul(x, self.mix)
        if self.multi:
            return [head(x) for head in self.heads]
        return self.head(x)
