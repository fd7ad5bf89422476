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
class TorchBatchNorm(tf.keras.layers.BatchNormalization):
    """torch's BatchNorm: channel axis 1, running variance from the unbiased batch variance."""

    def __init__(self, axis=1, momentum=0.9, epsilon=1e-5, track_running_stats=True, **kwargs):
        super().__init__(axis=axis, momentum=momentum, epsilon=epsilon, **kwargs)
        self.track_running_stats = track_running_stats

    def build(self, input_shape):
        if self.axis % len(input_shape) == len(input_shape) - 1:
            # the same axis; Keras reshapes at every call for any other value
            self.axis = -1
        super().build(input_shape)

    def call(self, inputs, training=None):
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

    def get_config(self):
        return {**super().get_config(), "track_running_stats": self.track_running_stats}


def torch_normalized_axes(normalized_shape):
    """Keras axes for torch's normalized_shape (an int or trailing sizes)."""
    if isinstance(normalized_shape, (tuple, list)):  # torch.Size is a tuple
        return list(range(-len(normalized_shape), 0))
    return -1


@tf.keras.utils.register_keras_serializable(package="torch2tf")
class TorchRMSNorm(tf.keras.layers.RMSNormalization):
    """torch's RMSNorm: eps=None is the dtype's epsilon; the scale is optional."""

    def __init__(self, axis=-1, epsilon=None, scale=True, **kwargs):
        super().__init__(axis=axis, epsilon=epsilon, **kwargs)
        self.use_scale = scale

    def build(self, input_shape):
        if self.use_scale:
            super().build(input_shape)
        self.built = True

    def call(self, inputs):
        epsilon = self.epsilon
        if epsilon is None:  # torch computes half precision in float32, as Keras does
            epsilon = 2.0**-52 if inputs.dtype == tf.float64 else 2.0**-23
        scale = self.scale if self.use_scale else None
        return tf.keras.ops.rms_normalization(inputs, scale, self.axis, epsilon)

    def get_config(self):
        return {**super().get_config(), "scale": self.use_scale}


@tf.keras.utils.register_keras_serializable(package="torch2tf")
class TorchEmbeddingInit(tf.keras.initializers.Initializer):
    """torch's Embedding init N(0, 1), padding row zeroed; Keras's: U(+-0.05)."""

    def __init__(self, padding_idx=None):
        self.padding_idx = padding_idx

    def __call__(self, shape, dtype=None):
        values = tf.keras.initializers.RandomNormal(0.0, 1.0)(shape, dtype=dtype)
        if self.padding_idx is None:
            return values
        keep = tf.one_hot(self.padding_idx % shape[0], shape[0], 0.0, 1.0, dtype=values.dtype)
        return values * keep[:, None]

    def get_config(self):
        return {"padding_idx": self.padding_idx}


@tf.keras.utils.register_keras_serializable(package="torch2tf")
class PaddedEmbedding(tf.keras.layers.Embedding):
    """torch's Embedding(padding_idx): that row never gets a gradient."""

    def __init__(self, input_dim, output_dim, padding_idx=None, **kwargs):
        kwargs.setdefault("embeddings_initializer", TorchEmbeddingInit(padding_idx))
        super().__init__(input_dim, output_dim, **kwargs)
        if padding_idx is not None and padding_idx < 0:
            padding_idx += input_dim
        self.padding_idx = padding_idx

    def call(self, inputs):
        outputs = super().call(inputs)
        if self.padding_idx is None:
            return outputs
        is_padding = tf.expand_dims(tf.equal(inputs, tf.cast(self.padding_idx, inputs.dtype)), -1)
        return tf.where(is_padding, tf.stop_gradient(outputs), outputs)

    def get_config(self):
        return {**super().get_config(), "padding_idx": self.padding_idx}


