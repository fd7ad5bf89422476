"""convert() on the seed models against real torch: weights, init, dtype, eval and train parity."""

import math

import numpy as np
import pytest
import tensorflow as tf
import torch
from conftest import EXAMPLES
from seed_mlps import PyTorchMLP, PyTorchMLPComplex, PyTorchMLPInit

import torch2tf
from torch2tf.conversion import infer_inputs
from torch2tf.generated import load_generated
from torch2tf.translate import translate_file

ATOL, RTOL = 1e-5, 1e-4
COMPLEX = dict(input_size=784, hidden_size1=512, hidden_size2=256, output_size=10, dropout_rate=0.2)


@pytest.fixture(scope="module")
def generated():
    """The translated seed file, executed as a module (definitions only)."""
    return load_generated(translate_file(EXAMPLES / "seed_mlps.py"), "seed_mlps_tf")


def trained_complex() -> PyTorchMLPComplex:
    """A PyTorchMLPComplex whose BatchNorm statistics are far from their initial 0/1."""
    torch.manual_seed(0)
    model = PyTorchMLPComplex(**COMPLEX)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05)
    model.train()
    for _ in range(10):
        x = torch.randn(64, 784) * 2 + 0.5
        loss = model(x).square().mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    model.eval()
    return model


def assert_close(torch_value, keras_value, atol=ATOL, rtol=RTOL):
    expected = torch_value.detach().numpy() if hasattr(torch_value, "detach") else torch_value
    np.testing.assert_allclose(np.asarray(keras_value), expected, atol=atol, rtol=rtol)


@pytest.mark.parametrize("name", ["PyTorchMLP", "PyTorchMLPComplex", "PyTorchMLPInit"])
def test_weights_exist_at_construction(generated, name):
    args = (32, 16, 8, 4, 0.1) if name == "PyTorchMLPComplex" else (32, 16, 4)
    model = getattr(generated, name)(*args)
    assert model.built and model.weights
    assert model.fc1.kernel.shape == (32, 16)
    model.set_weights([w * 0 for w in model.get_weights()])
    assert not any(v.numpy().any() for v in model.weights)


def test_batchnorm_carries_torch_momentum_and_epsilon(generated):
    model = generated.PyTorchMLPComplex(32, 16, 8, 4, 0.1)
    for bn in (model.bn1, model.bn2):
        assert isinstance(bn, tf.keras.layers.BatchNormalization)
        assert bn.momentum == pytest.approx(0.9) and bn.epsilon == pytest.approx(1e-5)


def test_xavier_class_gets_glorot_kernels_and_zero_biases(generated):
    model = generated.PyTorchMLPInit(784, 256, 10)
    for dense, fan_in, fan_out in ((model.fc1, 784, 256), (model.fc2, 256, 10)):
        kernel = dense.kernel.numpy()
        bound = math.sqrt(6 / (fan_in + fan_out))
        assert np.abs(kernel).max() <= bound
        assert kernel.std() == pytest.approx(bound / math.sqrt(3), rel=0.1)
        assert not dense.bias.numpy().any()


def test_plain_class_gets_torch_default_distributions(generated):
    # Sizes large enough that a 10% band on the sample std is many standard errors wide.
    model = generated.PyTorchMLP(1024, 4096, 512)
    torch.manual_seed(0)
    torch_model = PyTorchMLP(1024, 4096, 512)
    for dense, linear in ((model.fc1, torch_model.fc1), (model.fc2, torch_model.fc2)):
        expected_std = 1 / math.sqrt(3 * linear.in_features)
        for keras_value, torch_value in ((dense.kernel, linear.weight), (dense.bias, linear.bias)):
            values = np.asarray(keras_value)
            assert values.std() == pytest.approx(expected_std, rel=0.1)
            assert torch_value.detach().std().item() == pytest.approx(expected_std, rel=0.1)
            assert np.abs(values).max() <= 1 / math.sqrt(linear.in_features)


def test_trained_complex_matches_in_eval_mode_at_batch_256():
    model = trained_complex()
    assert (model.bn1.running_var - 1).abs().mean() > 0.1  # the statistics really moved
    assert model.bn1.running_mean.abs().mean() > 0.1
    inputs = torch.randn(256, 784, generator=torch.Generator().manual_seed(1)) * 2 + 0.5
    result = torch2tf.convert(model, kwargs=COMPLEX, inputs=inputs)
    assert result.passed, result.table()
    with torch.no_grad():
        expected = model(inputs)
    assert_close(expected, result.keras_model(tf.constant(inputs.numpy()), training=False))
    assert result.max_abs_error < 1e-4


