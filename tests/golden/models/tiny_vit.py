"""A small Vision Transformer, in the style of the minimal ViT implementations: a strided
convolution cuts the image into patch embeddings, a class token and learned positions are
added, pre-norm encoder blocks follow, and an MLP head reads the class token."""

import math

import tensorflow as tf


# torch2tf helpers: exact Keras versions of torch behaviour Keras lacks.
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
        self.bias, self.add_bias_kv, self.add_zero_attn = (
            bias,
            add_bias_kv,
            add_zero_attn,
        )
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
                name="in_proj_weight",
                shape=(3 * embed_dim, embed_dim),
                initializer=glorot,
            )
        if bias:
            self.in_proj_bias = self.add_weight(
                name="in_proj_bias", shape=(3 * embed_dim,), initializer="zeros"
            )
        # torch's xavier_normal_ on (1, 1, E): std sqrt(1 / E), not truncated
        if add_bias_kv:
            normal = tf.keras.initializers.RandomNormal(0.0, math.sqrt(1 / embed_dim))
            shape = (1, 1, embed_dim)
            self.bias_k = self.add_weight(
                name="bias_k", shape=shape, initializer=normal
            )
            self.bias_v = self.add_weight(
                name="bias_v", shape=shape, initializer=normal
            )
        self.out_proj = tf.keras.layers.Dense(
            embed_dim,
            use_bias=bias,
            kernel_initializer=torch_default_kernel(),
            name="out_proj",
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
        x = tf.reshape(
            x, (batch, length, self.num_heads, self.embed_dim // self.num_heads)
        )
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
            query, key, value = (
                tf.transpose(t, (1, 0, 2)) for t in (query, key, value)
            )
        if is_causal and attn_mask is None:
            raise ValueError("is_causal needs attn_mask, as in torch")
        if is_causal and key_padding_mask is None and not need_weights:
            attn_mask = None  # torch then uses a causal mask in place of attn_mask
        else:
            is_causal = False
        # self-attention: one matmul
        if query is key and key is value and not self.separate:
            packed = tf.matmul(query, self.in_proj_weight, transpose_b=True)
            q, k, v = tf.split(
                packed + self.in_proj_bias if self.bias else packed, 3, axis=-1
            )
        else:
            q, k, v = (
                self._project(query, 0),
                self._project(key, 1),
                self._project(value, 2),
            )
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
            extra.append(
                (
                    tf.tile(self.bias_k, (batch, 1, 1)),
                    tf.tile(self.bias_v, (batch, 1, 1)),
                )
            )
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
        scores = tf.matmul(
            q * tf.cast(math.sqrt(1 / head_dim), dtype), k, transpose_b=True
        )
        if bias is not None:
            scores = scores + bias
        if is_causal:
            causal = tf.linalg.band_part(
                tf.ones((length, tf.shape(k)[2]), tf.bool), -1, 0
            )
            scores = tf.where(causal, scores, tf.constant(float("-inf"), dtype))
        # torch: a row with every key masked is NaN with the weights returned, 0 without
        # (without a mask no row is: the plain softmax then, as in torch).
        blocked_rows = not need_weights and bias is not None
        weights = torch_masked_softmax(scores, zero_blocked_rows=blocked_rows)
        if training and self.dropout > 0:
            weights = tf.nn.dropout(weights, rate=self.dropout)
        output = tf.reshape(
            tf.transpose(tf.matmul(weights, v), (0, 2, 1, 3)), tf.shape(query)
        )
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
        names = (
            "embed_dim",
            "num_heads",
            "dropout",
            "bias",
            "add_bias_kv",
            "add_zero_attn",
        )
        config = {name: getattr(self, name) for name in names}
        config.update(kdim=self.kdim, vdim=self.vdim, batch_first=self.batch_first)
        return {**super().get_config(), **config}


def torch_attention_bias(mask, dtype):
    """A torch attention mask as an additive bias: bool True -> -inf (blocked), float added."""
    if mask.dtype == tf.bool:
        return tf.where(
            mask, tf.constant(float("-inf"), dtype), tf.constant(0.0, dtype)
        )
    return tf.cast(mask, dtype)


def torch_masked_softmax(scores, zero_blocked_rows):
    """softmax over the last axis; a row with every key blocked gives zeros when asked (torch's
    SDPA), else NaN as in torch's softmax. The blocked rows never reach the exp: no NaN grads."""
    if not zero_blocked_rows:
        return tf.nn.softmax(scores, axis=-1)
    blocked = tf.reduce_all(
        tf.math.is_inf(scores) & (scores < 0), axis=-1, keepdims=True
    )
    weights = tf.nn.softmax(tf.where(blocked, tf.zeros_like(scores), scores), axis=-1)
    return tf.where(blocked, tf.zeros_like(weights), weights)


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


def torch_normalized_axes(normalized_shape):
    """Keras axes for torch's normalized_shape (an int or trailing sizes)."""
    if isinstance(normalized_shape, (tuple, list)):  # torch.Size is a tuple
        return list(range(-len(normalized_shape), 0))
    return -1


def torch_flatten(x, start_dim=0, end_dim=-1):
    """torch.flatten(x, start_dim, end_dim); a tf.reshape with tf.shape would lose static sizes."""
    rank = len(x.shape)
    if rank == 0:
        return tf.reshape(x, [1])
    if not (-rank <= start_dim < rank and -rank <= end_dim < rank):
        raise IndexError(
            f"flatten dims ({start_dim}, {end_dim}) out of range for rank {rank}"
        )
    start, end = start_dim % rank, end_dim % rank
    if start > end:
        raise ValueError("flatten: start_dim comes after end_dim")
    sizes = tf.keras.ops.shape(x)
    merged = 1
    for size in sizes[start : end + 1]:
        merged = merged * size
    return tf.reshape(x, [*sizes[:start], merged, *sizes[end + 1 :]])


def torch_expand(x, sizes):
    """torch's expand: -1 keeps that dim's size; tf.broadcast_to needs every size."""
    current = tf.keras.ops.shape(x)
    offset = len(sizes) - len(current)
    target = [
        current[i - offset] if isinstance(s, int) and s == -1 else s
        for i, s in enumerate(sizes)
    ]
    return tf.broadcast_to(x, target)


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


@tf.keras.utils.register_keras_serializable(package="tiny_vit")
class PatchEmbedding(tf.keras.Model):
    def __init__(self, image_size, patch_size, in_channels, dim):
        super().__init__()
        self.init_arguments = {
            "image_size": image_size,
            "patch_size": patch_size,
            "in_channels": in_channels,
            "dim": dim,
        }
        self.num_patches = (image_size // patch_size) ** 2
        self.proj = tf.keras.layers.Conv2D(
            dim,
            patch_size,
            strides=patch_size,
            kernel_initializer=torch_default_kernel(),
            bias_initializer=torch_default_bias(
                torch_fan_in(in_channels, patch_size, 1, 2)
            ),
            name="proj",
        )

    def get_config(self):
        """The constructor's arguments: load_model rebuilds the model from them."""
        return config_from_arguments(self.init_arguments)

    @classmethod
    def from_config(cls, config):
        """The model get_config describes (its classes and layers rebuilt)."""
        return cls(**arguments_from_config(config))

    def call(self, x, training=None):
        x = self.proj(x)  # (B, dim, H / p, W / p)
        return torch_flatten(x, 1, -2)  # (B, num_patches, dim)


@tf.keras.utils.register_keras_serializable(package="tiny_vit")
class Attention(tf.keras.Model):
    """Multi-head self-attention written out by hand."""

    def __init__(self, dim, heads, dropout):
        super().__init__()
        self.init_arguments = {"dim": dim, "heads": heads, "dropout": dropout}
        self.heads = heads
        self.scale = (dim // heads) ** -0.5
        self.qkv = tf.keras.layers.Dense(
            dim * 3,
            kernel_initializer=torch_default_kernel(),
            bias_initializer=torch_default_bias(dim),
            name="qkv",
        )
        self.attn_drop = tf.keras.layers.Dropout(dropout, name="attn_drop")
        self.proj = tf.keras.layers.Dense(
            dim,
            kernel_initializer=torch_default_kernel(),
            bias_initializer=torch_default_bias(dim),
            name="proj",
        )

    def get_config(self):
        """The constructor's arguments: load_model rebuilds the model from them."""
        return config_from_arguments(self.init_arguments)

    @classmethod
    def from_config(cls, config):
        """The model get_config describes (its classes and layers rebuilt)."""
        return cls(**arguments_from_config(config))

    def call(self, x, training=None):
        B, N, C = tf.keras.ops.shape(x)
        qkv = tf.transpose(
            tf.reshape(self.qkv(x), (B, N, 3, self.heads, C // self.heads)),
            perm=[2, 0, 3, 1, 4],
        )
        q, k, v = qkv[0], qkv[1], qkv[2]
        attn = (q @ tf.linalg.matrix_transpose(k)) * self.scale
        attn = tf.nn.softmax(attn, axis=-1)
        attn = self.attn_drop(attn, training=training)
        x = tf.reshape(tf.keras.ops.swapaxes(attn @ v, 1, 2), (B, N, C))
        return self.proj(x)


@tf.keras.utils.register_keras_serializable(package="tiny_vit")
class FeedForward(tf.keras.Model):
    def __init__(self, dim, hidden_dim, dropout):
        super().__init__()
        self.init_arguments = {"dim": dim, "hidden_dim": hidden_dim, "dropout": dropout}
        self.net = tf.keras.Sequential(
            [
                tf.keras.layers.Dense(
                    hidden_dim,
                    kernel_initializer=torch_default_kernel(),
                    bias_initializer=torch_default_bias(dim),
                ),
                tf.keras.layers.Activation("gelu"),
                tf.keras.layers.Dropout(dropout),
                tf.keras.layers.Dense(
                    dim,
                    kernel_initializer=torch_default_kernel(),
                    bias_initializer=torch_default_bias(hidden_dim),
                ),
                tf.keras.layers.Dropout(dropout),
            ],
            name="net",
        )

    def get_config(self):
        """The constructor's arguments: load_model rebuilds the model from them."""
        return config_from_arguments(self.init_arguments)

    @classmethod
    def from_config(cls, config):
        """The model get_config describes (its classes and layers rebuilt)."""
        return cls(**arguments_from_config(config))

    def call(self, x, training=None):
        return self.net(x, training=training)


@tf.keras.utils.register_keras_serializable(package="tiny_vit")
class Block(tf.keras.Model):
    """A pre-norm encoder block with torch's own multi-head attention."""

    def __init__(self, dim, heads, mlp_dim, dropout):
        super().__init__()
        self.init_arguments = {
            "dim": dim,
            "heads": heads,
            "mlp_dim": mlp_dim,
            "dropout": dropout,
        }
        self.norm1 = tf.keras.layers.LayerNormalization(
            axis=torch_normalized_axes(dim), epsilon=1e-05, name="norm1"
        )
        self.attn = TorchMultiheadAttention(
            dim, heads, dropout=dropout, batch_first=True, name="attn"
        )
        self.norm2 = tf.keras.layers.LayerNormalization(
            axis=torch_normalized_axes(dim), epsilon=1e-05, name="norm2"
        )
        self.mlp = FeedForward(dim, mlp_dim, dropout)

    def get_config(self):
        """The constructor's arguments: load_model rebuilds the model from them."""
        return config_from_arguments(self.init_arguments)

    @classmethod
    def from_config(cls, config):
        """The model get_config describes (its classes and layers rebuilt)."""
        return cls(**arguments_from_config(config))

    def call(self, x, training=None):
        y = self.norm1(x)
        x = x + self.attn(y, y, y, need_weights=False, training=training)[0]
        return x + self.mlp(self.norm2(x), training=training)


@tf.keras.utils.register_keras_serializable(package="tiny_vit")
class HandWrittenBlock(tf.keras.Model):
    """The same block with the attention written out."""

    def __init__(self, dim, heads, mlp_dim, dropout):
        super().__init__()
        self.init_arguments = {
            "dim": dim,
            "heads": heads,
            "mlp_dim": mlp_dim,
            "dropout": dropout,
        }
        self.norm1 = tf.keras.layers.LayerNormalization(
            axis=torch_normalized_axes(dim), epsilon=1e-05, name="norm1"
        )
        self.attn = Attention(dim, heads, dropout)
        self.norm2 = tf.keras.layers.LayerNormalization(
            axis=torch_normalized_axes(dim), epsilon=1e-05, name="norm2"
        )
        self.mlp = FeedForward(dim, mlp_dim, dropout)

    def get_config(self):
        """The constructor's arguments: load_model rebuilds the model from them."""
        return config_from_arguments(self.init_arguments)

    @classmethod
    def from_config(cls, config):
        """The model get_config describes (its classes and layers rebuilt)."""
        return cls(**arguments_from_config(config))

    def call(self, x, training=None):
        x = x + self.attn(self.norm1(x), training=training)
        return x + self.mlp(self.norm2(x), training=training)


@tf.keras.utils.register_keras_serializable(package="tiny_vit")
class ViT(tf.keras.Model):
    def __init__(
        self,
        image_size=32,
        patch_size=8,
        num_classes=10,
        dim=32,
        depth=2,
        heads=4,
        mlp_dim=64,
        channels=3,
        dropout=0.1,
    ):
        super().__init__()
        self.init_arguments = {
            "image_size": image_size,
            "patch_size": patch_size,
            "num_classes": num_classes,
            "dim": dim,
            "depth": depth,
            "heads": heads,
            "mlp_dim": mlp_dim,
            "channels": channels,
            "dropout": dropout,
        }
        self.patch_embed = PatchEmbedding(image_size, patch_size, channels, dim)
        num_patches = (image_size // patch_size) ** 2
        self.cls_token = self.add_weight(
            name="cls_token", shape=(1, 1, dim), initializer="zeros"
        )
        self.pos_embedding = self.add_weight(
            name="pos_embedding",
            shape=(1, num_patches + 1, dim),
            initializer=tf.keras.initializers.RandomNormal(0.0, 0.02),
        )
        self.dropout = tf.keras.layers.Dropout(dropout, name="dropout")
        self.blocks = [
            Block(dim, heads, mlp_dim, dropout) for _ in range(depth // 2)
        ] + [
            HandWrittenBlock(dim, heads, mlp_dim, dropout)
            for _ in range(depth - depth // 2)
        ]
        self.norm = tf.keras.layers.LayerNormalization(
            axis=torch_normalized_axes(dim), epsilon=1e-05, name="norm"
        )
        self.head = tf.keras.Sequential(
            [
                tf.keras.layers.Dense(
                    mlp_dim,
                    kernel_initializer=torch_default_kernel(),
                    bias_initializer=torch_default_bias(dim),
                ),
                tf.keras.layers.Activation("tanh"),
                tf.keras.layers.Dense(
                    num_classes,
                    kernel_initializer=torch_default_kernel(),
                    bias_initializer=torch_default_bias(mlp_dim),
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

    def call(self, img, training=None):
        x = self.patch_embed(img, training=training)
        b = tf.keras.ops.shape(x)[0]
        cls_tokens = torch_expand(self.cls_token, (b, -1, -1))
        x = tf.concat((cls_tokens, x), axis=1)
        x = x + self.pos_embedding
        x = self.dropout(x, training=training)
        for block in self.blocks:
            x = block(x)
        x = self.norm(x)
        return self.head(x[:, 0], training=training)
