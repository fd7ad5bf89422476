"""torch.autograd.Function subclasses (tests/models/custom_grads.py) -> TorchFunction, whose
apply runs the static forward under tf.custom_gradient with the class's own backward: outputs
and gradients (inputs and weights) match torch, including a backward that differs from the
forward's derivative, a straight-through estimator and an input without gradient (None)."""

import numpy as np
import pytest
import tensorflow as tf
import torch
from conftest import MODELS

import torch2tf
from torch2tf import TranslationError, translate_file, translate_source

ATOL, RTOL = 1e-5, 1e-4


def _convert(model, args, inputs):
    result = torch2tf.convert(model, args=args, inputs=inputs, atol=ATOL, rtol=RTOL)
    assert result.passed, result.table()
    assert [c.mode for c in result.checks] == ["eval", "train"]
    return result


def _gradients_match(model, result, x: torch.Tensor) -> None:
    """d(sum(out * w))/d(input) and /d(every weight) in both frameworks, in train mode."""
    weights = torch.randn(*model(x).shape, generator=torch.Generator().manual_seed(3))
    model.train()
    xt = x.clone().requires_grad_(True)
    (model(xt) * weights).sum().backward()
    keras = result.keras_model
    xk = tf.Variable(x.numpy())
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(keras(xk, training=True) * weights.numpy())
    mapping = result.parameter_map()
    torch_params = [p for p in model.parameters() if p.grad is not None]
    tf_vars = [mapping[p] for p in torch_params]
    grads = tape.gradient(loss, [xk, *tf_vars])
    np.testing.assert_allclose(grads[0].numpy(), xt.grad.numpy(), atol=ATOL, rtol=RTOL)
    for param, variable, grad in zip(torch_params, tf_vars, grads[1:], strict=True):
        expected = param.grad.numpy()
        got = grad.numpy()
        got = got.T if variable.path.endswith("kernel") else got  # a Dense kernel: torch's .T
        np.testing.assert_allclose(got, expected, atol=ATOL, rtol=RTOL, err_msg=variable.path)


def _build(name, *args):
    import custom_grads

    torch.manual_seed(0)
    return getattr(custom_grads, name)(*args)


def test_function_class_becomes_torch_function_with_its_backward():
    code = translate_file(MODELS / "custom_grads.py")
    assert "class SoftClip(TorchFunction):" in code
    assert "def backward(ctx, grad):" in code
    assert "@tf.custom_gradient" in code  # the helper, copied beside the code
    assert "g = torch_mask_assign(g, out == 0, 0)" in code
    assert "tf.reduce_sum(tf.cast(kept, tf.int64), axis=dim, keepdims=True)" in code


def test_custom_backward_and_straight_through_gradients_match_torch():
    """SoftClip's backward is not its forward's derivative, and round's derivative is 0
    where the straight-through backward passes the gradient on: TensorFlow's own
    differentiation would give other values."""
    model = _build("ClipNet", 6)
    x = torch.randn(16, 6, generator=torch.Generator().manual_seed(1)) * 2
    result = _convert(model, (6,), (x,))
    _gradients_match(model, result, x)


def test_input_without_gradient_gets_none_as_in_torch():
    model = _build("GateNet", 5)
    x = torch.randn(8, 5, generator=torch.Generator().manual_seed(1))
    result = _convert(model, (5,), (x,))
    _gradients_match(model, result, x)
    b = result.parameter_map()[model.b.weight]
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(result.keras_model(x.numpy(), training=True))
    assert tape.gradient(loss, b) is None
    model.zero_grad()
    model(x).sum().backward()
    assert model.b.weight.grad is None


@pytest.mark.parametrize("batch, groups", [(16, 7), (5, 3)])
def test_sparse_normaliser_matches_torch_with_its_gradient(batch, groups):
    model = _build("SparseAttention", 6, groups)
    x = torch.randn(batch, 6, generator=torch.Generator().manual_seed(2)) * 3
    result = _convert(model, (6, groups), (x,))
    out = result.keras_model(x.numpy(), training=False).numpy()
    assert (out == 0).any() and np.allclose(out.sum(-1), 1, atol=1e-6)  # sparse, on the simplex
    _gradients_match(model, result, x)