@tf.keras.utils.register_keras_serializable(package="torch2tf")
class TorchFlatten(tf.keras.layers.Layer):
    """torch's Flatten(start_dim, end_dim); Keras's merges all axes after 0."""

    def __init__(self, start_dim=1, end_dim=-1, **kwargs):
        super().__init__(**kwargs)
        self.start_dim = start_dim
        self.end_dim = end_dim

    def call(self, inputs):
        shape = [n if n is not None else tf.shape(inputs)[i] for i, n in enumerate(inputs.shape)]
        if not shape:  # torch flattens a scalar into shape (1,)
            return tf.reshape(inputs, [1])
        start, end = self.start_dim % len(shape), self.end_dim % len(shape)
        if start > end:
            raise ValueError("flatten: start_dim cannot come after end_dim")
        merged = 1
        for size in shape[start : end + 1]:
            merged *= size
        return tf.reshape(inputs, shape[:start] + [merged] + shape[end + 1 :])

    def get_config(self):
        return {**super().get_config(), "start_dim": self.start_dim, "end_dim": self.end_dim}


@tf.keras.utils.register_keras_serializable(package="torch2tf")
class TorchUnflatten(tf.keras.layers.Layer):
    """torch's Unflatten splits one axis; Keras's Reshape restates them all."""

    def __init__(self, dim, unflattened_size, **kwargs):
        super().__init__(**kwargs)
        self.dim = dim
        self.unflattened_size = tuple(unflattened_size)

    def call(self, inputs):
        shape = [n if n is not None else tf.shape(inputs)[i] for i, n in enumerate(inputs.shape)]
        dim = self.dim % len(shape)
        return tf.reshape(inputs, shape[:dim] + list(self.unflattened_size) + shape[dim + 1 :])

    def get_config(self):
        config = {"dim": self.dim, "unflattened_size": self.unflattened_size}
        return {**super().get_config(), **config}


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
            name="alpha", shape=(self.num_parameters,), initializer=self.alpha_initializer
        )

    def call(self, inputs):
        rank = len(inputs.shape)
        alpha = tf.reshape(self.alpha, [-1] + [1] * (rank - 2)) if rank > 1 else self.alpha
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
        return tf.where(scaled > self.threshold, inputs, tf.math.softplus(scaled) / self.beta)

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
        return {**super().get_config(), "min_val": self.min_val, "max_val": self.max_val}


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


def torch_variable(layer, name, value, trainable):
    """A variable holding a computed tensor: torch's nn.Parameter / register_buffer of one."""
    value = tf.convert_to_tensor(value)
    return layer.add_weight(
        name=name,
        shape=value.shape,
        dtype=value.dtype,
        trainable=trainable,
        initializer=lambda shape, dtype: tf.cast(value, dtype),
    )


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


def torch_named_layers(layers):
    """nn.Sequential(OrderedDict(...)) with computed keys: each layer named by its key, as Keras
    finds a Sequential's layers by name where torch finds them by key (``mlp.fc0.weight``)."""
    for name, layer in layers.items():
        layer.name = name
    return list(layers.values())


def torch_fan_in(in_channels, kernel_size, groups, dims):
    """torch's fan-in of a conv kernel, in/groups * prod(kernel), for its default bias bound."""
    if isinstance(kernel_size, int):
        kernel_size = (kernel_size,) * dims
    return in_channels // groups * math.prod(kernel_size)


@tf.keras.utils.register_keras_serializable(package="torch2tf")
class TorchPadding(tf.keras.layers.Layer):
    """Pads the spatial axes of a channels-last map with a constant (torch pads a max pool
    with -inf); Keras's ZeroPadding layers pad with zeros only."""

    def __init__(self, padding, value=0.0, **kwargs):
        super().__init__(**kwargs)
        self.padding = padding
        self.value = value

    def call(self, inputs):
        spatial = len(inputs.shape) - 2
        pads = self.padding if isinstance(self.padding, (tuple, list)) else [self.padding] * spatial
        paddings = [[0, 0]] + [[p, p] for p in pads] + [[0, 0]]
        return tf.pad(inputs, paddings, constant_values=tf.cast(self.value, inputs.dtype))

    def get_config(self):
        return {**super().get_config(), "padding": self.padding, "value": self.value}


def torch_channel_dropout(x, rate):
    """torch's F.dropout1d/2d: whole channels of a channels-last map dropped, as one."""
    shape = tf.shape(x)
    keep = tf.concat([shape[:1], tf.ones_like(shape[1:-1]), shape[-1:]], axis=0)
    return tf.nn.dropout(x, rate=rate, noise_shape=keep)


