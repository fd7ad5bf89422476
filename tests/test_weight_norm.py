"""torch.nn.utils.weight_norm (old API and parametrizations) -> TorchWeightNorm: the layer's
kernel is g * v / ||v||, g and v trained as torch trains them."""

from __future__ import annotations

import textwrap
import warnings

import numpy as np
import pytest
import tensorflow as tf
import torch
from tcn_weight_norm import TinyTCN
from torch import nn
from torch.nn.utils import parametrizations, weight_norm
from torch.nn.utils.parametrizations import weight_norm as parametrized_weight_norm
from torch.nn.utils.weight_norm import weight_norm as module_weight_norm

import torch2tf
from torch2tf import TranslationError
from torch2tf.training import convert_loss, convert_optimizer

warnings.filterwarnings("ignore", "`torch.nn.utils.weight_norm` is deprecated", FutureWarning)


class Head(nn.Module):
    """DINO's head idiom: a weight-normalised last layer, g filled with 1 and frozen."""

    def __init__(self, d_in: int, d_out: int, norm_last: bool = True) -> None:
        super().__init__()
        self.fc = weight_norm(nn.Linear(d_in, 16))
        self.act = nn.Tanh()
        self.mid = parametrizations.weight_norm(nn.Linear(16, 16), dim=None)
        self.last = nn.Linear(16, d_out, bias=False)
        self.last = nn.utils.weight_norm(self.last)
        self.last.weight_g.data.fill_(1)
        if norm_last:
            self.last.weight_g.requires_grad = False

    def forward(self, x):
        return self.last(self.act(self.mid(self.act(self.fc(x)))))


def test_a_weight_normalised_head_converts_in_eval_and_train_mode():
    torch.manual_seed(0)
    model = Head(8, 5)
    result = torch2tf.convert(model, args=(8, 5), inputs=torch.randn(16, 8))
    assert [c.mode for c in result.checks] == ["eval", "train"]
    assert result.passed, result.table()
    assert "self.last.g_trainable = False" in result.source
    assert "g_initializer=tf.keras.initializers.Constant(1)" in result.source
    names = {t.torch_name: t.keras_name for t in result.transfers}
    assert names["fc.weight_g"].endswith("fc/g") and names["fc.weight_v"].endswith("kernel")
    assert names["mid.parametrizations.weight.original0"].endswith("mid/g")
    trainable = {v.path.split("/", 1)[1]: v.trainable for v in result.keras_model.weights}
    assert trainable["last/g"] is False and trainable["fc/g"] is True


def test_g_starts_at_the_norm_of_v_as_in_torch():
    torch.manual_seed(0)
    model = Head(8, 5, norm_last=False)
    keras_model = torch2tf.convert(model, args=(8, 5, False)).keras_model
    fresh = type(keras_model)(8, 5, False)  # the generated class, weights drawn afresh
    fc_v = fresh.fc.layer.kernel.numpy()
    np.testing.assert_allclose(fresh.fc.g.numpy(), np.linalg.norm(fc_v, axis=0, keepdims=True))
    mid_v = fresh.mid.layer.kernel.numpy()
    np.testing.assert_allclose(fresh.mid.g.numpy(), np.linalg.norm(mid_v), rtol=1e-6)
    np.testing.assert_array_equal(fresh.last.g.numpy(), np.ones((1, 5)))
    assert fresh.last.g.trainable  # norm_last=False leaves weight_g trained


def test_a_tcn_of_weight_normalised_dilated_convs_converts():
    torch.manual_seed(0)
    model = TinyTCN()
    result = torch2tf.convert(model, inputs=torch.randn(4, 3, 20))
    assert result.passed, result.table()
    for check in result.checks:
        convs = [c for c in check.layers if c.keras_type == "TorchWeightNorm"]
        assert len(convs) == 5 and all(c.passed for c in convs), result.table()
    # torch recomputes weight from g and v: the init of weight after weight_norm is left out
    assert "normal" not in result.source.split("class DilatedBlock")[1]


def test_weight_normalised_layers_train_like_torch_in_float64():
    torch.manual_seed(0)
    model = Head(8, 5).double()
    x = torch.randn(32, 8, dtype=torch.float64)
    y = torch.randint(0, 5, (32,))
    result = torch2tf.convert(model, args=(8, 5), inputs=x)
    assert result.passed, result.table()
    keras_model = result.keras_model
    torch_optimizer = torch.optim.SGD(
        [p for p in model.parameters() if p.requires_grad], lr=0.5, momentum=0.9
    )
    keras_optimizer = convert_optimizer(torch_optimizer, parameters=result.parameter_map())
    loss_module = nn.CrossEntropyLoss()
    keras_loss = convert_loss(loss_module)
    keras_x, keras_y = tf.constant(x.numpy()), tf.constant(y.numpy())
    for _ in range(20):
        torch_optimizer.zero_grad()
        torch_loss = loss_module(model(x), y)
        torch_loss.backward()
        torch_optimizer.step()
        with tf.GradientTape() as tape:
            keras_value = keras_loss(keras_y, keras_model(keras_x, training=True))
        variables = keras_model.trainable_variables
        keras_optimizer.apply(tape.gradient(keras_value, variables), variables)
        assert abs(float(keras_value) - torch_loss.item()) < 1e-12
    trained = [v.path.split("/", 1)[1] for v in keras_model.trainable_variables]
    assert "last/g" not in trained and len(trained) == 7  # frozen, as torch's weight_g
    for param, variable in result.parameter_map().items():
        torch_value = param.detach().numpy()
        keras_value = variable.numpy()
        if torch_value.ndim == 2:
            torch_value = torch_value.T
        np.testing.assert_allclose(keras_value, torch_value, rtol=1e-10, atol=1e-12)