def test_a_layer_never_called_is_built_with_torchs_weights():
    model = _build("SparseAttention", 6, 3)
    result = _convert(model, (6, 3), (torch.randn(4, 6),))
    unused = result.keras_model.unused_norm
    assert unused.built and [tuple(w.shape) for w in unused.weights] == [(6,)] * 4


def test_function_under_tf_function_and_in_float64():
    import custom_grads_tf  # noqa: F401 - registered below

    model = _build("SparseAttention", 6, 4).double()
    x = torch.randn(8, 6, dtype=torch.float64, generator=torch.Generator().manual_seed(4))
    result = _convert(model, (6, 4), (x,))
    traced = tf.function(lambda v: result.keras_model(v, training=False))
    np.testing.assert_allclose(
        traced(tf.constant(x.numpy())).numpy(), model.eval()(x).detach().numpy(), atol=1e-12
    )


@pytest.fixture(autouse=True, scope="module")
def custom_grads_tf():
    import sys

    from torch2tf.generated import load_generated

    module = load_generated(translate_file(MODELS / "custom_grads.py"), "custom_grads_tf")
    sys.modules["custom_grads_tf"] = module
    yield module
    sys.modules.pop("custom_grads_tf", None)


def test_helpers_match_torch_on_ties_and_leading_dim_masks(custom_grads_tf):
    ns = vars(custom_grads_tf)
    x = torch.tensor([[3.0, 1.0, 3.0, 2.0], [0.0, 0.0, -1.0, 5.0]])
    for descending in (False, True):
        values, indices = ns["torch_sort"](tf.constant(x.numpy()), 1, descending=descending)
        expected = torch.sort(x, dim=1, descending=descending, stable=True)
        np.testing.assert_array_equal(values.numpy(), expected.values.numpy())
        np.testing.assert_array_equal(indices.numpy(), expected.indices.numpy())
        assert indices.dtype == tf.int64
    big = torch.arange(12.0).view(3, 4)
    # index shorter than x in the other dim (torch reads only that part), and as long
    for dim, index in ((0, torch.tensor([[0, 2, 1]])), (1, torch.tensor([[0, 3], [2, 2]]))):
        picked = torch.gather(big, dim, index)
        got = ns["torch_gather"](tf.constant(big.numpy()), dim, tf.constant(index.numpy()))
        np.testing.assert_array_equal(got.numpy(), picked.numpy())
    rows = torch.tensor([True, False, True])
    filled = big.clone()
    filled[rows] = -1.0
    got = ns["torch_mask_assign"](tf.constant(big.numpy()), tf.constant(rows.numpy()), -1.0)
    np.testing.assert_array_equal(got.numpy(), filled.numpy())


@pytest.mark.parametrize(
    "body, message",
    [
        ("y = x * 2\n        z = y\n        y[y > 0] = 0\n        return z + y", "y may be held"),
        ("y = x * 2\n        y[y > 0] = x[y > 0]\n        return y", "not a number"),
        ("x[x > 0] = 0\n        return x", "not made in this function"),
    ],
)
def test_masked_assignment_that_would_differ_is_refused(body, message):
    source = (
        "import torch\nfrom torch import nn\n\n\nclass Net(nn.Module):\n"
        f"    def forward(self, x):\n        {body}\n"
    )
    with pytest.raises(TranslationError) as err:
        translate_source(source, "net.py")
    assert "net.py:" in str(err.value) and message in str(err.value)


_TWICE = (
    "import torch\n\n\nclass Twice(torch.autograd.Function):\n"
    "    @staticmethod\n    def forward(ctx, x):\n        return x * 2\n\n"
    "    @staticmethod\n    def backward(ctx, grad):\n        return {result}\n{extra}"
)


@pytest.mark.parametrize(
    "result, extra, where, message",
    [
        (
            "grad * 2",
            "\n    @staticmethod\n    def setup_context(ctx, inputs, output):\n        pass\n",
            "14:5",
            "an autograd.Function's setup_context is not translated",
        ),
        (
            "grad * 2 if ctx.needs_input_grad[0] else None",
            "",
            "11:28",
            "ctx.needs_input_grad is not translated",
        ),
    ],
)
def test_autograd_function_api_not_translated_is_refused(result, extra, where, message):
    source = _TWICE.format(result=result, extra=extra)
    with pytest.raises(TranslationError) as err:
        translate_source(source, "twice.py")
    assert f"twice.py:{where}: error: {message}" in str(err.value)
