"""nn.TransformerDecoderLayer, nn.TransformerDecoder and nn.Transformer (and the encoder layer's
callable activation), converted and checked per layer in eval and train mode (float32: atol
1e-5, rtol 1e-4), plus their translation and refusals."""

from __future__ import annotations

import textwrap

import numpy as np
import pytest
import tensorflow as tf
import torch
from layer_harness import HEADER, convert_checked, load_module, translated_layer

from torch2tf.errors import TranslationError
from torch2tf.translate import translate_source

FUNCTIONAL = HEADER + "import torch.nn.functional as F\n"


def sample(*shape: int, seed: int = 0) -> torch.Tensor:
    return torch.randn(shape, generator=torch.Generator().manual_seed(seed))


def padding(batch: int, length: int, padded: dict[int, int]) -> torch.Tensor:
    """A key padding mask (True = padded): batch row b has its last padded[b] keys padded."""
    mask = torch.zeros(batch, length, dtype=torch.bool)
    for row, count in padded.items():
        mask[row, length - count :] = True
    return mask


def decoder_source(layer_args: str, decoder_args: str, call: str, time_axis: int) -> str:
    return FUNCTIONAL + textwrap.dedent(
        f"""

        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                layer = nn.TransformerDecoderLayer({layer_args})
                self.decoder = nn.TransformerDecoder(layer, {decoder_args})
                self.head = nn.Linear(8, 3)

            def forward(self, tgt, memory, tgt_padding, memory_padding):
                T = tgt.size({time_axis})
                causal = nn.Transformer.generate_square_subsequent_mask(T)
                return self.head(self.decoder({call}))
        """
    )


# (layer arguments, decoder arguments, decoder call)
DECODER_CASES = {
    "post-norm-relu-batch-first": (
        "8, 2, dim_feedforward=16, batch_first=True",
        "num_layers=2",
        "tgt, memory, tgt_mask=causal, tgt_key_padding_mask=tgt_padding, "
        "memory_key_padding_mask=memory_padding",
    ),
    "pre-norm-gelu-final-norm-causal-hint": (
        "8, 2, 16, 0.2, F.gelu, layer_norm_eps=1e-6, norm_first=True",
        "2, norm=nn.LayerNorm(8, eps=1e-6)",
        "tgt, memory, tgt_mask=causal, memory_key_padding_mask=memory_padding, tgt_is_causal=True",
    ),
    "memory-mask-bool": (
        "8, 2, 16, activation='gelu', batch_first=True",
        "2",
        "tgt, memory, tgt_mask=causal, memory_mask=memory_padding[2].expand(T, -1)",
    ),
    "no-masks-relu-function": (
        "8, 2, 16, activation=F.relu, bias=False",
        "num_layers=2, norm=nn.LayerNorm(8, bias=False)",
        "tgt, memory",
    ),
}


def decoder_inputs(batch_first: bool) -> tuple[torch.Tensor, ...]:
    tgt, memory = sample(3, 5, 8), sample(3, 6, 8, seed=1)
    if not batch_first:
        tgt, memory = tgt.transpose(0, 1).contiguous(), memory.transpose(0, 1).contiguous()
    return tgt, memory, padding(3, 5, {1: 2}), padding(3, 6, {0: 1, 2: 3})


@pytest.mark.parametrize("case", DECODER_CASES)
def test_transformer_decoder_is_exact(tmp_path, case):
    layer_args, decoder_args, call = DECODER_CASES[case]
    batch_first = "batch_first=True" in layer_args
    source = decoder_source(layer_args, decoder_args, call, int(batch_first))
    conversion = convert_checked(tmp_path, source, decoder_inputs(batch_first))
    for check in conversion.checks:  # every sublayer compared on its own, in both modes
        checked = {c.layer for c in check.layers}
        assert {
            "decoder.layers.1.multihead_attn",
            "decoder.layers.0.self_attn",
            "decoder.layers.1.norm3",
            "decoder.layers.0",
        } <= checked
    names = {t.torch_name for t in conversion.transfers}
    assert "decoder.layers.1.multihead_attn.in_proj_weight" in names


def transformer_source(ctor: str, call: str) -> str:
    return FUNCTIONAL + textwrap.dedent(
        f"""

        class Seq2Seq(nn.Module):
            def __init__(self, vocab=11, d_model=8):
                super().__init__()
                self.embed = nn.Embedding(vocab, d_model)
                self.transformer = nn.Transformer({ctor})
                self.out = nn.Linear(d_model, vocab)

            def forward(self, src, tgt, src_padding):
                mask = self.transformer.generate_square_subsequent_mask(tgt.size(1))
                src, tgt = self.embed(src), self.embed(tgt)
                return self.out(self.transformer({call}))
        """
    )


TRANSFORMER_CASES = {
    "batch-first-post-norm": (
        "d_model, 2, 2, 1, 16, batch_first=True",
        "src, tgt, tgt_mask=mask, src_key_padding_mask=src_padding, "
        "memory_key_padding_mask=src_padding",
    ),
    "seq-first-pre-norm-gelu": (
        "d_model, 2, num_encoder_layers=1, num_decoder_layers=2, dim_feedforward=16, "
        "dropout=0.2, activation=F.gelu, norm_first=True",
        "src.transpose(0, 1), tgt.transpose(0, 1), tgt_mask=mask, tgt_is_causal=True, "
        "src_key_padding_mask=src_padding",
    ),
}


