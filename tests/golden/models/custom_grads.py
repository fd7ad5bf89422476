"""Custom autograd functions (torch.autograd.Function) in the styles real code writes them:
a saved tensor and a setting on ctx, a straight-through estimator, an input without gradient,
and a sparse normaliser built from sort, cumsum, gather and a masked assignment."""

import math

import tensorflow as tf


# torch2tf helpers: exact Keras versions of torch behaviour Keras lacks.
class TorchFunctionContext:
    """torch's ``ctx`` of an autograd.Function: attributes set in forward, read in backward."""

    def save_for_backward(self, *tensors):
        self.saved_tensors = tensors


class TorchFunction:
    """torch.autograd.Function: ``apply`` runs the static ``forward(ctx, ...)`` under
    tf.custom_gradient, whose gradient is the class's ``backward(ctx, *grads)``."""

    @classmethod
    def apply(cls, *args):
        # tensor arguments get gradients; the others (dim=-1) are passed as they are
        tensors = [i for i, arg in enumerate(args) if tf.is_tensor(arg)]
        ctx = TorchFunctionContext()

        @tf.custom_gradient
        def run(*inputs):
            given = list(args)
            for i, value in zip(tensors, inputs, strict=True):
                given[i] = value
            output = cls.forward(ctx, *given)

            def gradient(*upstream):
                grads = cls.backward(ctx, *upstream)
                grads = grads if isinstance(grads, tuple) else (grads,)
                # torch's None: no gradient for that input
                return [grads[i] if i < len(grads) else None for i in tensors]

            return output, gradient

        return run(*[tf.convert_to_tensor(args[i]) for i in tensors])


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


def torch_max(x, dim, keepdim=False):
    """torch.max(x, dim) gives (values, indices); TensorFlow computes them with two ops.
    torch.max(x, y) with y a tensor (the source does not tell which): elementwise."""
    if not hasattr(dim, "__index__") or tf.is_tensor(dim):  # not a Python or NumPy int
        return tf.maximum(x, dim)
    values = tf.reduce_max(x, axis=dim, keepdims=keepdim)
    indices = tf.argmax(x, axis=dim)
    if keepdim:
        indices = tf.expand_dims(indices, dim)
    return values, indices


def torch_sort(x, dim=-1, descending=False):
    """torch.sort gives (values, int64 indices); TensorFlow computes them with two ops."""
    direction = "DESCENDING" if descending else "ASCENDING"
    indices = tf.argsort(x, axis=dim, direction=direction, stable=True)
    return tf.sort(x, axis=dim, direction=direction), tf.cast(indices, tf.int64)


def torch_gather(x, dim, index):
    """torch.gather: values of x at index along dim; the other dims are batch dims (index may
    be shorter there: x is cut to its size first, as torch reads only that part)."""
    rank = len(x.shape)
    dim = dim % rank
    x = tf.slice(
        x, [0] * rank, [-1 if d == dim else tf.shape(index)[d] for d in range(rank)]
    )
    order = [d for d in range(rank) if d != dim] + [dim]
    picked = tf.gather(
        tf.transpose(x, order),
        tf.transpose(index, order),
        axis=rank - 1,
        batch_dims=rank - 1,
    )
    return tf.transpose(picked, tf.math.invert_permutation(order))


def torch_mask_assign(x, mask, value):
    """x[mask] = value (a boolean mask over x's leading dims, a number): x with value where
    mask holds, as a new tensor (TensorFlow tensors cannot be assigned into)."""
    mask = tf.convert_to_tensor(mask)
    extra = len(x.shape) - len(mask.shape)
    mask = tf.reshape(mask, tf.concat([tf.shape(mask), tf.ones([extra], tf.int32)], 0))
    return tf.where(mask, tf.cast(value, x.dtype), x)


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


class SoftClip(TorchFunction):
    """x * limit / (limit + |x|), with a gradient that ignores the clipping (by design)."""

    @staticmethod
    def forward(ctx, x, limit=2.0):
        ctx.limit = limit
        ctx.save_for_backward(x)
        return x * limit / (limit + tf.abs(x))

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        inside = tf.cast(tf.abs(x) < ctx.limit, grad.dtype)
        return grad * inside, None


class RoundThrough(TorchFunction):
    @staticmethod
    def forward(ctx, x):
        return tf.round(x)

    @staticmethod
    def backward(ctx, grad):
        return grad


class Gate(TorchFunction):
    """a * sigmoid(b): the gradient reaches a only."""

    @staticmethod
    def forward(ctx, a, b):
        g = tf.sigmoid(b)
        ctx.save_for_backward(g)
        return a * g

    @staticmethod
    def backward(ctx, grad):
        (g,) = ctx.saved_tensors
        return grad * g, None


