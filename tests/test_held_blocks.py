"""Blocks held in a plain list, registered through an ``nn.ParameterList`` of their parameters
under a name that shadows nn.Module's own method (the N-BEATS idiom): ``self.parameters = []``,
``self.parameters.extend(block.parameters())``, ``self.parameters = nn.ParameterList(...)``;
a subclass built from its base's input size; ``torch.zeros(size=...)`` and ``Tensor.mm``."""

from __future__ import annotations

import textwrap

import numpy as np
import pytest
import tensorflow as tf
import torch
import torch.nn.functional as F
from torch import nn

import torch2tf
from torch2tf import TranslationError


class Block(nn.Module):
    def __init__(self, units, width, device="cpu"):
        super().__init__()
        self.fc1 = nn.Linear(width, units)
        self.fc2 = nn.Linear(units, units)
        self.device = device

    def forward(self, x):
        x = F.relu(self.fc1(x.to(self.device)))  # x.to(device): still the input's size
        return F.relu(self.fc2(x))


class HeadBlock(Block):
    def __init__(self, units, width, out, device="cpu"):
        super().__init__(units, width, device)
        self.head = nn.Linear(units, out, bias=False)
        self.basis = nn.Linear(out, out)

    def forward(self, x):
        x = super().forward(x)
        theta = self.head(x)
        return self.basis(theta.mm(theta.t()).mm(theta) / 16)


class Stacked(nn.Module):
    def __init__(self, width=8, units=16, out=3, n_blocks=2):
        super().__init__()
        self.out = out
        self.stacks = []
        self.parameters = []
        for _ in range(n_blocks):
            block = HeadBlock(units, width, out)
            self.parameters.extend(block.parameters())
            self.stacks.append([block])
        self.parameters = nn.ParameterList(self.parameters)
        self.keep = False  # a Python-side switch for introspection, as N-BEATS has
        self.kept = []

    def forward(self, x):
        total = torch.zeros(size=(x.size()[0], self.out))
        for stack in self.stacks:
            for block in stack:
                total = total + block(x)
                if self.keep:
                    self.kept.append(total.detach().numpy())
        return total


def test_blocks_in_a_plain_list_registered_by_a_parameter_list_convert():
    torch.manual_seed(0)
    model = Stacked()
    assert [n for n, _ in model.named_modules()] == ["", "parameters"]  # blocks unregistered
    result = torch2tf.convert(model, inputs=torch.randn(16, 8))
    assert [c.mode for c in result.checks] == ["eval", "train"]
    assert result.passed, result.table()
    keras = result.keras_model
    assert [v.path for v in keras.parameters] == [
        v.path for stack in keras.stacks for block in stack for v in block.trainable_weights
    ]
    moved = {t["torch"] for t in result.report["weights"]}
    assert {"stacks.0.0.fc1.weight", "stacks.1.0.basis.bias"} <= moved
    assert not any(name.startswith("parameters.") for name in moved)  # the same tensors
    source = result.source
    assert "self.parameters = torch_parameter_list(self.parameters)" in source
    assert "self.parameters.extend(torch_parameters(block))" in source
    assert "tf.zeros((tf.keras.ops.shape(x)[0], self.out))" in source
    assert "self.kept.append(torch_numpy(tf.stop_gradient(total)))" in source
    x = tf.random.normal((4, 8), seed=1)
    keras.keep = True
    eager = keras(x, training=False)  # eager, as torch's forward: the same arrays kept
    np.testing.assert_allclose(keras.kept[-1], eager.numpy())
    with pytest.raises(RuntimeError, match="a traced TensorFlow graph has no values"):
        tf.function(lambda t: keras(t, training=False))(x)
    # the subclass is built from its base's input size, the base only for itself
    assert "if type(self) is Block:\n            self(tf.keras.Input(shape=(width,)))" in source
    head = source.split("class HeadBlock")[1]
    assert "self(tf.keras.Input(shape=(width,)))" in head


def _translate(body: str) -> str:
    source = "import torch\nfrom torch import nn\n\n" + textwrap.dedent(body)
    return torch2tf.translate_source(source)


def test_the_shadowed_name_read_in_forward_after_torch_registered_it_is_refused():
    # torch registers the ParameterList, so self.parameters reads as the method again there
    message = r"14:33: error: self\.parameters reads as nn\.Module's method"
    with pytest.raises(TranslationError, match=message):
        _translate(
            """
            class M(nn.Module):
                def __init__(self):
                    super().__init__()
                    self.fc = nn.Linear(4, 4)
                    self.parameters = []
                    self.parameters.extend(self.fc.parameters())
                    self.parameters = nn.ParameterList(self.parameters)

                def forward(self, x):
                    return self.fc(x) * len(self.parameters)
            """
        )


def test_a_plain_shadowing_value_reads_in_forward_and_calls_stay_refused():
    code = _translate(
        """
        class M(nn.Module):
            def __init__(self, kind):
                super().__init__()
                self.fc = nn.Linear(4, 4)
                self.type = kind

            def forward(self, x):
                return self.fc(x) if self.type == "a" else -x
        """
    )
    assert 'if self.type == "a"' in code
    with pytest.raises(TranslationError, match=r"self\.parameters is torch's"):
        _translate(
            """
            class M(nn.Module):
                def __init__(self):
                    super().__init__()
                    self.fc = nn.Linear(4, 4)
                    self.parameters = []

                def forward(self, x):
                    return self.fc(x) * len(list(self.parameters()))
            """
        )


class Normed(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 4)
        self.register_buffer("scale", torch.full((4,), 2.0))

    def forward(self, x):
        return self.fc(x) * self.scale


class ListsNormedParameters(nn.Module):
    def __init__(self):
        super().__init__()
        self.blocks = [Normed()]
        self.params = nn.ParameterList(self.blocks[0].parameters())

    def forward(self, x):
        return self.blocks[0](x)


def test_parameters_of_a_layer_with_buffers_raises_instead_of_listing_them():
    # Keras's non-trainable variables are torch's buffers or frozen parameters: not told apart
    torch.manual_seed(0)
    with pytest.raises(Exception, match="non-trainable variables"):
        torch2tf.convert(ListsNormedParameters(), inputs=torch.randn(16, 4))