class NormedCNN(nn.Module):
    """Conv2d (both APIs, dim 0 and 1, padded and strided) and a Sequential of Linears."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = module_weight_norm(nn.Conv2d(3, 8, 3, padding=1), dim=0)
        self.conv2 = parametrized_weight_norm(nn.Conv2d(8, 8, 3, stride=2, bias=False), dim=1)
        self.mlp = nn.Sequential(
            weight_norm(nn.Linear(8, 16)), nn.ReLU(), parametrized_weight_norm(nn.Linear(16, 4))
        )

    def forward(self, x):
        x = torch.relu(self.conv2(torch.relu(self.conv(x))))
        return self.mlp(x.mean(dim=(2, 3)))


def test_weight_normalised_conv2d_and_sequential_convert_and_export(tmp_path):
    torch.manual_seed(0)
    result = torch2tf.convert(NormedCNN(), inputs=torch.randn(2, 3, 9, 9))
    assert result.passed, result.table()
    assert sum(c.keras_type == "TorchWeightNorm" for c in result.checks[0].layers) == 4
    result.save(tmp_path, formats=["keras"])  # reloaded in a TensorFlow-only process
    assert result.exports["keras"]["passed"], result.exports


@pytest.mark.parametrize(
    "line, message",
    [
        ("self.fc = weight_norm(nn.Embedding(10, 4))", r"weight_norm of torch\.nn\.Embedding"),
        ("self.fc = weight_norm(nn.Linear(4, 4), name='bias')", r"only the layer's 'weight'"),
        ("self.fc = weight_norm(nn.Linear(4, 4), dim=d)", r"dim must be a literal"),
    ],
)
def test_what_is_not_translated_is_reported(line, message):
    source = textwrap.dedent(
        f"""
        from torch import nn
        from torch.nn.utils import weight_norm

        class M(nn.Module):
            def __init__(self, d=0):
                super().__init__()
                {line}

            def forward(self, x):
                return self.fc(x)
        """
    )
    with pytest.raises(TranslationError, match=message):
        torch2tf.translate_source(source)


def test_weight_v_initialised_after_weight_norm_is_refused():
    source = textwrap.dedent(
        """
        from torch import nn
        from torch.nn.utils import weight_norm

        class M(nn.Module):
            def __init__(self):
                super().__init__()
                self.fc = weight_norm(nn.Linear(4, 4))
                nn.init.zeros_(self.fc.weight_v)

            def forward(self, x):
                return self.fc(x)
        """
    )
    with pytest.raises(TranslationError, match=r"init of weight_v after weight_norm"):
        torch2tf.translate_source(source)


def test_a_live_sequential_of_weight_normalised_layers_converts_from_its_tree():
    torch.manual_seed(0)
    model = nn.Sequential(
        weight_norm(nn.Linear(6, 8), dim=None),
        nn.Tanh(),
        parametrized_weight_norm(nn.Linear(8, 3), dim=1),
    )
    model[0].weight_g.requires_grad = False
    result = torch2tf.convert(model, inputs=torch.randn(5, 6))
    assert result.passed, result.table()
    assert "dim=-1,\n                g_trainable=False" in result.source
    g = {v.path.split("/")[-2]: v for v in result.keras_model.weights if v.path.endswith("/g")}
    assert [(tuple(v.shape), v.trainable) for v in g.values()] == [((), False), ((8, 1), True)]


class FlattenedHead(nn.Module):
    """A weight-normalised Linear over a flattened channels-last map, g per input (dim=1)."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(2, 3, 3, padding=1)
        self.fc = weight_norm(nn.Linear(3 * 4 * 4, 5), dim=1)

    def forward(self, x):
        return self.fc(torch.flatten(torch.relu(self.conv(x)), 1))


def test_g_per_input_row_follows_the_kernel_rows_after_a_flatten():
    torch.manual_seed(0)
    result = torch2tf.convert(FlattenedHead(), inputs=torch.randn(2, 2, 4, 4))
    assert result.flattened_rows == {"fc": 3}
    assert result.passed, result.table()
