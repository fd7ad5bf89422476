"""Attention: hand-written attention, F.scaled_dot_product_attention, nn.MultiheadAttention,
positional embeddings, class tokens and a small GPT, converted and checked in eval and train
mode (float32: atol 1e-5, rtol 1e-4), plus the refusals."""

from __future__ import annotations

import math
import textwrap
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf
import torch
from layer_harness import HEADER, convert_checked, load_module, translated_layer

import torch2tf
from torch2tf.errors import TranslationError
from torch2tf.translate import translate_source

GPT_FILE = Path(__file__).parent / "models" / "tiny_gpt.py"


def sample(*shape: int, seed: int = 0) -> torch.Tensor:
    return torch.randn(shape, generator=torch.Generator().manual_seed(seed))


def attention_source(ctor: str, call: str, params: str = "x") -> str:
    return HEADER + textwrap.dedent(
        f"""

        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.attn = nn.MultiheadAttention({ctor})

            def forward(self, {params}):
                return self.attn({call})
        """
    )


def padding(batch: int, length: int, padded: dict[int, int]) -> torch.Tensor:
    """A key_padding_mask (True = padded): batch row b has its last padded[b] keys padded."""
    mask = torch.zeros(batch, length, dtype=torch.bool)
    for row, count in padded.items():
        mask[row, length - count :] = True
    return mask


CAUSAL = torch.triu(torch.ones(5, 5, dtype=torch.bool), diagonal=1)

# (constructor, call, forward parameters, inputs)
MHA_CASES = {
    "seq-first": ("16, 4, dropout=0.2", "x, x, x", "x", (sample(5, 3, 16),)),
    "batch-first": ("16, 4, batch_first=True", "x, x, x", "x", (sample(3, 5, 16),)),
    "no-weights": (
        "16, 4, batch_first=True",
        "x, x, x, need_weights=False",
        "x",
        (sample(3, 5, 16),),
    ),
    "per-head-weights": (
        "16, 2, dropout=0.1",
        "x, x, x, average_attn_weights=False",
        "x",
        (sample(5, 3, 16),),
    ),
    "cross-kdim-vdim": (
        "16, 4, kdim=8, vdim=12, batch_first=True",
        "q, k, v",
        "q, k, v",
        (sample(3, 5, 16), sample(3, 7, 8, seed=1), sample(3, 7, 12, seed=2)),
    ),
    "cross-packed": (
        "16, 4",
        "q, kv, kv",
        "q, kv",
        (sample(5, 3, 16), sample(6, 3, 16, seed=1)),
    ),
    "bias-kv-zero-attn": (
        "16, 4, bias=False, add_bias_kv=True, add_zero_attn=True",
        "x, x, x, key_padding_mask=m, attn_mask=a",
        "x, m, a",
        (sample(5, 3, 16), padding(3, 5, {1: 2}), CAUSAL),
    ),
    "key-padding-bool": (
        "16, 4, batch_first=True",
        "x, x, x, key_padding_mask=m",
        "x, m",
        (sample(3, 5, 16), padding(3, 5, {0: 1, 2: 3})),
    ),
    "key-padding-float": (
        "16, 4, batch_first=True",
        "x, x, x, key_padding_mask=m",
        "x, m",
        (sample(3, 5, 16), padding(3, 5, {0: 1, 2: 3}).float() * -1e4),
    ),
    "causal-bool": (
        "16, 4",
        "x, x, x, attn_mask=a, need_weights=False",
        "x, a",
        (sample(5, 3, 16), CAUSAL),
    ),
    "causal-hint": (
        "16, 4, batch_first=True",
        "x, x, x, attn_mask=a, need_weights=False, is_causal=True",
        "x, a",
        (sample(3, 5, 16), CAUSAL),
    ),
    "float-bias-and-padding": (
        "16, 4",
        "x, x, x, attn_mask=a, key_padding_mask=m",
        "x, a, m",
        (sample(5, 3, 16), sample(5, 5, seed=3), padding(3, 5, {1: 2})),
    ),
    "per-head-mask": (
        "16, 2, batch_first=True",
        "x, x, x, attn_mask=a",
        "x, a",
        (sample(3, 5, 16), torch.rand(6, 5, 5, generator=torch.Generator().manual_seed(4)) > 0.7),
    ),
    "unbatched": ("16, 4", "x, x, x", "x", (sample(5, 16),)),
    # torch's autograd path gives 0 for a fully padded row without weights (not the no_grad
    # fast path, which batch_first=False rules out here), NaN with them.
    "fully-padded-no-weights": (
        "16, 4",
        "x, x, x, key_padding_mask=m, need_weights=False",
        "x, m",
        (sample(5, 3, 16), padding(3, 5, {1: 5})),
    ),
    "fully-padded-weights": (
        "16, 4",
        "x, x, x, key_padding_mask=m",
        "x, m",
        (sample(5, 3, 16), padding(3, 5, {1: 5})),
    ),
}


