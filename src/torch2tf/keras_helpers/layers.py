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


def build_from_shapes(model, **shapes):
    """Builds a model of several inputs from their shapes, as load_model does with the ones it
    saved (Keras's default build keeps only the first input's): one call on zeros of each
    shape (None as 1), each input float or else int (only the weights' shapes matter here)."""
    given = {name: [d or 1 for d in shape] for name, shape in shapes.items() if shape}
    float_dtype = model.compute_dtype
    for ints in sorted(range(2 ** len(given)), key=lambda mask: bin(mask).count("1")):
        inputs = {
            name: tf.zeros(shape, "int32" if ints >> i & 1 else float_dtype)
            for i, (name, shape) in enumerate(given.items())
        }
        try:
            model.call(**inputs, training=False)
            return
        except Exception:  # another dtype may do; else the first call builds the layers
            continue


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


@tf.keras.utils.register_keras_serializable(package="torch2tf")
class TorchMultiheadAttention(tf.keras.layers.Layer):
    """nn.MultiheadAttention: torch's call, packed weights and masks (True = blocked), which
    Keras's MultiHeadAttention inverts; returns (output, weights) as torch does."""

    def __init__(
        self,
        embed_dim,
        num_heads,
        dropout=0.0,
        bias=True,
        add_bias_kv=False,
        add_zero_attn=False,
        kdim=None,
        vdim=None,
        batch_first=False,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if embed_dim % num_heads:
            raise ValueError("embed_dim must be divisible by num_heads")
        self.embed_dim, self.num_heads, self.dropout = embed_dim, num_heads, dropout
        self.bias, self.add_bias_kv, self.add_zero_attn = bias, add_bias_kv, add_zero_attn
        self.kdim, self.vdim = kdim or embed_dim, vdim or embed_dim
        self.batch_first = batch_first
        self.separate = self.kdim != embed_dim or self.vdim != embed_dim
        # torch's xavier_uniform_ on each 2-D weight is Keras's glorot_uniform
        glorot = tf.keras.initializers.GlorotUniform()
        if self.separate:
            self.q_proj_weight = self.add_weight(
                name="q_proj_weight", shape=(embed_dim, embed_dim), initializer=glorot
            )
            self.k_proj_weight = self.add_weight(
                name="k_proj_weight", shape=(embed_dim, self.kdim), initializer=glorot
            )
            self.v_proj_weight = self.add_weight(
                name="v_proj_weight", shape=(embed_dim, self.vdim), initializer=glorot
            )
        else:
            self.in_proj_weight = self.add_weight(
                name="in_proj_weight", shape=(3 * embed_dim, embed_dim), initializer=glorot
            )
        if bias:
            self.in_proj_bias = self.add_weight(
                name="in_proj_bias", shape=(3 * embed_dim,), initializer="zeros"
            )
        if add_bias_kv:  # torch's xavier_normal_ on (1, 1, E): std sqrt(1 / E), not truncated
            normal = tf.keras.initializers.RandomNormal(0.0, math.sqrt(1 / embed_dim))
            shape = (1, 1, embed_dim)
            self.bias_k = self.add_weight(name="bias_k", shape=shape, initializer=normal)
            self.bias_v = self.add_weight(name="bias_v", shape=shape, initializer=normal)
        self.out_proj = tf.keras.layers.Dense(
            embed_dim, use_bias=bias, kernel_initializer=torch_default_kernel(), name="out_proj"
        )
        self.out_proj.build((None, embed_dim))

    def _project(self, x, part):
        e = self.embed_dim
        if self.separate:
            weight = (self.q_proj_weight, self.k_proj_weight, self.v_proj_weight)[part]
        else:
            weight = self.in_proj_weight[part * e : (part + 1) * e]
        x = tf.matmul(x, weight, transpose_b=True)
        return x + self.in_proj_bias[part * e : (part + 1) * e] if self.bias else x

    def _heads(self, x):
        batch, length = tf.shape(x)[0], tf.shape(x)[1]
        x = tf.reshape(x, (batch, length, self.num_heads, self.embed_dim // self.num_heads))
        return tf.transpose(x, (0, 2, 1, 3))

    def call(
        self,
        query,
        key,
        value,
        key_padding_mask=None,
        need_weights=True,
        attn_mask=None,
        average_attn_weights=True,
        is_causal=False,
        training=None,
    ):
        batched = len(query.shape) == 3
        if not batched:  # torch's unbatched (L, E) input
            query, key, value = (tf.expand_dims(t, 0) for t in (query, key, value))
            if key_padding_mask is not None:
                key_padding_mask = tf.expand_dims(key_padding_mask, 0)
        elif not self.batch_first:  # (L, N, E) -> (N, L, E)
            query, key, value = (tf.transpose(t, (1, 0, 2)) for t in (query, key, value))
        if is_causal and attn_mask is None:
            raise ValueError("is_causal needs attn_mask, as in torch")
        if is_causal and key_padding_mask is None and not need_weights:
            attn_mask = None  # torch then uses a causal mask in place of attn_mask
        else:
            is_causal = False
        q, k, v = self._project(query, 0), self._project(key, 1), self._project(value, 2)
        batch, length = tf.shape(q)[0], tf.shape(q)[1]
        dtype = q.dtype
        bias = None
        if attn_mask is not None:
            bias = torch_attention_bias(attn_mask, dtype)
            if len(attn_mask.shape) == 3:  # (N * heads, L, S)
                bias = tf.reshape(bias, (batch, self.num_heads, length, -1))
        if key_padding_mask is not None:
            padding = torch_attention_bias(key_padding_mask, dtype)[:, None, None, :]
        extra = []
        if self.add_bias_kv:
            extra.append((tf.tile(self.bias_k, (batch, 1, 1)), tf.tile(self.bias_v, (batch, 1, 1))))
        q, k, v = self._heads(q), self._heads(k), self._heads(v)
        for bias_k, bias_v in extra:
            k = tf.concat([k, self._heads(bias_k)], axis=2)
            v = tf.concat([v, self._heads(bias_v)], axis=2)
        if self.add_zero_attn:
            zeros = tf.zeros_like(k[:, :, :1])
            k, v = tf.concat([k, zeros], axis=2), tf.concat([v, zeros], axis=2)
        added = len(extra) + int(self.add_zero_attn)  # keys appended, never masked
        if added and bias is not None:
            bias = tf.pad(bias, [[0, 0]] * (len(bias.shape) - 1) + [[0, added]])
        if added and key_padding_mask is not None:
            padding = tf.pad(padding, [[0, 0], [0, 0], [0, 0], [0, added]])
        if key_padding_mask is not None:
            bias = padding if bias is None else bias + padding
        head_dim = self.embed_dim // self.num_heads
        scores = tf.matmul(q * tf.cast(math.sqrt(1 / head_dim), dtype), k, transpose_b=True)
        if bias is not None:
            scores = scores + bias
        if is_causal:
            causal = tf.linalg.band_part(tf.ones((length, tf.shape(k)[2]), tf.bool), -1, 0)
            scores = tf.where(causal, scores, tf.constant(float("-inf"), dtype))
        # torch: a row with every key masked is NaN with the weights returned, 0 without.
        weights = torch_masked_softmax(scores, zero_blocked_rows=not need_weights)
        if training and self.dropout > 0:
            weights = tf.nn.dropout(weights, rate=self.dropout)
        output = tf.reshape(tf.transpose(tf.matmul(weights, v), (0, 2, 1, 3)), tf.shape(query))
        output = self.out_proj(output)
        if not batched:
            output = output[0]
        elif not self.batch_first:
            output = tf.transpose(output, (1, 0, 2))
        if not need_weights:
            return output, None
        if average_attn_weights:
            weights = tf.reduce_mean(weights, axis=1)
        return output, (weights if batched else weights[0])

    def get_config(self):
        names = ("embed_dim", "num_heads", "dropout", "bias", "add_bias_kv", "add_zero_attn")
        config = {name: getattr(self, name) for name in names}
        config.update(kdim=self.kdim, vdim=self.vdim, batch_first=self.batch_first)
        return {**super().get_config(), **config}


def torch_attention_bias(mask, dtype):
    """A torch attention mask as an additive bias: bool True -> -inf (blocked), float added."""
    if mask.dtype == tf.bool:
        return tf.where(mask, tf.constant(float("-inf"), dtype), tf.constant(0.0, dtype))
    return tf.cast(mask, dtype)


def torch_masked_softmax(scores, zero_blocked_rows):
    """softmax over the last axis; a row with every key blocked gives zeros when asked (torch's
    SDPA), else NaN as in torch's softmax. The blocked rows never reach the exp: no NaN grads."""
    if not zero_blocked_rows:
        return tf.nn.softmax(scores, axis=-1)
    blocked = tf.reduce_all(tf.math.is_inf(scores) & (scores < 0), axis=-1, keepdims=True)
    weights = tf.nn.softmax(tf.where(blocked, tf.zeros_like(scores), scores), axis=-1)
    return tf.where(blocked, tf.zeros_like(weights), weights)


def torch_sdpa(
    query, key, value, attn_mask=None, dropout_p=0.0, is_causal=False, scale=None, enable_gqa=False
):
    """F.scaled_dot_product_attention on torch's (..., L, E) layout: bool masks True = attend,
    float masks added, is_causal top-left, a fully masked row gives 0 (Keras: uniform)."""
    if enable_gqa and query.shape[-3] != key.shape[-3]:
        groups = query.shape[-3] // key.shape[-3]
        key = tf.repeat(key, groups, axis=-3)
        value = tf.repeat(value, groups, axis=-3)
    if scale is None:
        scale = 1 / math.sqrt(query.shape[-1])
    scores = tf.matmul(query, key, transpose_b=True) * tf.cast(scale, query.dtype)
    if is_causal:
        length, source = tf.shape(query)[-2], tf.shape(key)[-2]
        causal = tf.linalg.band_part(tf.ones((length, source), tf.bool), -1, 0)
        scores = tf.where(causal, scores, tf.constant(float("-inf"), scores.dtype))
    if attn_mask is not None:
        if attn_mask.dtype == tf.bool:
            scores = tf.where(attn_mask, scores, tf.constant(float("-inf"), scores.dtype))
        else:
            scores = scores + tf.cast(attn_mask, scores.dtype)
    weights = torch_masked_softmax(scores, zero_blocked_rows=True)
    if dropout_p > 0:
        weights = tf.nn.dropout(weights, rate=dropout_p)
    return tf.matmul(weights, value)


@tf.keras.utils.register_keras_serializable(package="torch2tf")
class TorchTiedDense(tf.keras.layers.Layer):
    """A Linear whose weight is an Embedding's (torch weight tying): x @ embeddings.T, one
    shared variable, as in torch; a Dense cannot share it (its kernel is the transpose)."""

    def __init__(self, embedding, dense=None, **kwargs):
        super().__init__(**kwargs)
        if dense is not None:
            if dense.use_bias:
                raise ValueError("weight tying of a Linear with a bias is not translated")
            dense.built = True  # the replaced Dense never runs: it must not make a kernel
        self.embedding = embedding

    def call(self, inputs):
        return tf.matmul(inputs, self.embedding.embeddings, transpose_b=True)


@tf.keras.utils.register_keras_serializable(package="torch2tf")
class TorchTransformerEncoderLayer(tf.keras.layers.Layer):
    """nn.TransformerEncoderLayer: torch's sublayers by name, post- or pre-norm, exact-erf
    gelu, torch's masks; core Keras has no encoder layer."""

    def __init__(
        self,
        d_model,
        nhead,
        dim_feedforward=2048,
        dropout=0.1,
        activation="relu",
        layer_norm_eps=1e-5,
        batch_first=False,
        norm_first=False,
        bias=True,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if activation not in ("relu", "gelu"):
            raise ValueError(f"activation must be 'relu' or 'gelu', received {activation!r}")
        self.config = {
            "d_model": d_model,
            "nhead": nhead,
            "dim_feedforward": dim_feedforward,
            "dropout": dropout,
            "activation": activation,
            "layer_norm_eps": layer_norm_eps,
            "batch_first": batch_first,
            "norm_first": norm_first,
            "bias": bias,
        }
        self.norm_first = norm_first
        self.activation = tf.nn.relu if activation == "relu" else tf.nn.gelu  # gelu: exact erf
        self.self_attn = TorchMultiheadAttention(
            d_model, nhead, dropout=dropout, bias=bias, batch_first=batch_first, name="self_attn"
        )

        def linear(units, fan_in, name):
            return tf.keras.layers.Dense(
                units,
                use_bias=bias,
                kernel_initializer=torch_default_kernel(),
                bias_initializer=torch_default_bias(fan_in),
                name=name,
            )

        def norm(name):
            return tf.keras.layers.LayerNormalization(
                epsilon=layer_norm_eps, center=bias, name=name
            )

        self.linear1 = linear(dim_feedforward, d_model, "linear1")
        self.dropout = tf.keras.layers.Dropout(dropout, name="dropout")
        self.linear2 = linear(d_model, dim_feedforward, "linear2")
        self.norm1, self.norm2 = norm("norm1"), norm("norm2")
        self.dropout1 = tf.keras.layers.Dropout(dropout, name="dropout1")
        self.dropout2 = tf.keras.layers.Dropout(dropout, name="dropout2")
        self.linear1.build((None, d_model))
        self.linear2.build((None, dim_feedforward))
        self.norm1.build((None, d_model))
        self.norm2.build((None, d_model))

    def _attention(self, x, src_mask, src_key_padding_mask, is_causal, training):
        x = self.self_attn(
            x,
            x,
            x,
            attn_mask=src_mask,
            key_padding_mask=src_key_padding_mask,
            need_weights=False,
            is_causal=is_causal,
            training=training,
        )[0]
        return self.dropout1(x, training=training)

    def _feed_forward(self, x, training):
        x = self.dropout(self.activation(self.linear1(x)), training=training)
        return self.dropout2(self.linear2(x), training=training)

    def call(self, src, src_mask=None, src_key_padding_mask=None, is_causal=False, training=None):
        x = src
        if self.norm_first:
            x = x + self._attention(
                self.norm1(x), src_mask, src_key_padding_mask, is_causal, training
            )
            return x + self._feed_forward(self.norm2(x), training)
        x = self.norm1(x + self._attention(x, src_mask, src_key_padding_mask, is_causal, training))
        return self.norm2(x + self._feed_forward(x, training))

    def get_config(self):
        return {**super().get_config(), **self.config}


@tf.keras.utils.register_keras_serializable(package="torch2tf")
class TorchTransformerEncoder(tf.keras.layers.Layer):
    """nn.TransformerEncoder: num_layers fresh copies of the layer (as torch deep-copies it),
    then the optional final norm."""

    def __init__(self, encoder_layer, num_layers, norm=None, **kwargs):
        super().__init__(**kwargs)
        if isinstance(encoder_layer, dict):  # from get_config
            encoder_layer = tf.keras.layers.deserialize(encoder_layer)
            norm = norm and tf.keras.layers.deserialize(norm)
        self.layer_config = tf.keras.layers.serialize(encoder_layer)  # not tracked: torch copies
        self.num_layers = num_layers
        config = encoder_layer.get_config()
        self.layers_ = [  # torch's "layers" ("layers" is taken in Keras)
            type(encoder_layer).from_config({**config, "name": f"layers_{i}"})
            for i in range(num_layers)
        ]
        self.norm = norm
        if norm is not None and not norm.built:
            norm.build((None, config["d_model"]))

    def compute_mask(self, inputs, mask=None):
        return None  # torch's mask= is the attention mask, not a Keras padding mask

    def call(self, src, mask=None, src_key_padding_mask=None, is_causal=None, training=None):
        x = src
        for layer in self.layers_:
            x = layer(
                x,
                src_mask=mask,
                src_key_padding_mask=src_key_padding_mask,
                is_causal=bool(is_causal),
                training=training,
            )
        return x if self.norm is None else self.norm(x)

    def get_config(self):
        norm = None if self.norm is None else tf.keras.layers.serialize(self.norm)
        config = {"encoder_layer": self.layer_config, "num_layers": self.num_layers, "norm": norm}
        return {**super().get_config(), **config}


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