def _ranks(z, dim):
    """1, 2, ..., n along dim, shaped to broadcast against z."""
    n = tf.keras.ops.shape(z)[dim]
    shape = [1] * len(z.shape)
    shape[dim] = -1
    return tf.reshape(tf.range(1, n + 1, dtype=z.dtype), shape)


class SparseNorm(TorchFunction):
    """Projection onto the simplex along dim: values sum to 1, many exactly 0."""

    @staticmethod
    def forward(ctx, z, dim=-1):
        ctx.dim = dim
        z = z - torch_max(z, dim, keepdim=True)[0]
        ordered, _ = torch_sort(z, dim, descending=True)
        running = tf.math.cumsum(ordered, axis=dim) - 1
        kept = _ranks(z, dim) * ordered > running
        count = tf.reduce_sum(tf.cast(kept, tf.int64), axis=dim, keepdims=True)
        threshold = torch_gather(running, dim, count - 1) / tf.cast(count, z.dtype)
        out = tf.maximum(z - threshold, 0)
        ctx.save_for_backward(out, count)
        return out

    @staticmethod
    def backward(ctx, grad):
        out, count = ctx.saved_tensors
        g = tf.identity(grad)
        g = torch_mask_assign(g, out == 0, 0)
        mean = tf.reduce_sum(g, axis=ctx.dim, keepdims=True) / tf.cast(count, g.dtype)
        return tf.where(out > 0, g - mean, g), None


@tf.keras.utils.register_keras_serializable(package="custom_grads")
class ClipNet(tf.keras.Model):
    def __init__(self, d):
        super().__init__()
        self.init_arguments = {"d": d}
        self.fc = tf.keras.layers.Dense(
            d,
            kernel_initializer=torch_default_kernel(),
            bias_initializer=torch_default_bias(d),
            name="fc",
        )
        # Create the weights now, as torch does at construction.
        self(tf.keras.Input(shape=(d,)))

    def get_config(self):
        """The constructor's arguments: load_model rebuilds the model from them."""
        return config_from_arguments(self.init_arguments)

    @classmethod
    def from_config(cls, config):
        """The model get_config describes (its classes and layers rebuilt)."""
        return cls(**arguments_from_config(config))

    def call(self, x, training=None):
        return SoftClip.apply(self.fc(x), 1.5) + RoundThrough.apply(x)


@tf.keras.utils.register_keras_serializable(package="custom_grads")
class GateNet(tf.keras.Model):
    def __init__(self, d):
        super().__init__()
        self.init_arguments = {"d": d}
        self.a = tf.keras.layers.Dense(
            d,
            kernel_initializer=torch_default_kernel(),
            bias_initializer=torch_default_bias(d),
            name="a",
        )
        self.b = tf.keras.layers.Dense(
            d,
            kernel_initializer=torch_default_kernel(),
            bias_initializer=torch_default_bias(d),
            name="b",
        )
        # Create the weights now, as torch does at construction.
        self(tf.keras.Input(shape=(d,)))

    def get_config(self):
        """The constructor's arguments: load_model rebuilds the model from them."""
        return config_from_arguments(self.init_arguments)

    @classmethod
    def from_config(cls, config):
        """The model get_config describes (its classes and layers rebuilt)."""
        return cls(**arguments_from_config(config))

    def call(self, x, training=None):
        return Gate.apply(self.a(x), self.b(x))


sparse_norm = SparseNorm.apply


@tf.keras.utils.register_keras_serializable(package="custom_grads")
class SparseAttention(tf.keras.Model):
    def __init__(self, d, groups):
        super().__init__()
        self.init_arguments = {"d": d, "groups": groups}
        self.fc = tf.keras.layers.Dense(
            groups,
            kernel_initializer=torch_default_kernel(),
            bias_initializer=torch_default_bias(d),
            name="fc",
        )
        self.norm = TorchBatchNorm(momentum=0.9, epsilon=1e-05, name="norm")
        # never called: its weights exist all the same
        self.unused_norm = TorchBatchNorm(
            momentum=0.9, epsilon=1e-05, name="unused_norm"
        )
        # never called: built now, so that its weights exist as torch's do
        self.unused_norm.build((None, d))

    def get_config(self):
        """The constructor's arguments: load_model rebuilds the model from them."""
        return config_from_arguments(self.init_arguments)

    @classmethod
    def from_config(cls, config):
        """The model get_config describes (its classes and layers rebuilt)."""
        return cls(**arguments_from_config(config))

    def call(self, x, training=None):
        return sparse_norm(self.norm(self.fc(x), training=training), -1)