@pytest.mark.parametrize("case", MHA_CASES)
def test_multihead_attention_is_exact(tmp_path, case):
    ctor, call, params, inputs = MHA_CASES[case]
    conversion = convert_checked(tmp_path, attention_source(ctor, call, params), inputs)
    keras_layer = conversion.keras_model.attn
    assert type(keras_layer).__name__ == "TorchMultiheadAttention"
    names = {t.torch_name for t in conversion.transfers}
    assert {"attn.out_proj.weight"} <= names
    if case.startswith("fully-padded"):  # the row is there, and as torch's
        out, _ = conversion.keras_model(*(tf.constant(x.numpy()) for x in inputs))
        row = out.numpy()[:, 1]
        assert np.isnan(row).all() if case == "fully-padded-weights" else np.isfinite(row).all()


def test_multihead_attention_gradients_match_torch(tmp_path):
    """The weights train alike: gradients of every torch parameter and of the input agree."""
    ctor, call, params, inputs = MHA_CASES["bias-kv-zero-attn"]
    conversion = convert_checked(tmp_path, attention_source(ctor, call, params), inputs)
    torch_model, keras_model = conversion.torch_model.eval(), conversion.keras_model
    x = inputs[0].clone().requires_grad_(True)
    out, weights = torch_model(x, *inputs[1:])
    (out.square().sum() + weights.sum()).backward()
    variables = conversion.parameter_map()
    pairs = [(n, p, variables[p]) for n, p in torch_model.named_parameters()]
    assert [n for n, _, _ in pairs] == [
        "attn.in_proj_weight",
        "attn.bias_k",
        "attn.bias_v",
        "attn.out_proj.weight",
    ]
    x_tf = tf.constant(inputs[0].numpy())
    with tf.GradientTape() as tape:
        tape.watch(x_tf)
        out_tf, weights_tf = keras_model(x_tf, *(tf.constant(m.numpy()) for m in inputs[1:]))
        loss = tf.reduce_sum(tf.square(out_tf)) + tf.reduce_sum(weights_tf)
    grads = tape.gradient(loss, [x_tf] + [v for _, _, v in pairs])
    expected = [x.grad] + [p.grad for _, p, _ in pairs]
    names = ["x"] + [n for n, _, _ in pairs]
    for name, want, got in zip(names, expected, grads, strict=True):
        want, got = want.numpy(), tf.convert_to_tensor(got).numpy()
        if name == "attn.out_proj.weight":
            got = got.T  # a Dense kernel
        assert np.abs(got - want).max() <= 1e-5 + 1e-4 * np.abs(want).max(), name


def test_multihead_attention_translation_reads_like_torch():
    source = attention_source("16, 4, batch_first=True, dropout=0.1", "x, x, x", "x")
    code = translate_source(source)
    assert translated_layer(source, "attn") == (
        "TorchMultiheadAttention(16, 4, dropout=0.1, batch_first=True)"
    )
    assert "self.attn(x, x, x, training=training)" in code
    assert "class TorchMultiheadAttention(tf.keras.layers.Layer)" in code
    assert "torch_sdpa" not in code  # only the helpers the file uses


