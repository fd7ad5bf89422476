"""A small ViT written the way minimal ViT implementations are (tests/models/tiny_vit.py):
strided-convolution patch embedding, class token, learned positions, pre-norm blocks with
nn.MultiheadAttention and with attention written out, MLP head. It converts with no edits
(per layer, eval and train mode, float32: atol 1e-5, rtol 1e-4) and trains in float64 within
1e-6 of torch over 60 steps with SGD-momentum, Adam and AdamW."""

from __future__ import annotations

from pathlib import Path

import pytest
import tensorflow as tf
import torch
from layer_harness import convert_checked, load_module, module_source, translated_layer

import torch2tf
from torch2tf.errors import TranslationError
from torch2tf.parity_training import weight_difference
from torch2tf.training import convert_loss, convert_optimizer
from torch2tf.translate import translate_source

VIT_FILE = Path(__file__).parent / "models" / "tiny_vit.py"


def images(batch: int, seed: int = 0) -> torch.Tensor:
    return torch.randn(batch, 3, 32, 32, generator=torch.Generator().manual_seed(seed))


def test_tiny_vit_converts_with_no_edits(tmp_path):
    conversion = convert_checked(tmp_path, VIT_FILE.read_text(), images(3), class_name="ViT")
    for check in conversion.checks:
        checked = {c.layer for c in check.layers}
        assert {"patch_embed.proj", "blocks.0.attn", "blocks.1.attn.qkv", "head"} <= checked
    names = {t.torch_name for t in conversion.transfers}
    assert {"cls_token", "pos_embedding", "blocks.0.attn.in_proj_weight"} <= names
    assert len(names) == len(conversion.torch_model.state_dict())


OPTIMIZERS = {
    "sgd-momentum": lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.9, nesterov=True),
    "adam": lambda p: torch.optim.Adam(p, lr=3e-3),
    "adamw": lambda p: torch.optim.AdamW(p, lr=3e-3, weight_decay=0.05),
}


@pytest.fixture
def one_torch_thread():
    """A small model: more torch threads only contend (60 steps went from seconds to a
    minute on a loaded 2-core machine)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.mark.parametrize("optimizer", OPTIMIZERS)
@pytest.mark.usefixtures("one_torch_thread")
def test_tiny_vit_trains_like_torch_in_float64(tmp_path, optimizer):
    module = load_module(tmp_path, VIT_FILE.read_text())
    torch.manual_seed(0)
    model = module.ViT(dropout=0.0).double()
    x = images(8).double()
    y = torch.randint(0, 10, (8,), generator=torch.Generator().manual_seed(1))
    conversion = torch2tf.convert(model, (), {"dropout": 0.0}, inputs=(x,))
    keras_model = conversion.keras_model
    torch_optimizer = OPTIMIZERS[optimizer](model.parameters())
    parameters = conversion.parameter_map()
    keras_optimizer = convert_optimizer(torch_optimizer, parameters=parameters)
    torch_loss, keras_loss = torch.nn.CrossEntropyLoss(), convert_loss(torch.nn.CrossEntropyLoss())
    variables = [parameters[p] for p in model.parameters()]
    (x_tf,) = conversion.keras_inputs(x)
    y_tf = tf.constant(y.numpy())

    @tf.function  # traced once: 60 eager steps of this model take minutes on a small CPU
    def keras_step():
        with tf.GradientTape() as tape:
            value = keras_loss(y_tf, keras_model(x_tf, training=True))
        keras_optimizer.apply(tape.gradient(value, variables), variables)
        return value

    for step in range(60):
        torch_optimizer.zero_grad()
        loss = torch_loss(model(x), y)
        loss.backward()
        torch_optimizer.step()
        assert abs(float(keras_step()) - loss.item()) <= 1e-6, step
    assert weight_difference(model, keras_model) <= 1e-6


def test_patch_embedding_stride_may_be_a_variable():
    """stride=patch_size (a name) is exact with zero padding; with a dilation too, as Keras
    itself refuses a stride > 1 with a dilation > 1 when it builds the layer (loudly)."""
    source = module_source("nn.Conv2d(3, 8, kernel_size=p, stride=p)", after=None, params="p=4")
    assert "strides=p" in translated_layer(source)
    dilated = source.replace("stride=p)", "stride=p, dilation=2)")
    assert "strides=p, dilation_rate=2" in translated_layer(dilated)
    same = source.replace("stride=p)", "stride=p, padding='same')")
    with pytest.raises(TranslationError, match=r"vit.py:\d+:\d+: .*padding='same' needs stride 1"):
        translate_source(same, "vit.py")
