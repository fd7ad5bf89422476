"""Helpers for channels-last feature maps: channel dropout, resampling, padding, pixel shuffle,
sizes in torch's order and pooling with torch's windows."""

import math

import tensorflow as tf


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
        if mode == "bicubic":
            scale = None if scales is None else scales[axis - 1]
            x = _torch_cubic(x, axis, n, out, scale, align_corners)
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


def _torch_cubic(x, axis, n, out, scale, align_corners):
    """torch's bicubic resampling of one axis: Keys' cubic with a = -0.75 (TF's resize uses
    -0.5), source index not clamped, its four taps clamped to the edge; float64 maps in
    float64, others in float32, as torch computes them."""
    dtype = tf.float64 if x.dtype == tf.float64 else tf.float32
    dst = tf.range(out, dtype=dtype)
    if align_corners:
        source = dst * tf.constant((n - 1) / (out - 1) if out > 1 else 0.0, dtype)
    else:
        step = tf.constant(1.0 / scale if scale is not None else n / out, dtype)
        source = step * (dst + 0.5) - 0.5
    low = tf.floor(source)
    t = source - low
    a = -0.75
    near = [t, 1 - t]  # |distance| <= 1
    far = [t + 1, 2 - t]  # 1 < |distance| < 2
    near = [((a + 2) * d - (a + 3)) * d * d + 1 for d in near]
    far = [((a * d - 5 * a) * d + 8 * a) * d - 4 * a for d in far]
    weights = [far[0], near[0], near[1], far[1]]
    shape = [1] * len(x.shape)
    shape[axis] = out
    low = tf.cast(low, tf.int32)
    total = 0
    for tap, weight in zip(range(-1, 3), weights, strict=True):
        index = tf.clip_by_value(low + tap, 0, n - 1)
        total += tf.gather(x, index, axis=axis) * tf.cast(tf.reshape(weight, shape), x.dtype)
    return total


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


def torch_padded(layer, padding, dims):
    """A conv after torch's zero padding, given as a variable: the conv alone where the
    padding is 0, or with Keras's "same" where that pads as torch does (stride 1, d(k-1)/2 on
    each side); else ZeroPaddingND then the conv (a Keras Sequential)."""
    pads = tuple(padding) if isinstance(padding, (tuple, list)) else (padding,) * dims
    if not any(pads):
        return layer
    sizes = zip(pads, layer.kernel_size, layer.dilation_rate, layer.strides, strict=True)
    if all(s == 1 and d * (k - 1) == 2 * p for p, k, d, s in sizes):
        layer.padding = "same"
        return layer
    zero_padding = {1: tf.keras.layers.ZeroPadding1D, 2: tf.keras.layers.ZeroPadding2D}
    zero_padding[3] = tf.keras.layers.ZeroPadding3D
    return tf.keras.Sequential([zero_padding[dims](padding), layer])


def torch_map_axis(dim, rank):
    """torch's dim of an (N, C, *S) map, known when the code runs -> Keras's (N, *S, C) axis."""
    dim %= rank
    return 0 if dim == 0 else rank - 1 if dim == 1 else dim - 1


def torch_conv_transpose(
    dims, out_channels, kernel_size, stride, padding, output_padding, groups, dilation, **options
):
    """torch's ConvTransposeNd from values known at run time: Keras's transposed conv, "same"
    where that crops as torch does (k - s = 2p, no output padding), else "valid" (with the
    output padding) then a crop of p on each side; groups and dilation other than 1 raise."""

    def per_dim(value):
        return tuple(value) if isinstance(value, (tuple, list)) else (value,) * dims

    if groups != 1 or any(d != 1 for d in per_dim(dilation)):
        raise ValueError(
            f"ConvTranspose{dims}d: groups and dilation other than 1 are not translated"
        )
    kernel, strides, pads, extra = map(per_dim, (kernel_size, stride, padding, output_padding))
    same = not any(extra) and all(
        k - s == 2 * p for k, s, p in zip(kernel, strides, pads, strict=True)
    )
    transposed = {1: tf.keras.layers.Conv1DTranspose, 2: tf.keras.layers.Conv2DTranspose}
    conv = transposed[dims](
        out_channels,
        kernel,
        strides=strides,
        padding="same" if same and any(pads) else "valid",
        output_padding=extra if any(extra) else None,
        **options,
    )
    if same or not any(pads):
        return conv
    cropping = {1: tf.keras.layers.Cropping1D, 2: tf.keras.layers.Cropping2D}
    return tf.keras.Sequential([conv, cropping[dims](pads)])