def sdpa_source(arguments: str, params: str = "q, k, v") -> str:
    return HEADER + textwrap.dedent(
        f"""
        import torch.nn.functional as F


        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.proj = nn.Linear(8, 8)

            def forward(self, {params}):
                return F.scaled_dot_product_attention(self.proj(q), k, v{arguments})
        """
    )


def qkv(length: int = 4, source: int = 5, heads: int = 2, kv_heads: int = 2) -> tuple:
    return (
        sample(2, heads, length, 8),
        sample(2, kv_heads, source, 8, seed=1),
        sample(2, kv_heads, source, 8, seed=2),
    )


SDPA_CASES = {
    "plain": ("", "q, k, v", qkv()),
    "causal-square": (", is_causal=True", "q, k, v", qkv(5, 5)),
    "causal-wide": (", is_causal=True", "q, k, v", qkv(3, 6)),
    "causal-tall": (", is_causal=True", "q, k, v", qkv(6, 3)),
    "scale": (", scale=0.3", "q, k, v", qkv()),
    "dropout-in-train": (
        ", dropout_p=0.2 if self.training else 0.0",
        "q, k, v",
        qkv(),
    ),
    "bool-mask": (
        ", attn_mask=m",
        "q, k, v, m",
        (*qkv(), torch.rand(4, 5, generator=torch.Generator().manual_seed(5)) > 0.4),
    ),
    "float-mask": (", attn_mask=m", "q, k, v, m", (*qkv(), sample(2, 1, 4, 5, seed=6))),
    "mask-and-causal": (
        ", attn_mask=m, is_causal=True",
        "q, k, v, m",
        (*qkv(4, 4), torch.rand(4, 4, generator=torch.Generator().manual_seed(7)) > 0.3),
    ),
    "fully-masked-row": (
        ", attn_mask=m",
        "q, k, v, m",
        (*qkv(), torch.tensor([[1] * 5, [0] * 5, [1, 0, 1, 0, 1], [1] * 5], dtype=torch.bool)),
    ),
    "gqa": (", enable_gqa=True", "q, k, v", qkv(heads=4, kv_heads=2)),
}


@pytest.mark.parametrize("case", SDPA_CASES)
def test_scaled_dot_product_attention_is_exact(tmp_path, case):
    arguments, params, inputs = SDPA_CASES[case]
    conversion = convert_checked(tmp_path, sdpa_source(arguments, params), inputs)
    if case == "fully-masked-row":  # torch's 0, not Keras's uniform attention
        out = conversion.keras_model(*(tf.constant(x.numpy()) for x in inputs))
        assert np.all(out.numpy()[:, :, 1] == 0)


HAND_WRITTEN = HEADER + textwrap.dedent(
    """
    import math

    import torch.nn.functional as F


    class Attention(nn.Module):
        def __init__(self, dim, heads, block_size):
            super().__init__()
            self.heads = heads
            self.scale = (dim // heads) ** -0.5
            self.qkv = nn.Linear(dim, 3 * dim, bias=False)
            self.out = nn.Linear(dim, dim)
            self.drop = nn.Dropout(0.1)
            mask = torch.triu(torch.ones(block_size, block_size, dtype=torch.bool), diagonal=1)
            self.register_buffer("mask", mask)

        def forward(self, x):
            B, T, C = x.shape
            q, k, v = self.qkv(x).chunk(3, dim=-1)
            q = q.reshape(B, T, self.heads, C // self.heads).permute(0, 2, 1, 3)
            k = k.reshape(B, T, self.heads, C // self.heads).permute(0, 2, 1, 3)
            v = v.reshape(B, T, self.heads, C // self.heads).permute(0, 2, 1, 3)
            scores = torch.einsum("bhid,bhjd->bhij", q, k) * self.scale
            scores = scores.masked_fill(self.mask[:T, :T], float("-inf"))
            weights = self.drop(scores.softmax(dim=-1))
            y = torch.matmul(weights, v)
            return self.out(y.transpose(1, 2).reshape(B, T, C))
    """
)