def torch_interpolate(x, size=None, scale_factor=None, mode="nearest", align_corners=False):
    """torch's F.interpolate of a channels-last map, axis by axis with torch's source indices
    and float32 weights (nearest: floor(dst * in/out), not TF's half-pixel rule)."""
    spatial = len(x.shape) - 2
    sizes = size if isinstance(size, (tuple, list)) or size is None else [size] * spatial
    scales = scale_factor
    if scales is not None and not isinstance(scales, (tuple, list)):
        scales = [scales] * spatial
    for axis in range(1, spatial + 1):
        n = x.shape[axis]
        if n is None:
            raise ValueError("torch_interpolate needs static spatial sizes")
        out = sizes[axis - 1] if sizes is not None else math.floor(n * scales[axis - 1])
        if scales is not None:
            step = tf.constant(1.0 / scales[axis - 1], tf.float32)
        else:
            step = tf.constant(n, tf.float32) / tf.constant(out, tf.float32)
        dst = tf.range(out, dtype=tf.float32)
        if mode in ("nearest", "nearest-exact"):
            where = dst + 0.5 if mode == "nearest-exact" else dst
            index = tf.minimum(tf.cast(tf.floor(where * step), tf.int32), n - 1)
            x = tf.gather(x, index, axis=axis)
            continue
        if align_corners:
            ratio = (n - 1) / (out - 1) if out > 1 else 0.0
            source = dst * tf.constant(ratio, tf.float32)
        else:
            source = tf.maximum(step * (dst + 0.5) - 0.5, 0.0)
        low = tf.cast(source, tf.int32)  # source >= 0: truncation is floor
        high = tf.minimum(low + 1, n - 1)
        weight = source - tf.cast(low, tf.float32)
        shape = [1] * len(x.shape)
        shape[axis] = out
        weight = tf.cast(tf.reshape(weight, shape), x.dtype)
        x = tf.gather(x, low, axis=axis) * (1 - weight) + tf.gather(x, high, axis=axis) * weight
    return x


@tf.keras.utils.register_keras_serializable(package="torch2tf")
class TorchUpsample(tf.keras.layers.Layer):
    """torch's nn.Upsample on a channels-last map (see torch_interpolate)."""

    def __init__(self, size=None, scale_factor=None, mode="nearest", align_corners=False, **kw):
        super().__init__(**kw)
        self.size = size
        self.scale_factor = scale_factor
        self.mode = mode
        self.align_corners = align_corners

    def call(self, inputs):
        return torch_interpolate(
            inputs, self.size, self.scale_factor, self.mode, self.align_corners
        )

    def get_config(self):
        return {
            **super().get_config(),
            "size": self.size,
            "scale_factor": self.scale_factor,
            "mode": self.mode,
            "align_corners": self.align_corners,
        }


