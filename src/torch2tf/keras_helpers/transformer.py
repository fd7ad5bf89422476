"""Transformer helpers: nn.TransformerEncoderLayer/Encoder, nn.TransformerDecoderLayer/Decoder,
nn.Transformer and its causal mask, composed from TorchMultiheadAttention with torch's sublayer
names; core Keras has none of them."""

import tensorflow as tf

# Helpers of other modules, for live use; generated files get their own copies.
from torch2tf.keras_helpers.attention import TorchMultiheadAttention
from torch2tf.keras_helpers.initializers import torch_default_bias, torch_default_kernel


def torch_square_subsequent_mask(sz, device=None, dtype=None):
    """nn.Transformer.generate_square_subsequent_mask: a float (sz, sz) mask, -inf above the
    diagonal and 0 elsewhere (torch's default dtype, float32, unless given)."""
    dtype = dtype or tf.float32
    allowed = tf.linalg.band_part(tf.ones((sz, sz), tf.bool), -1, 0)
    if dtype == tf.bool:  # torch's -inf cast to bool: True (blocked) above the diagonal
        return tf.logical_not(allowed)
    return tf.where(allowed, tf.constant(0.0, dtype), tf.constant(float("-inf"), dtype))


@tf.keras.utils.register_keras_serializable(package="torch2tf")
class TorchTransformerBlock(tf.keras.layers.Layer):
    """What torch's encoder and decoder layers share: attention, feed-forward and norms under
    torch's names, exact-erf gelu, torch's masks; nn.Transformer's xavier_uniform_ re-init."""

    attentions = ("self_attn",)
    norms = 2

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
        xavier_init=False,
        **kwargs,
    ):
        super().__init__(**kwargs)
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
            "xavier_init": xavier_init,
        }
        self.norm_first = norm_first
        if activation == "relu":
            self.activation = tf.nn.relu
        elif activation == "gelu":
            self.activation = tf.nn.gelu  # approximate=False: torch's erf form
        elif callable(activation):  # as torch calls it: a function or a layer
            self.activation = activation
        else:
            raise ValueError(f"activation must be 'relu', 'gelu' or a callable: {activation!r}")
        for name in self.attentions:
            setattr(
                self,
                name,
                TorchMultiheadAttention(
                    d_model, nhead, dropout=dropout, bias=bias, batch_first=batch_first, name=name
                ),
            )

        def linear(units, fan_in, name):
            return tf.keras.layers.Dense(
                units,
                use_bias=bias,
                kernel_initializer=torch_default_kernel(),
                bias_initializer=torch_default_bias(fan_in),
                name=name,
            )

        self.linear1 = linear(dim_feedforward, d_model, "linear1")
        self.dropout = tf.keras.layers.Dropout(dropout, name="dropout")
        self.linear2 = linear(d_model, dim_feedforward, "linear2")
        self.linear1.build((None, d_model))
        self.linear2.build((None, dim_feedforward))
        for i in range(1, self.norms + 1):
            norm = tf.keras.layers.LayerNormalization(
                epsilon=layer_norm_eps, center=bias, name=f"norm{i}"
            )
            norm.build((None, d_model))
            setattr(self, f"norm{i}", norm)
            setattr(self, f"dropout{i}", tf.keras.layers.Dropout(dropout, name=f"dropout{i}"))
        if xavier_init:  # nn.Transformer re-initialises every matrix with xavier_uniform_
            glorot = tf.keras.initializers.GlorotUniform()
            for variable in self.weights:
                if len(variable.shape) > 1:
                    variable.assign(glorot(variable.shape, variable.dtype))

    def _attend(self, attention, x, memory, mask, padding, is_causal, dropout, training):
        x = attention(
            x,
            memory,
            memory,
            attn_mask=mask,
            key_padding_mask=padding,
            need_weights=False,
            is_causal=bool(is_causal),
            training=training,
        )[0]
        return dropout(x, training=training)

    def _feed_forward(self, x, dropout, training):
        x = self.dropout(self.activation(self.linear1(x)), training=training)
        return dropout(self.linear2(x), training=training)

    def get_config(self):
        return {**super().get_config(), **self.config}