def torch_local_response_norm(x, size, alpha=1e-4, beta=0.75, k=1.0):
    """torch's local_response_norm of a channels-last map: x / (k + alpha * mean of x**2 over
    ``size`` channels, zero-padded size // 2 before and (size - 1) // 2 after) ** beta; TF's
    local_response_normalization is 4-D only, its window symmetric and its alpha unscaled."""
    channels, rank = x.shape[-1], len(x.shape)
    padded = tf.pad(tf.square(x), [[0, 0]] * (rank - 1) + [[size // 2, (size - 1) // 2]])
    total = tf.add_n([padded[..., i : i + channels] for i in range(size)])
    return x / (total / size * alpha + k) ** beta


@tf.keras.utils.register_keras_serializable(package="torch2tf")
class TorchLocalResponseNorm(tf.keras.layers.Layer):
    """torch's nn.LocalResponseNorm on a channels-last map (see torch_local_response_norm)."""

    def __init__(self, size, alpha=1e-4, beta=0.75, k=1.0, **kwargs):
        super().__init__(**kwargs)
        self.size, self.alpha, self.beta, self.k = size, alpha, beta, k

    def call(self, inputs):
        return torch_local_response_norm(inputs, self.size, self.alpha, self.beta, self.k)

    def get_config(self):
        names = ("size", "alpha", "beta", "k")
        return {**super().get_config(), **{n: getattr(self, n) for n in names}}


def torch_map_order(shape):
    """x.shape of a channels-last map in torch's order (N, C, *spatial), as torch gives it."""
    shape = tuple(shape)
    return (shape[0], shape[-1], *shape[1:-1])


def torch_map_size(x):
    """torch's x.size() of a channels-last map: its sizes in torch's order (N, C, *spatial)."""
    shape = tf.keras.ops.shape(x)
    return (shape[0], shape[-1], *shape[1:-1])


def torch_pool(
    x,
    kind,
    kernel,
    stride,
    padding,
    ceil_mode=False,
    count_include_pad=True,
    divisor_override=None,
    dilation=None,
):
    """torch's max/avg pooling of a channels-last map where Keras's padding rules differ:
    ceil_mode windows, -inf padding for max, torch's divisor for avg (or divisor_override),
    dilated max windows (static spatial sizes)."""
    dilation = dilation or [1] * len(kernel)
    pads, outs = [], []
    for n, k, s, p, d in zip(x.shape[1:-1], kernel, stride, padding, dilation, strict=True):
        span = d * (k - 1) + 1
        out = (n + 2 * p - span + (s - 1 if ceil_mode else 0)) // s + 1
        if ceil_mode and (out - 1) * s >= n + p:  # the last window must start inside
            out -= 1
        pads.append((p, max((out - 1) * s + span - n - p, p)))
        outs.append(out)
    paddings = [[0, 0], *pads, [0, 0]]
    if kind == "max":
        padded = tf.pad(x, paddings, constant_values=tf.cast(float("-inf"), x.dtype))
        if set(dilation) == {1}:
            return tf.nn.max_pool(padded, kernel, stride, "VALID")
        # TF's pools take no dilation with strides; a window's max is the max over each axis
        # in turn, each the max of the kernel taps' strided views along that axis
        for axis, (k, d, o, s) in enumerate(zip(kernel, dilation, outs, stride, strict=True), 1):
            views = []
            for t in range(k):
                index = [slice(None)] * len(padded.shape)
                index[axis] = slice(t * d, t * d + (o - 1) * s + 1, s)
                views.append(padded[tuple(index)])
            padded = tf.reduce_max(tf.stack(views), axis=0)
        return padded
    summed = tf.nn.avg_pool(tf.pad(x, paddings), kernel, stride, "VALID")
    if divisor_override:  # every window is whole in the padded map: mean * size = its sum
        return summed * tf.cast(math.prod(kernel) / divisor_override, x.dtype)
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
    """torch's MaxPool/AvgPool with ceil_mode, count_include_pad=False, divisor_override or
    dilation (see torch_pool)."""

    def __init__(
        self,
        kind,
        kernel,
        stride,
        padding,
        ceil_mode=False,
        count_include_pad=True,
        divisor_override=None,
        dilation=None,
        **kw,
    ):
        super().__init__(**kw)
        self.kind, self.kernel, self.stride, self.padding = kind, kernel, stride, padding
        self.ceil_mode, self.count_include_pad = ceil_mode, count_include_pad
        self.divisor_override, self.dilation = divisor_override, dilation

    def call(self, inputs):
        return torch_pool(
            inputs,
            self.kind,
            self.kernel,
            self.stride,
            self.padding,
            self.ceil_mode,
            self.count_include_pad,
            self.divisor_override,
            self.dilation,
        )

    def get_config(self):
        names = ("kind", "kernel", "stride", "padding", "ceil_mode", "count_include_pad")
        names += ("divisor_override", "dilation")
        return {**super().get_config(), **{n: getattr(self, n) for n in names}}


def torch_adaptive_pooling(output_size, kind, dims, name=None):
    """torch's nn.Adaptive{Avg,Max}Pool{dims}d of an output size known when the model is
    built: global pooling kept as a map for 1, else Keras's adaptive pooling (static sizes)."""
    sizes = output_size if isinstance(output_size, (tuple, list)) else (output_size,) * dims
    if len(sizes) != dims or any(not isinstance(s, int) for s in sizes):
        raise ValueError(f"adaptive pooling output size {output_size!r}: expected {dims} ints")
    if set(sizes) == {1}:
        pooling = getattr(tf.keras.layers, f"Global{kind}Pooling{dims}D")
        return pooling(keepdims=True, name=name)
    return getattr(tf.keras.layers, f"Adaptive{kind}Pooling{dims}D")(tuple(sizes), name=name)
