"""Attention helpers: nn.MultiheadAttention, F.scaled_dot_product_attention and weight tying,
with torch's calls, weights and masks (the transformer layers built on them: transformer.py)."""

import math

import tensorflow as tf

# Helpers of another module, for live use; generated files get their own copies.
from torch2tf.keras_helpers.initializers import torch_default_kernel


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
        if query is key and key is value and not self.separate:  # self-attention: one matmul
            packed = tf.matmul(query, self.in_proj_weight, transpose_b=True)
            q, k, v = tf.split(packed + self.in_proj_bias if self.bias else packed, 3, axis=-1)
        else:
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
        # torch: a row with every key masked is NaN with the weights returned, 0 without
        # (without a mask no row is: the plain softmax then, as in torch).
        blocked_rows = not need_weights and bias is not None
        weights = torch_masked_softmax(scores, zero_blocked_rows=blocked_rows)
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
            # ... and, still tracked by the model, it has no variables to save or load
            dense.save_own_variables = dense.load_own_variables = lambda store: None
        self.embedding = embedding

    def call(self, inputs):
        return tf.matmul(inputs, self.embedding.embeddings, transpose_b=True)