@tf.keras.utils.register_keras_serializable(package="torch2tf")
class TorchTransformerEncoderLayer(TorchTransformerBlock):
    """nn.TransformerEncoderLayer: self-attention and feed-forward, post- or pre-norm."""

    def call(self, src, src_mask=None, src_key_padding_mask=None, is_causal=False, training=None):
        def attend(x):
            return self._attend(
                self.self_attn,
                x,
                x,
                src_mask,
                src_key_padding_mask,
                is_causal,
                self.dropout1,
                training,
            )

        x = src
        if self.norm_first:
            x = x + attend(self.norm1(x))
            return x + self._feed_forward(self.norm2(x), self.dropout2, training)
        x = self.norm1(x + attend(x))
        return self.norm2(x + self._feed_forward(x, self.dropout2, training))


@tf.keras.utils.register_keras_serializable(package="torch2tf")
class TorchTransformerDecoderLayer(TorchTransformerBlock):
    """nn.TransformerDecoderLayer: self-attention, attention over the memory (multihead_attn),
    feed-forward; post- or pre-norm."""

    attentions = ("self_attn", "multihead_attn")
    norms = 3

    def call(
        self,
        tgt,
        memory,
        tgt_mask=None,
        memory_mask=None,
        tgt_key_padding_mask=None,
        memory_key_padding_mask=None,
        tgt_is_causal=False,
        memory_is_causal=False,
        training=None,
    ):
        def attend(x):
            return self._attend(
                self.self_attn,
                x,
                x,
                tgt_mask,
                tgt_key_padding_mask,
                tgt_is_causal,
                self.dropout1,
                training,
            )

        def attend_memory(x):
            return self._attend(
                self.multihead_attn,
                x,
                memory,
                memory_mask,
                memory_key_padding_mask,
                memory_is_causal,
                self.dropout2,
                training,
            )

        x = tgt
        if self.norm_first:
            x = x + attend(self.norm1(x))
            x = x + attend_memory(self.norm2(x))
            return x + self._feed_forward(self.norm3(x), self.dropout3, training)
        x = self.norm1(x + attend(x))
        x = self.norm2(x + attend_memory(x))
        return self.norm3(x + self._feed_forward(x, self.dropout3, training))


@tf.keras.utils.register_keras_serializable(package="torch2tf")
class TorchTransformerStack(tf.keras.layers.Layer):
    """What nn.TransformerEncoder and nn.TransformerDecoder share: num_layers fresh copies of the
    layer (torch deep-copies it), then the optional final norm."""

    layer_argument = "encoder_layer"

    def __init__(self, layer, num_layers, norm=None, **kwargs):
        super().__init__(**kwargs)
        if isinstance(layer, dict):  # from get_config
            layer = tf.keras.layers.deserialize(layer)
            norm = norm and tf.keras.layers.deserialize(norm)
        self.layer_config = tf.keras.layers.serialize(layer)  # not tracked: torch copies
        self.num_layers = num_layers
        config = layer.get_config()
        self.layers_ = [  # torch's "layers" ("layers" is taken in Keras)
            type(layer).from_config({**config, "name": f"layers_{i}"}) for i in range(num_layers)
        ]
        self.norm = norm
        if norm is not None and not norm.built:
            norm.build((None, config["d_model"]))

    def compute_mask(self, inputs, mask=None):
        return None  # torch's mask= is the attention mask, not a Keras padding mask

    def _final(self, x):
        return x if self.norm is None else self.norm(x)

    def get_config(self):
        norm = None if self.norm is None else tf.keras.layers.serialize(self.norm)
        config = {self.layer_argument: self.layer_config, "num_layers": self.num_layers}
        return {**super().get_config(), **config, "norm": norm}


