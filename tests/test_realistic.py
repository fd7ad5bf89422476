"""MLP-family code in the styles of popular libraries converts exactly (eval and train)."""

import pytest
import torch
from gan_style import PackedCritic, RowGenerator
from rl_style import ActorCriticMlp
from tabular_style import TabularMLP
from torch import nn

import torch2tf


def convert(model, args=(), kwargs=None, inputs=None):
    result = torch2tf.convert(model, args, kwargs, inputs=inputs)
    assert result.passed, result.table()
    return result


def test_gan_generator_with_widening_residual_blocks():
    torch.manual_seed(0)
    result = convert(RowGenerator(8, (16, 16), 5), args=(8, (16, 16), 5))
    assert "torch.cat" not in result.source and "tf.concat([out, input_], axis=1)" in result.source


def test_gan_critic_on_packed_rows():
    torch.manual_seed(0)
    model = PackedCritic(5, (16, 8), pac=2)
    convert(model, args=(5, (16, 8)), kwargs={"pac": 2}, inputs=torch.randn(8, 5))


@pytest.mark.parametrize(
    "arch, activation", [([16, 16], nn.Tanh), ({"pi": [8], "vf": [8, 8]}, nn.ReLU)]
)
def test_actor_critic_heads_in_helper_methods(arch, activation):
    torch.manual_seed(0)
    result = convert(ActorCriticMlp(6, arch, activation), args=(6, arch, activation))
    assert "def forward_actor(self, features: tf.Tensor, training=None)" in result.source
    assert "self.forward_actor(features, training=training)" in result.source


def test_tabular_mlp_with_embeddings_buffer_and_functional_dropout():
    torch.manual_seed(0)
    kwargs = dict(d_in=4, d_layers=[8, 8], dropout=0.1, d_out=1, categories=[3, 5], d_embedding=2)
    model = TabularMLP(**kwargs)
    x_cat = torch.stack([torch.randint(0, 3, (6,)), torch.randint(0, 5, (6,))], 1)
    result = convert(model, kwargs=kwargs, inputs=(torch.randn(6, 4), x_cat))
    assert "self.layers_ = [" in result.source  # Keras reserves `layers`
    assert "torch_variable(" in result.source  # a buffer computed from data
    assert 'VarianceScaling(\n                    0.33333333333333326, "fan_out"' in result.source


@pytest.mark.parametrize(
    "name, args, inputs",
    [
        ("MnistMLP", (), (4, 1, 28, 28)),  # Flatten, ModuleList.append, apply + .data.normal_
        ("ResMLP", (6, 8, 2, 3), (4, 5, 6)),  # pre-norm blocks on (N, L, D) input
        ("ResMLP", (6, 8, 2, 3), (4, 6)),  # ... and on (N, D)
        ("VAE", (10, 3), (4, 10)),  # sampling in train mode: compared at its expectation
    ],
)
def test_more_styles(name, args, inputs):
    import more_styles

    torch.manual_seed(0)
    model = getattr(more_styles, name)(*args)
    convert(model, args=args, inputs=torch.rand(inputs))


def test_sampling_is_random_again_after_the_check():
    import tensorflow as tf
    from more_styles import VAE

    torch.manual_seed(0)
    result = convert(VAE(10, 3), args=(10, 3), inputs=torch.rand(4, 10))
    x = tf.random.uniform((4, 10))
    first, second = (result.keras_model(x, training=True)[0] for _ in range(2))
    assert float(tf.reduce_max(tf.abs(first - second))) > 0