def test_hand_written_attention_is_exact(tmp_path):
    convert_checked(
        tmp_path, HAND_WRITTEN, sample(2, 6, 16), class_name="Attention", args=(16, 4, 8)
    )


TOKENS = HEADER + textwrap.dedent(
    """
    import math


    class Encoder(nn.Module):
        def __init__(self, dim, length):
            super().__init__()
            self.cls_token = nn.Parameter(torch.randn(1, 1, dim))
            self.pos_embedding = nn.Parameter(torch.randn(1, length + 1, dim) * 0.02)
            self.attn = nn.MultiheadAttention(dim, 2, batch_first=True)
            self.norm = nn.LayerNorm(dim)

        def forward(self, x):
            B = x.shape[0]
            x = torch.cat((self.cls_token.expand(B, -1, -1), x), dim=1)
            x = x + self.pos_embedding[:, : x.size(1)]
            y = self.norm(x)
            x = x + self.attn(y, y, y, need_weights=False)[0]
            return x[:, 0]
    """
)


def test_class_token_and_learned_positions(tmp_path):
    convert_checked(tmp_path, TOKENS, sample(3, 4, 8), class_name="Encoder", args=(8, 4))


def test_tiny_gpt_converts_with_tied_weights(tmp_path):
    tokens = torch.randint(0, 65, (3, 12), generator=torch.Generator().manual_seed(0))
    conversion = convert_checked(tmp_path, GPT_FILE.read_text(), tokens, class_name="GPT")
    checked = {c.layer for c in conversion.checks[1].layers}
    assert {"blocks.1.attn", "blocks.0.mlp.gelu", "head"} <= checked
    # the tied weight stays one variable
    keras_model, torch_model = conversion.keras_model, conversion.torch_model
    assert keras_model.head.embedding.embeddings is keras_model.tok_emb.embeddings
    assert len(keras_model.trainable_variables) == len(list(torch_model.parameters()))
    assert "tok_emb.weight" in {t.torch_name for t in conversion.transfers}
    assert "head.weight" not in {t.torch_name for t in conversion.transfers}


def test_tiny_gpt_trains_like_torch_in_float64(tmp_path):
    """AdamW on next-character prediction: the tied embedding gets both gradients, as in torch."""
    from torch2tf.training import convert_loss, convert_optimizer

    module = load_module(tmp_path, GPT_FILE.read_text())
    torch.manual_seed(0)
    model = module.GPT(dropout=0.0).double()
    data = torch.randint(0, 65, (4, 13), generator=torch.Generator().manual_seed(2))
    x, y = data[:, :-1], data[:, 1:]
    conversion = torch2tf.convert(model, (), {"dropout": 0.0}, inputs=(x,))
    keras_model = conversion.keras_model
    torch_optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2, weight_decay=0.1)
    keras_optimizer = convert_optimizer(torch_optimizer, parameters=conversion.parameter_map())
    torch_loss, keras_loss = torch.nn.CrossEntropyLoss(), convert_loss(torch.nn.CrossEntropyLoss())
    variables = [conversion.parameter_map()[p] for p in model.parameters()]
    x_tf, y_tf = tf.constant(x.numpy()), tf.constant(y.numpy())
    for _ in range(10):
        torch_optimizer.zero_grad()
        loss = torch_loss(model(x).reshape(-1, 65), y.reshape(-1))
        loss.backward()
        torch_optimizer.step()
        with tf.GradientTape() as tape:
            keras_value = keras_loss(y_tf, keras_model(x_tf, training=True))
        keras_optimizer.apply(tape.gradient(keras_value, variables), variables)
        assert abs(float(keras_value) - loss.item()) <= 1e-6
    for parameter, variable in zip(model.parameters(), variables, strict=True):
        want = parameter.detach().numpy()
        got = variable.numpy().T if variable.path.endswith("kernel") else variable.numpy()
        assert np.abs(got - want).max() <= 1e-6