@tf.keras.utils.register_keras_serializable(package="torch2tf")
class TorchTransformerEncoder(TorchTransformerStack):
    """nn.TransformerEncoder: the autograd path's values at padded positions (torch's no_grad
    fast path gives exactly 0 there)."""

    def __init__(self, encoder_layer, num_layers, norm=None, **kwargs):
        super().__init__(encoder_layer, num_layers, norm, **kwargs)

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
        return self._final(x)


@tf.keras.utils.register_keras_serializable(package="torch2tf")
class TorchTransformerDecoder(TorchTransformerStack):
    """nn.TransformerDecoder: every layer attends to the same memory."""

    layer_argument = "decoder_layer"

    def __init__(self, decoder_layer, num_layers, norm=None, **kwargs):
        super().__init__(decoder_layer, num_layers, norm, **kwargs)

    def call(
        self,
        tgt,
        memory,
        tgt_mask=None,
        memory_mask=None,
        tgt_key_padding_mask=None,
        memory_key_padding_mask=None,
        tgt_is_causal=None,
        memory_is_causal=False,
        training=None,
    ):
        x = tgt
        for layer in self.layers_:
            x = layer(
                x,
                memory,
                tgt_mask=tgt_mask,
                memory_mask=memory_mask,
                tgt_key_padding_mask=tgt_key_padding_mask,
                memory_key_padding_mask=memory_key_padding_mask,
                tgt_is_causal=bool(tgt_is_causal),
                memory_is_causal=bool(memory_is_causal),
                training=training,
            )
        return self._final(x)


@tf.keras.utils.register_keras_serializable(package="torch2tf")
class TorchTransformer(tf.keras.layers.Layer):
    """nn.Transformer: an encoder and a decoder, each with a final LayerNorm, every matrix
    initialised with xavier_uniform_ as torch does."""

    def __init__(
        self,
        d_model=512,
        nhead=8,
        num_encoder_layers=6,
        num_decoder_layers=6,
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
        self.config = {
            "d_model": d_model,
            "nhead": nhead,
            "num_encoder_layers": num_encoder_layers,
            "num_decoder_layers": num_decoder_layers,
            "dim_feedforward": dim_feedforward,
            "dropout": dropout,
            "activation": activation,
            "layer_norm_eps": layer_norm_eps,
            "batch_first": batch_first,
            "norm_first": norm_first,
            "bias": bias,
        }
        self.d_model, self.nhead, self.batch_first = d_model, nhead, batch_first
        layer = (d_model, nhead, dim_feedforward, dropout, activation, layer_norm_eps)
        flags = {"batch_first": batch_first, "norm_first": norm_first, "bias": bias}

        def norm():
            return tf.keras.layers.LayerNormalization(epsilon=layer_norm_eps, center=bias)

        self.encoder = TorchTransformerEncoder(
            TorchTransformerEncoderLayer(*layer, **flags, xavier_init=True),
            num_encoder_layers,
            norm(),
            name="encoder",
        )
        self.decoder = TorchTransformerDecoder(
            TorchTransformerDecoderLayer(*layer, **flags, xavier_init=True),
            num_decoder_layers,
            norm(),
            name="decoder",
        )

    generate_square_subsequent_mask = staticmethod(torch_square_subsequent_mask)

    def call(
        self,
        src,
        tgt,
        src_mask=None,
        tgt_mask=None,
        memory_mask=None,
        src_key_padding_mask=None,
        tgt_key_padding_mask=None,
        memory_key_padding_mask=None,
        src_is_causal=None,
        tgt_is_causal=None,
        memory_is_causal=False,
        training=None,
    ):
        memory = self.encoder(
            src,
            mask=src_mask,
            src_key_padding_mask=src_key_padding_mask,
            is_causal=src_is_causal,
            training=training,
        )
        return self.decoder(
            tgt,
            memory,
            tgt_mask=tgt_mask,
            memory_mask=memory_mask,
            tgt_key_padding_mask=tgt_key_padding_mask,
            memory_key_padding_mask=memory_key_padding_mask,
            tgt_is_causal=tgt_is_causal,
            memory_is_causal=memory_is_causal,
            training=training,
        )

    def get_config(self):
        return {**super().get_config(), **self.config}
