"""A live torch container (from a factory function) converts from its module tree alone."""

import pytest
import torch
from torch import nn

import torch2tf


def make_mlp(inputs: int, hidden: int, outputs: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Linear(inputs, hidden),
        nn.BatchNorm1d(hidden, momentum=0.2),
        nn.ReLU(),
        nn.Dropout(0.1),
        nn.Sequential(nn.Linear(hidden, hidden), nn.ReLU()),
        nn.Linear(hidden, outputs, bias=False),
    )


@pytest.fixture(scope="module")
def conversion():
    torch.manual_seed(0)
    model = make_mlp(5, 8, 3)
    model.train()
    with torch.no_grad():
        for _ in range(3):  # move the BatchNorm statistics away from 0 and 1
            model(torch.randn(16, 5) * 2 + 1)
    return model.eval(), torch2tf.convert(model)


def test_source_is_rebuilt_from_the_modules(conversion):
    _, result = conversion
    assert "def build_model():" in result.source
    assert "TorchBatchNorm(momentum=0.8, epsilon=1e-05)" in result.source
    assert "tf.keras.layers.Dense(3, use_bias=False" in result.source.replace("\n", " ").replace(
        "( ", "("
    ).replace("  ", "")
    assert "model.build((None, 5))" in result.source


def test_weights_and_outputs_match(conversion):
    model, result = conversion
    assert result.passed, result.table()
    assert len(result.transfers) == 9  # 3 Linear weights, 2 biases, BatchNorm's 4 tensors
    assert model.training is False


def test_saved_output_reloads_with_tensorflow_only(conversion, tmp_path):
    _, result = conversion
    result.save(tmp_path / "out")
    from torch2tf.generated import load_generated

    module = load_generated((tmp_path / "out" / "sequential_model.py").read_text(), "reloaded")
    rebuilt = module.build_model()
    rebuilt.load_weights(tmp_path / "out" / "Sequential.weights.h5")
    x = torch.randn(4, 5)
    expected = result.keras_model(x.numpy(), training=False)
    assert float(abs(rebuilt(x.numpy(), training=False) - expected).numpy().max()) == 0.0


def test_modules_without_a_rule_are_named():
    class Odd(nn.Module):
        def forward(self, x):
            return x

    with pytest.raises(torch2tf.ConversionError, match=r"^1: expected a torch layer .* Odd"):
        torch2tf.convert(nn.Sequential(nn.Linear(2, 2), Odd()))