def torch_pad(x, pad, mode="constant", value=0.0, channels_last=False):
    """torch's F.pad: ``pad`` pairs from the last torch dim backwards; on a channels-last map
    they are its spatial axes. Modes as torch's: constant, reflect, replicate, circular."""
    rank = len(x.shape)
    last = rank - 2 if channels_last else rank - 1
    for k in range(len(pad) // 2):
        before, after, axis = pad[2 * k], pad[2 * k + 1], last - k
        if mode == "constant":
            paddings = [[0, 0]] * rank
            paddings[axis] = [before, after]
            x = tf.pad(x, paddings, constant_values=tf.cast(value or 0.0, x.dtype))
            continue
        n = x.shape[axis]
        index = tf.range(-before, n + after)
        if mode == "reflect":
            index = tf.abs(index)
            index = (n - 1) - tf.abs((n - 1) - index)
        elif mode == "replicate":
            index = tf.clip_by_value(index, 0, n - 1)
        elif mode == "circular":
            index = tf.math.floormod(index, n)
        else:
            raise ValueError(f"torch_pad: unknown mode {mode!r}")
        x = tf.gather(x, index, axis=axis)
    return x


@tf.keras.utils.register_keras_serializable(package="torch2tf")
class TorchPad(tf.keras.layers.Layer):
    """torch's padding layers and conv padding modes on a channels-last map (see torch_pad)."""

    def __init__(self, pad, mode="constant", value=0.0, **kwargs):
        super().__init__(**kwargs)
        self.pad = list(pad)
        self.mode = mode
        self.value = value

    def call(self, inputs):
        return torch_pad(inputs, self.pad, self.mode, self.value, channels_last=True)

    def get_config(self):
        config = {"pad": self.pad, "mode": self.mode, "value": self.value}
        return {**super().get_config(), **config}


@tf.keras.utils.register_keras_serializable(package="torch2tf")
class TorchPixelShuffle(tf.keras.layers.Layer):
    """torch's PixelShuffle (or, with unshuffle, PixelUnshuffle) on NHWC: torch orders the
    channels (C, r, r), TF's depth_to_space (r, r, C)."""

    def __init__(self, factor, unshuffle=False, **kwargs):
        super().__init__(**kwargs)
        self.factor = factor
        self.unshuffle = unshuffle

    def call(self, inputs):
        r = self.factor
        dynamic = tf.shape(inputs)
        h, w, c = (s if s is not None else dynamic[i + 1] for i, s in enumerate(inputs.shape[1:]))
        if self.unshuffle:
            x = tf.reshape(inputs, [-1, h // r, r, w // r, r, c])
            x = tf.transpose(x, [0, 1, 3, 5, 2, 4])
            return tf.reshape(x, [-1, h // r, w // r, c * r * r])
        x = tf.reshape(inputs, [-1, h, w, c // (r * r), r, r])
        x = tf.transpose(x, [0, 1, 4, 2, 5, 3])
        return tf.reshape(x, [-1, h * r, w * r, c // (r * r)])

    def get_config(self):
        return {**super().get_config(), "factor": self.factor, "unshuffle": self.unshuffle}


def torch_map_size(x):
    """torch's x.size() of a channels-last map: its sizes in torch's order (N, C, *spatial)."""
    shape = tf.keras.ops.shape(x)
    return (shape[0], shape[-1], *shape[1:-1])


def torch_pool(x, kind, kernel, stride, padding, ceil_mode=False, count_include_pad=True):
    """torch's max/avg pooling of a channels-last map where Keras's padding rules differ:
    ceil_mode windows, -inf padding for max, torch's divisor for avg (static spatial sizes)."""
    pads = []
    for n, k, s, p in zip(x.shape[1:-1], kernel, stride, padding, strict=True):
        out = (n + 2 * p - k + (s - 1 if ceil_mode else 0)) // s + 1
        if ceil_mode and (out - 1) * s >= n + p:  # the last window must start inside
            out -= 1
        pads.append((p, max((out - 1) * s + k - n - p, p)))
    paddings = [[0, 0], *pads, [0, 0]]
    if kind == "max":
        padded = tf.pad(x, paddings, constant_values=tf.cast(float("-inf"), x.dtype))
        return tf.nn.max_pool(padded, kernel, stride, "VALID")
    summed = tf.nn.avg_pool(tf.pad(x, paddings), kernel, stride, "VALID")
    ones = tf.ones([1, *x.shape[1:-1], 1], x.dtype)
    if count_include_pad:  # torch counts its padding, not the windows' overhang past it
        ones = tf.pad(ones, [[0, 0], *[(p, p) for p in padding], [0, 0]], constant_values=1)
        overhang = [(0, after - before) for before, after in pads]
        ones = tf.pad(ones, [[0, 0], *overhang, [0, 0]])
    else:
        ones = tf.pad(ones, paddings)
    return summed / tf.nn.avg_pool(ones, kernel, stride, "VALID")


@tf.keras.utils.register_keras_serializable(package="torch2tf")
class TorchPool(tf.keras.layers.Layer):
    """torch's MaxPool/AvgPool with ceil_mode or count_include_pad=False (see torch_pool)."""

    def __init__(
        self, kind, kernel, stride, padding, ceil_mode=False, count_include_pad=True, **kw
    ):
        super().__init__(**kw)
        self.kind, self.kernel, self.stride, self.padding = kind, kernel, stride, padding
        self.ceil_mode, self.count_include_pad = ceil_mode, count_include_pad

    def call(self, inputs):
        return torch_pool(
            inputs,
            self.kind,
            self.kernel,
            self.stride,
            self.padding,
            self.ceil_mode,
            self.count_include_pad,
        )

    def get_config(self):
        names = ("kind", "kernel", "stride", "padding", "ceil_mode", "count_include_pad")
        return {**super().get_config(), **{n: getattr(self, n) for n in names}}
