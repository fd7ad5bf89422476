"""Transformers: nn.TransformerEncoderLayer/Encoder, nn.TransformerDecoderLayer/Decoder,
nn.Transformer and its causal mask -> helpers composed from TorchMultiheadAttention
(semantics-wave2.md §8b). Sublayers keep torch's names, so each one's weights move by its own
rule (MultiheadAttention, Linear, LayerNorm) and is verified on its own."""

from __future__ import annotations

import ast

from torch2tf.rules.attention import _flag
from torch2tf.rules.functional import given, src
from torch2tf.rules.layers import _no_dtype
from torch2tf.rules.registry import (
    Arg,
    LayerRule,
    Unsupported,
    const,
    function,
    function_value,
    keras_call,
    layer,
)

_LAYER_DEFAULTS = {
    "dim_feedforward": 2048,
    "dropout": 0.1,
    "activation": "relu",
    "layer_norm_eps": 1e-5,
    "batch_first": False,
    "norm_first": False,
    "bias": True,
}


def _activation(activation, what: str) -> str:
    """Source of the helper's activation: 'relu'/'gelu' (torch's strings, and F.relu/F.gelu,
    which torch treats as the same), or the translated callable, which torch calls as given."""
    value = const(activation, None)
    if value in ("relu", "gelu"):
        return repr(value)
    text = src(activation)
    for name in ("relu", "gelu"):
        same = function_value(f"torch.nn.functional.{name}")
        if same is not None and ast.dump(ast.parse(text)) == ast.dump(ast.parse(same)):
            return repr(name)
    if isinstance(activation, Arg) and value is None:
        return text  # a function or layer of the file, translated
    raise Unsupported(
        f"{what}(activation={text}) is not translated",
        "use activation='relu' or 'gelu', or a function",
    )


def _layer_arguments(what: str, given_values: dict) -> dict[str, str | None]:
    """The keyword arguments the helper takes, torch's defaults left out."""
    _no_dtype(given_values.pop("dtype"))
    given_values.pop("device")
    rate = const(given_values["dropout"], None)
    if rate is not None and not (isinstance(rate, (int, float)) and 0 <= rate < 1):
        raise Unsupported(f"{what}(dropout={src(given_values['dropout'])}): need 0 <= p < 1")
    for name in ("batch_first", "norm_first", "bias"):
        given_values[name] = _flag(given_values[name], f"{what} {name}")
    given_values["activation"] = _activation(given_values["activation"], what)
    keywords: dict[str, str | None] = {}
    for name, value in given_values.items():
        default = _LAYER_DEFAULTS.get(name, None)
        if name == "activation":
            keywords[name] = None if value == repr(default) else value
        elif name in _LAYER_DEFAULTS:
            keywords[name] = None if const(value, None) == default else src(value)
    return keywords


class _TransformerLayer(LayerRule):
    """What the encoder and decoder layer rules share: torch's constructor, read back from a
    live layer's sublayers; every tensor is moved by a sublayer's rule."""

    helper: str
    takes_training = True

    def keras(
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
        device=None,
        dtype=None,
    ):
        what = self.torch.rsplit(".", 1)[1]
        values = dict(locals())
        del values["self"], values["d_model"], values["nhead"], values["what"]
        return keras_call(self.helper, src(d_model), src(nhead), **_layer_arguments(what, values))

    @classmethod
    def arguments(cls, module):
        attention = module.self_attn
        return {
            "d_model": attention.embed_dim,
            "nhead": attention.num_heads,
            "dim_feedforward": module.linear1.out_features,
            "dropout": module.dropout.p,
            "activation": {1: "relu", 2: "gelu"}.get(module.activation_relu_or_gelu, "other"),
            "layer_norm_eps": module.norm1.eps,
            "batch_first": attention.batch_first,
            "norm_first": module.norm_first,
            "bias": module.linear1.bias is not None,
        }

    @staticmethod
    def keras_variables(layer):
        return []  # every tensor belongs to a sublayer, moved by that sublayer's rule


@layer
class TransformerEncoderLayer(_TransformerLayer):
    """nn.TransformerEncoderLayer -> TorchTransformerEncoderLayer: the same sublayers by name
    (self_attn, linear1/2, norm1/2), post- or pre-norm; the autograd path's output."""

    torch = "torch.nn.TransformerEncoderLayer"
    helper = "TorchTransformerEncoderLayer"
    examples = (
        (
            "nn.TransformerEncoderLayer(16, 4, dim_feedforward=32, batch_first=True)",
            "TorchTransformerEncoderLayer(16, 4, dim_feedforward=32, batch_first=True)",
        ),
    )


@layer
class TransformerDecoderLayer(_TransformerLayer):
    """nn.TransformerDecoderLayer -> TorchTransformerDecoderLayer: self_attn, multihead_attn
    (over the memory), linear1/2, norm1/2/3 by name, post- or pre-norm."""

    torch = "torch.nn.TransformerDecoderLayer"
    helper = "TorchTransformerDecoderLayer"
    examples = (
        (
            "nn.TransformerDecoderLayer(16, 4, 32, norm_first=True)",
            "TorchTransformerDecoderLayer(16, 4, dim_feedforward=32, norm_first=True)",
        ),
    )