def test_three_train_mode_batches_keep_outputs_and_statistics_together():
    model = trained_complex()
    result = torch2tf.convert(model, kwargs=COMPLEX)
    keras_model = result.keras_model
    for layer in (model.dropout1, model.dropout2):
        layer.p = 0.0  # dropout masks come from different RNGs; compare everything else
    keras_model.dropout1.rate = keras_model.dropout2.rate = 0.0
    model.train()
    generator = torch.Generator().manual_seed(2)
    for _ in range(3):
        x = torch.randn(32, 784, generator=generator) * 3 - 1
        with torch.no_grad():
            expected = model(x)
        received = keras_model(tf.constant(x.numpy()), training=True)
        assert_close(expected, received, atol=1e-4, rtol=1e-4)
        for bn, keras_bn in ((model.bn1, keras_model.bn1), (model.bn2, keras_model.bn2)):
            assert_close(bn.running_mean, keras_bn.moving_mean, atol=1e-6, rtol=1e-5)
            assert_close(bn.running_var, keras_bn.moving_variance, atol=1e-6, rtol=1e-5)


def test_convert_leaves_both_models_as_they_were():
    model = trained_complex()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    result = torch2tf.convert(model, kwargs=COMPLEX)
    assert not model.training
    for key, value in model.state_dict().items():
        assert torch.equal(value, before[key]), key
    assert_close(model.bn1.running_var, result.keras_model.bn1.moving_variance, atol=0, rtol=0)


def test_float64_model_converts_to_float64_variables():
    torch.manual_seed(0)
    model = PyTorchMLPComplex(**COMPLEX).double().eval()
    result = torch2tf.convert(model, kwargs=COMPLEX, atol=1e-12, rtol=1e-10)
    assert {v.dtype for v in result.keras_model.weights} == {"float64"}
    assert result.passed, result.table()
    assert tf.keras.config.dtype_policy().name == "float32"  # the global policy is restored


def test_report_names_layers_and_modes():
    torch.manual_seed(0)
    result = torch2tf.convert(PyTorchMLPInit(20, 16, 3), args=(20, 16, 3))
    report = result.report
    assert report["passed"] and report["atol"] == ATOL and report["rtol"] == RTOL
    assert {(row["mode"], row["layer"]) for row in report["layers"]} == {
        (mode, layer) for mode in ("eval", "train") for layer in ("fc1", "relu", "fc2")
    }
    assert "torch_model" not in repr(result)
    assert (
        isinstance(result.source, str) and "class PyTorchMLPInit(tf.keras.Model)" in result.source
    )


def test_a_wrong_weight_is_caught_and_its_layer_named():
    torch.manual_seed(0)
    model = PyTorchMLPComplex(**COMPLEX).eval()
    result = torch2tf.convert(model, kwargs=COMPLEX)
    result.keras_model.bn2.moving_variance.assign(result.keras_model.bn2.moving_variance * 2)
    from torch2tf.verify import check

    outcome = check(model, result.keras_model, infer_inputs(model))
    assert not outcome.passed and outcome.first_divergent_layer == "bn2"


def test_parameter_map_pairs_each_parameter_with_its_variable():
    torch.manual_seed(0)
    model = PyTorchMLPComplex(**COMPLEX)
    result = torch2tf.convert(model, kwargs=COMPLEX)
    mapping = result.parameter_map()
    assert len(mapping) == len(list(model.parameters()))
    assert_close(model.fc1.weight.T, mapping[model.fc1.weight], atol=0, rtol=0)
    assert mapping[model.bn1.weight] is result.keras_model.bn1.gamma


def test_functional_dropout_is_off_during_the_train_check_only():
    import torch.nn.functional as F
    from functional_dropout import FDrop

    torch.manual_seed(0)
    result = torch2tf.convert(FDrop(6), args=(6,))
    assert result.passed, result.table()
    assert F.dropout.__module__ == "torch.nn.functional" and tf.nn.dropout.__name__ != "_identity"
    x = tf.ones((64, 6))
    dropped = result.keras_model(x, training=True)
    assert float(tf.reduce_mean(tf.cast(dropped == 0, tf.float32))) > 0.2  # really drops again


def test_a_base_class_built_at_construction_still_takes_a_subclass_with_more_layers():
    """The base builds itself only when it is the class constructed: a subclass adding layers
    after ``super().__init__()`` would otherwise be called before they exist."""
    from subclassed_model import Base, WithHead

    torch.manual_seed(0)
    head = WithHead(6, 5, 3)
    result = torch2tf.convert(head, args=(6, 5, 3))
    assert result.passed, result.table()
    assert not result.built_at_construction  # built by its first call, as the report says
    base = torch2tf.convert(Base(6, 5), args=(6, 5))
    assert base.passed and base.built_at_construction