@pytest.mark.parametrize("case", TRANSFORMER_CASES)
def test_transformer_is_exact(tmp_path, case):
    ctor, call = TRANSFORMER_CASES[case]
    generator = torch.Generator().manual_seed(3)
    src, tgt = torch.randint(0, 11, (3, 6), generator=generator), torch.randint(0, 11, (3, 4))
    inputs = (src, tgt, padding(3, 6, {1: 2}))
    conversion = convert_checked(tmp_path, transformer_source(ctor, call), inputs, "Seq2Seq")
    checked = {c.layer for c in conversion.checks[1].layers}
    assert {"transformer.encoder.norm", "transformer.decoder.layers.0.multihead_attn"} <= checked
    keras_model = conversion.keras_model
    assert type(keras_model.transformer).__name__ == "TorchTransformer"


def test_transformer_translation_reads_like_torch():
    source = transformer_source("d_model, 2, 2, 1, 16, activation=F.relu", "src, tgt")
    assert translated_layer(source, "transformer") == (
        "TorchTransformer(d_model, 2, num_encoder_layers=2, num_decoder_layers=1, "
        "dim_feedforward=16)"
    )
    code = translate_source(source)
    assert "mask = self.transformer.generate_square_subsequent_mask(" in code
    assert "class TorchTransformerDecoderLayer(TorchTransformerBlock)" in code
    static = FUNCTIONAL + textwrap.dedent(
        """

        class Net(nn.Module):
            def forward(self, x):
                return x + nn.Transformer.generate_square_subsequent_mask(x.size(1))
        """
    )
    assert "torch_square_subsequent_mask(tf.keras.ops.shape(x)[1])" in translate_source(static)


def test_transformer_initialises_every_matrix_with_xavier_uniform(tmp_path):
    """nn.Transformer re-initialises its matrices with xavier_uniform_ (bound sqrt(6 / (in +
    out))), wider than a lone Linear's default (bound 1 / sqrt(in)): the twin does the same."""
    source = transformer_source("d_model, 2, 1, 1, 32", "src, tgt")
    module = load_module(tmp_path, translate_source(source))
    keras_model = module.Seq2Seq(11, 16)
    kernel = keras_model.transformer.encoder.layers_[0].linear1.kernel.numpy()
    xavier, default = np.sqrt(6 / (16 + 32)), 1 / np.sqrt(16)
    assert default < np.abs(kernel).max() <= xavier
    torch_weight = load_module(tmp_path, source).Seq2Seq(11, 16).transformer
    torch_max = torch_weight.encoder.layers[0].linear1.weight.abs().max().item()
    assert default < torch_max <= xavier  # the same distribution in torch


def test_generated_mask_is_torchs(tmp_path):
    module = load_module(tmp_path, translate_source(transformer_source("d_model, 2", "src, tgt")))
    mask = module.TorchTransformer.generate_square_subsequent_mask(4).numpy()
    np.testing.assert_array_equal(mask, torch.nn.Transformer.generate_square_subsequent_mask(4))
    blocked = module.TorchTransformer.generate_square_subsequent_mask(4, dtype=tf.bool).numpy()
    want = torch.nn.Transformer.generate_square_subsequent_mask(4, dtype=torch.bool)
    np.testing.assert_array_equal(blocked, want)


def encoder_layer_source(activation: str) -> str:
    return FUNCTIONAL + textwrap.dedent(
        f"""

        def swish(x):
            return x * torch.sigmoid(x)


        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.layer = nn.TransformerEncoderLayer(
                    8, 2, 16, activation={activation}, batch_first=True
                )

            def forward(self, x):
                return self.layer(x)
        """
    )


@pytest.mark.parametrize(
    ("activation", "translated"),
    [("F.gelu", "'gelu'"), ("F.relu", None), ("swish", "swish"), ("nn.GELU()", None)],
)
def test_encoder_layer_takes_a_callable_activation(tmp_path, activation, translated):
    source = encoder_layer_source(activation)
    layer = translated_layer(source)
    if translated is not None:
        assert f"activation={translated}" in layer
    elif activation == "F.relu":
        assert "activation" not in layer  # torch's default
    convert_checked(tmp_path, source, sample(3, 5, 8))


@pytest.mark.parametrize(
    ("ctor", "message"),
    [
        (
            "nn.Transformer(8, 2, custom_encoder=nn.Identity())",
            "custom_encoder=/custom_decoder=) is not translated",
        ),
        (
            "nn.TransformerDecoderLayer(8, 2, activation='silu')",
            "TransformerDecoderLayer(activation='silu') is not translated",
        ),
        (
            "nn.TransformerDecoderLayer(8, 2, norm_first=flag)",
            "TransformerDecoderLayer norm_first= must be a literal",
        ),
    ],
)
def test_transformer_refusals_name_the_position(ctor, message):
    source = HEADER + textwrap.dedent(
        f"""

        class Net(nn.Module):
            def __init__(self, flag=False):
                super().__init__()
                self.layer = {ctor}
        """
    )
    with pytest.raises(TranslationError) as error:
        translate_source(source, "tr.py")
    assert "tr.py:8:22: " in str(error.value) and message in str(error.value)


def test_a_torch_function_as_a_value_becomes_a_lambda_of_one_tensor():
    code = translate_source(encoder_layer_source("F.silu"))
    assert "activation=lambda x: tf.nn.silu(x)" in code