def test_math_sqrt_scale_stays_a_python_number():
    code = translate_source(GPT_FILE.read_text())
    assert "1.0 / math.sqrt(tf.keras.ops.shape(k)[-1])" in code
    assert math.isclose(1 / math.sqrt(8), 8**-0.5)


@pytest.mark.parametrize(
    ("statement", "message"),
    [
        (
            "F.scaled_dot_product_attention(x, x, x, is_causal=self.causal)",
            "is_causal= must be a literal bool",
        ),
        ("F.scaled_dot_product_attention(x, x, x, dropout_p=1.0)", "dropout_p=1.0"),
    ],
)
def test_attention_refusals_name_the_position(statement, message):
    source = HEADER + textwrap.dedent(
        f"""
        import torch.nn.functional as F


        class Net(nn.Module):
            def forward(self, x):
                return {statement}
        """
    )
    with pytest.raises(TranslationError) as error:
        translate_source(source, "attn.py")
    text = str(error.value)
    assert "attn.py:9:" in text and message in text


def test_multihead_attention_refusals():
    source = attention_source("16, 4, batch_first=flag", "x, x, x", "x").replace(
        "def __init__(self)", "def __init__(self, flag)"
    )
    with pytest.raises(TranslationError, match=r"attn.py:8:21: .*batch_first= must be a literal"):
        translate_source(source, "attn.py")


def test_loaded_module_runs_in_torch(tmp_path):
    """The GPT test file is real torch code (a guard for the shipped model file)."""
    module = load_module(tmp_path, GPT_FILE.read_text())
    logits = module.GPT()(torch.zeros(2, 4, dtype=torch.long))
    assert logits.shape == (2, 4, 65)


def encoder_source(layer_args: str, encoder_args: str = "num_layers=2") -> str:
    return HEADER + textwrap.dedent(
        f"""

        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                layer = nn.TransformerEncoderLayer({layer_args})
                self.encoder = nn.TransformerEncoder(layer, {encoder_args})
                self.head = nn.Linear(8, 3)

            def forward(self, x, mask, padding):
                return self.head(self.encoder(x, mask=mask, src_key_padding_mask=padding))
        """
    )


ENCODER_CASES = {
    "post-norm-relu": ("8, 2, dim_feedforward=16, batch_first=True", "num_layers=2"),
    "pre-norm-gelu": (
        "8, 2, 16, 0.2, 'gelu', layer_norm_eps=1e-6, batch_first=True, norm_first=True",
        "2, norm=nn.LayerNorm(8), enable_nested_tensor=False",
    ),
    "seq-first-gelu": (
        "8, 2, dim_feedforward=16, activation='gelu'",
        "num_layers=1, enable_nested_tensor=False",
    ),
}


@pytest.mark.parametrize("case", ENCODER_CASES)
def test_transformer_encoder_is_exact(tmp_path, case):
    layer_args, encoder_args = ENCODER_CASES[case]
    source = encoder_source(layer_args, encoder_args)
    source = source.replace(
        "import torch.nn as nn\n", "import torch.nn as nn\nimport torch.nn.functional as F\n"
    )
    batch_first = "batch_first=True" in layer_args
    x = sample(3, 5, 8) if batch_first else sample(5, 3, 8)
    causal = torch.triu(torch.ones(5, 5, dtype=torch.bool), diagonal=1)
    conversion = convert_checked(tmp_path, source, (x, causal, padding(3, 5, {1: 2})))
    checked = {c.layer for c in conversion.checks[0].layers}
    assert "encoder.layers.0.self_attn" in checked or "encoder" in checked