class _Stack(LayerRule):
    """What the encoder and decoder rules share: rebuilt from the layer given, not read back."""

    takes_training = True

    @classmethod
    def arguments(cls, module):
        raise Unsupported(f"a {cls.torch} is rebuilt from its layer, not its attributes")

    @staticmethod
    def keras_variables(layer):
        return []


@layer
class TransformerEncoder(_Stack):
    """nn.TransformerEncoder -> TorchTransformerEncoder: num_layers copies of the layer and the
    optional final norm. torch's no_grad fast path (nested tensors) gives exactly 0 at padded
    positions; this gives the autograd path's values there, as torch does in training."""

    torch = "torch.nn.TransformerEncoder"
    examples = (
        (
            "nn.TransformerEncoder(nn.TransformerEncoderLayer(16, 4), num_layers=2)",
            "TorchTransformerEncoder(TorchTransformerEncoderLayer(16, 4), 2)",
        ),
    )

    def keras(
        self, encoder_layer, num_layers, norm=None, enable_nested_tensor=True, mask_check=True
    ):
        return keras_call(
            "TorchTransformerEncoder",
            src(encoder_layer),
            src(num_layers),
            norm=src(norm) if given(norm) else None,
        )


@layer
class TransformerDecoder(_Stack):
    """nn.TransformerDecoder -> TorchTransformerDecoder: num_layers copies of the layer, each
    attending to the same memory, and the optional final norm."""

    torch = "torch.nn.TransformerDecoder"
    examples = (
        (
            "nn.TransformerDecoder(nn.TransformerDecoderLayer(16, 4), 2, norm=nn.LayerNorm(16))",
            "TorchTransformerDecoder(TorchTransformerDecoderLayer(16, 4), 2, "
            "norm=tf.keras.layers.LayerNormalization(epsilon=1e-05))",
        ),
    )

    def keras(self, decoder_layer, num_layers, norm=None):
        return keras_call(
            "TorchTransformerDecoder",
            src(decoder_layer),
            src(num_layers),
            norm=src(norm) if given(norm) else None,
        )


@layer
class Transformer(LayerRule):
    """nn.Transformer -> TorchTransformer: encoder and decoder stacks with final norms, every
    matrix xavier_uniform_-initialised as torch does; generate_square_subsequent_mask too."""

    torch = "torch.nn.Transformer"
    examples = (
        (
            "nn.Transformer(16, 4, 2, 2, 32, batch_first=True)",
            "TorchTransformer(16, 4, num_encoder_layers=2, num_decoder_layers=2, "
            "dim_feedforward=32, batch_first=True)",
        ),
    )
    takes_training = True

    def keras(
        self,
        d_model=512,
        nhead=8,
        num_encoder_layers=6,
        num_decoder_layers=6,
        dim_feedforward=2048,
        dropout=0.1,
        activation="relu",
        custom_encoder=None,
        custom_decoder=None,
        layer_norm_eps=1e-5,
        batch_first=False,
        norm_first=False,
        bias=True,
        device=None,
        dtype=None,
    ):
        if given(custom_encoder) or given(custom_decoder):
            raise Unsupported(
                "Transformer(custom_encoder=/custom_decoder=) is not translated",
                "use nn.TransformerEncoder and nn.TransformerDecoder directly",
            )
        values = dict(locals())
        for name in ("self", "d_model", "nhead", "num_encoder_layers", "num_decoder_layers"):
            del values[name]
        del values["custom_encoder"], values["custom_decoder"]
        counts = (
            ("num_encoder_layers", num_encoder_layers),
            ("num_decoder_layers", num_decoder_layers),
        )
        return keras_call(
            "TorchTransformer",
            src(d_model),
            src(nhead),
            **{name: None if const(n, None) == 6 else src(n) for name, n in counts},
            **_layer_arguments("Transformer", values),
        )

    @classmethod
    def arguments(cls, module):
        values = TransformerEncoderLayer.arguments(module.encoder.layers[0])
        values["num_encoder_layers"] = len(module.encoder.layers)
        values["num_decoder_layers"] = len(module.decoder.layers)
        return values

    @staticmethod
    def keras_variables(layer):
        return []


@function(
    "torch.nn.Transformer.generate_square_subsequent_mask",
    examples=(
        (
            "nn.Transformer.generate_square_subsequent_mask(x.shape[1])",
            "torch_square_subsequent_mask(tf.keras.ops.shape(x)[1])",
        ),
    ),
)
def generate_square_subsequent_mask(sz, device=None, dtype=None):
    """torch_square_subsequent_mask: a float mask, -inf above the diagonal, 0 elsewhere."""
    return keras_call(
        "torch_square_subsequent_mask",
        src(sz),
        dtype=src(dtype) if given(dtype) else None,
    )
