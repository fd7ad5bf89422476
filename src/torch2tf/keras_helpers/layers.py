"""Layers whose torch semantics Keras lacks or computes differently (normalisation, activations,
flatten, embeddings, padding, variables kept in torch's layout)."""

import tensorflow as tf


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
        if inputs.dtype == tf.float32 and len(inputs.shape) in (4, 5) and self.axis == -1:
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


@tf.keras.utils.register_keras_serializable(package="torch2tf")
class TorchFlatBatchNorm(TorchBatchNorm):
    """nn.BatchNorm1d made from a value (a registry's entry): exact on (N, C) input; on a
    longer one torch's channel axis (1, or a channels-last map's last) is not known here."""

    def build(self, input_shape):
        if len(input_shape) != 2:
            raise ValueError(
                f"BatchNorm1d made from a value, given a {len(input_shape)}-D input: expected "
                "(N, features); construct the layer where it is used for longer inputs"
            )
        super().build(input_shape)


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
    dtype = value.dtype
    # the model's float type, as torch's .double() moves every one
    if dtype.is_floating:
        dtype = layer.variable_dtype
    return layer.add_weight(
        name=name,
        shape=value.shape,
        dtype=dtype,
        trainable=trainable,
        initializer=lambda shape, dtype: tf.cast(value, dtype),
    )


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
            except Exception:  # another dtype may do; else the first call builds the layers
                continue


def torch_named_layers(layers):
    """nn.Sequential(OrderedDict(...)) with computed keys: each layer named by its key, as Keras
    finds a Sequential's layers by name where torch finds them by key (``mlp.fc0.weight``)."""
    for name, layer in layers.items():
        layer.name = name
    return list(layers.values())


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
