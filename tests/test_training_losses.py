"""convert_loss: the Keras loss equals torch's loss in value and in gradient wrt the prediction."""

import os

os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import tensorflow as tf  # noqa: E402
import torch  # noqa: E402
from torch import nn  # noqa: E402

from torch2tf.training import convert_loss  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore:reduction. 'mean' divides the total loss")

N, C = 6, 4
RNG = np.random.default_rng(0)
LOGITS = RNG.normal(size=(N, C)) * 2
LABELS = np.array([0, 3, 1, 2, 3, 0])
LABELS_IGNORED = np.array([0, -100, 1, 2, -100, 0])
PROBS = np.exp(LOGITS) / np.exp(LOGITS).sum(-1, keepdims=True)
WEIGHT = np.array([0.5, 2.0, 1.0, 3.0])
LOGITS_3D = RNG.normal(size=(2, C, 5))  # torch layout (N, C, L)
LABELS_3D = RNG.integers(0, C, size=(2, 5))
MULTI = RNG.normal(size=(N, 3))
MULTI_TARGET = (RNG.uniform(size=(N, 3)) > 0.5).astype(np.float64)
SATURATED = np.array([[0.0, 1.0, 1e-50], [1.0 - 1e-17, 0.3, 1e-300]])
SATURATED_TARGET = np.array([[1.0, 0.0, 1.0], [0.0, 0.5, 0.0]])
REGRESS = RNG.normal(size=(N, 3))
REGRESS_TARGET = REGRESS + RNG.normal(size=(N, 3)) * np.array([0.1, 1.0, 3.0])
REGRESS_TARGET[0] = REGRESS[0]  # zero difference: the L1 sub-gradient
REGRESS_TARGET[1, 0] = REGRESS[1, 0] + 0.5  # exactly at a Huber/SmoothL1 kink (delta/beta 0.5)
LOG_Q = np.log(PROBS)
P = np.abs(RNG.normal(size=(N, C)))
P[0, 1] = 0.0  # zero target probability
P /= P.sum(-1, keepdims=True)
TINY_Q = np.log(np.array([[1e-12, 1.0 - 1e-12], [0.5, 0.5]]))

# (id, torch loss, torch prediction, target, Keras prediction = torch's in Keras layout)
CASES = [
    ("ce", nn.CrossEntropyLoss(), LOGITS, LABELS),
    ("ce-sum", nn.CrossEntropyLoss(reduction="sum"), LOGITS, LABELS),
    ("ce-none", nn.CrossEntropyLoss(reduction="none"), LOGITS, LABELS),
    ("ce-weight", nn.CrossEntropyLoss(weight=torch.tensor(WEIGHT)), LOGITS, LABELS),
    ("ce-ignore", nn.CrossEntropyLoss(), LOGITS, LABELS_IGNORED),
    ("ce-ignore-7", nn.CrossEntropyLoss(ignore_index=3), LOGITS, LABELS),
    ("ce-ls", nn.CrossEntropyLoss(label_smoothing=0.1), LOGITS, LABELS),
    (
        "ce-weight-ls",
        nn.CrossEntropyLoss(weight=torch.tensor(WEIGHT), label_smoothing=0.2),
        LOGITS,
        LABELS,
    ),
    (
        "ce-weight-ls-ignore",
        nn.CrossEntropyLoss(weight=torch.tensor(WEIGHT), label_smoothing=0.2),
        LOGITS,
        LABELS_IGNORED,
    ),
    (
        "ce-weight-ls-ignore-none",
        nn.CrossEntropyLoss(weight=torch.tensor(WEIGHT), label_smoothing=0.2, reduction="none"),
        LOGITS,
        LABELS_IGNORED,
    ),
    (
        "ce-ls-sum",
        nn.CrossEntropyLoss(label_smoothing=0.3, reduction="sum"),
        LOGITS,
        LABELS_IGNORED,
    ),
    ("ce-probs", nn.CrossEntropyLoss(), LOGITS, PROBS[::-1].copy()),
    (
        "ce-probs-weight-ls",
        nn.CrossEntropyLoss(weight=torch.tensor(WEIGHT), label_smoothing=0.1),
        LOGITS,
        PROBS[::-1].copy(),
    ),
    ("ce-probs-none", nn.CrossEntropyLoss(reduction="none"), LOGITS, PROBS[::-1].copy()),
    ("ce-kdim", nn.CrossEntropyLoss(label_smoothing=0.1), LOGITS_3D, LABELS_3D),
    ("ce-unbatched", nn.CrossEntropyLoss(), LOGITS[0], np.array(2)),
    ("nll-scores", nn.NLLLoss(), LOGITS, LABELS),
    ("nll-weight-ignore", nn.NLLLoss(weight=torch.tensor(WEIGHT)), LOGITS, LABELS_IGNORED),
    ("nll-sum", nn.NLLLoss(reduction="sum"), LOG_Q, LABELS),
    ("nll-none", nn.NLLLoss(reduction="none", ignore_index=1), LOG_Q, LABELS),
    ("bce", nn.BCELoss(), PROBS[:, :3], MULTI_TARGET),
    ("bce-saturated", nn.BCELoss(), SATURATED, SATURATED_TARGET),
    (
        "bce-weight-sum",
        nn.BCELoss(weight=torch.tensor([1.0, 2.0, 0.5]), reduction="sum"),
        PROBS[:, :3],
        MULTI_TARGET,
    ),
    ("bce-none", nn.BCELoss(reduction="none"), SATURATED, SATURATED_TARGET),
    ("bcel", nn.BCEWithLogitsLoss(), MULTI, MULTI_TARGET),
    ("bcel-sum", nn.BCEWithLogitsLoss(reduction="sum"), MULTI, MULTI_TARGET),
    (
        "bcel-pos-weight",
        nn.BCEWithLogitsLoss(pos_weight=torch.tensor([3.0, 0.5, 1.0])),
        MULTI * 10,
        MULTI_TARGET,
    ),
    (
        "bcel-weight-none",
        nn.BCEWithLogitsLoss(weight=torch.tensor([[1.0, 2.0, 0.5]]), reduction="none"),
        MULTI,
        MULTI_TARGET,
    ),
    ("bcel-1d", nn.BCEWithLogitsLoss(), MULTI[:, 0], MULTI_TARGET[:, 0]),
    ("mse", nn.MSELoss(), REGRESS, REGRESS_TARGET),
    ("mse-sum", nn.MSELoss(reduction="sum"), REGRESS, REGRESS_TARGET),
    ("mse-1d-sum", nn.MSELoss(reduction="sum"), REGRESS[:, 0], REGRESS_TARGET[:, 0]),
    ("l1", nn.L1Loss(), REGRESS, REGRESS_TARGET),
    ("l1-none", nn.L1Loss(reduction="none"), REGRESS, REGRESS_TARGET),
    ("smoothl1", nn.SmoothL1Loss(), REGRESS, REGRESS_TARGET),
    ("smoothl1-beta", nn.SmoothL1Loss(beta=0.5, reduction="sum"), REGRESS, REGRESS_TARGET),
    ("smoothl1-beta0", nn.SmoothL1Loss(beta=0.0), REGRESS, REGRESS_TARGET),
    ("huber", nn.HuberLoss(delta=0.5), REGRESS, REGRESS_TARGET),
    ("huber-2-none", nn.HuberLoss(delta=2.0, reduction="none"), REGRESS, REGRESS_TARGET),
    ("kl-batchmean", nn.KLDivLoss(reduction="batchmean"), LOG_Q, P),
    ("kl-mean", nn.KLDivLoss(), LOG_Q, P),
    ("kl-sum-log-target", nn.KLDivLoss(reduction="sum", log_target=True), LOG_Q, np.log(P + 1e-3)),
    ("kl-none", nn.KLDivLoss(reduction="none"), LOG_Q, P),
    ("kl-tiny-q", nn.KLDivLoss(reduction="batchmean"), TINY_Q, np.array([[0.3, 0.7]] * 2)),
]


def _to_keras_layout(array):
    """torch (N, C, L...) -> Keras (N, L..., C) for K-dimensional class inputs."""
    return np.moveaxis(array, 1, -1) if array.ndim > 2 else array


def _torch_value_and_grad(loss, prediction, target, dtype):
    x = torch.tensor(prediction, dtype=dtype, requires_grad=True)
    t = torch.tensor(target)
    if t.is_floating_point():
        t = t.to(dtype)
    loss = loss.to(dtype)
    value = loss(x, t)
    upstream = torch.tensor(np.linspace(0.5, 1.5, value.numel()), dtype=dtype).reshape(value.shape)
    (value * upstream).sum().backward()
    return value.detach().double().numpy(), x.grad.double().numpy()


def _keras_value_and_grad(loss, prediction, target, dtype):
    x = tf.Variable(_to_keras_layout(prediction).astype(dtype))
    t = target if target.dtype.kind in "iu" else target.astype(dtype)
    with tf.GradientTape() as tape:
        value = loss(tf.constant(t), x)
        upstream = np.linspace(0.5, 1.5, int(tf.size(value))).reshape(value.shape)
        total = tf.reduce_sum(value * tf.constant(upstream, value.dtype))
    grad = tape.gradient(total, x).numpy()
    assert value.dtype == dtype
    return value.numpy().astype(np.float64), np.moveaxis(grad, -1, 1) if grad.ndim > 2 else grad


@pytest.mark.parametrize(
    ("module", "prediction", "target"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_loss_value_and_gradient(module, prediction, target, dtype):
    torch_dtype = torch.float64 if dtype == "float64" else torch.float32
    value, grad = _torch_value_and_grad(module, prediction, target, torch_dtype)
    keras_value, keras_grad = _keras_value_and_grad(
        convert_loss(module), prediction, target, np.dtype(dtype)
    )
    rtol, atol = (1e-12, 1e-13) if dtype == "float64" else (1e-5, 1e-6)
    assert keras_value.shape == value.shape
    np.testing.assert_allclose(keras_value, value, rtol=rtol, atol=atol)
    # Saturated BCE gradients reach 1e12 (torch's 1/max(p(1-p), 1e-12)); compare relative to scale.
    np.testing.assert_allclose(
        keras_grad, grad, rtol=rtol, atol=atol * max(1.0, np.abs(grad).max())
    )


def test_keras_builtins_differ_where_helpers_are_needed():
    """The measured Keras differences the helpers fix (so the cases above can fail)."""
    ce = nn.CrossEntropyLoss(weight=torch.tensor(WEIGHT), label_smoothing=0.2)
    value, _ = _torch_value_and_grad(ce, LOGITS, LABELS, torch.float64)
    builtin = tf.keras.losses.CategoricalCrossentropy(
        from_logits=True, label_smoothing=0.2, reduction="mean_with_sample_weight", dtype="float64"
    )
    keras = builtin(tf.one_hot(LABELS, C, dtype="float64"), LOGITS, sample_weight=WEIGHT[LABELS])
    assert abs(float(keras) - value) > 1e-3
    bce, _ = _torch_value_and_grad(nn.BCELoss(), SATURATED, SATURATED_TARGET, torch.float64)
    keras_bce = tf.keras.losses.BinaryCrossentropy(dtype="float64")(SATURATED_TARGET, SATURATED)
    assert abs(float(keras_bce) - bce) > 1.0
    mse, _ = _torch_value_and_grad(
        nn.MSELoss(reduction="sum"), REGRESS, REGRESS_TARGET, torch.float64
    )
    keras_mse = tf.keras.losses.MeanSquaredError(reduction="sum", dtype="float64")(
        REGRESS_TARGET, REGRESS
    )
    assert abs(float(keras_mse) - mse) > 1.0


def test_loss_in_model_compile():
    """Compiled: Keras reports the loss in floatx (float32), but the float64 gradient is exact."""
    module = nn.CrossEntropyLoss(label_smoothing=0.1, weight=torch.tensor(WEIGHT))
    model = tf.keras.Sequential(
        [tf.keras.Input((C,), dtype="float64"), tf.keras.layers.Identity(dtype="float64")]
    )
    model.compile(loss=convert_loss(module))
    x = torch.tensor(LOGITS, requires_grad=True)
    module(x, torch.tensor(LABELS)).backward()
    expected, _ = _torch_value_and_grad(module, LOGITS, LABELS, torch.float64)
    logits = tf.Variable(LOGITS)
    with tf.GradientTape() as tape:
        got = model.compute_loss(y=tf.constant(LABELS), y_pred=logits)
    np.testing.assert_allclose(tape.gradient(got, logits).numpy(), x.grad.numpy(), rtol=1e-12)
    assert got.dtype == tf.float32
    assert abs(float(got) - expected) < 1e-6 * abs(expected)
    data = tf.data.Dataset.from_tensor_slices((LOGITS, LABELS)).batch(N)
    assert abs(model.evaluate(data, verbose=0) - expected) < 1e-6 * abs(expected)


def test_config_round_trip():
    for module in (
        nn.CrossEntropyLoss(weight=torch.tensor(WEIGHT), label_smoothing=0.1),
        nn.BCEWithLogitsLoss(pos_weight=torch.tensor([2.0])),
        nn.SmoothL1Loss(beta=0.3),
        nn.KLDivLoss(reduction="batchmean", log_target=True),
    ):
        loss = convert_loss(module)
        clone = type(loss).from_config(loss.get_config())
        assert clone.get_config() == loss.get_config()


def test_unsupported_losses_are_refused():
    with pytest.raises(
        TypeError, match=r"expects one of nn\.CrossEntropyLoss.*received: nn\.CTCLoss"
    ):
        convert_loss(nn.CTCLoss())

    class MyLoss(nn.MSELoss):
        def forward(self, input, target):
            return super().forward(input, target) * 2

    with pytest.raises(TypeError, match="MyLoss"):
        convert_loss(MyLoss())
    with pytest.raises(ValueError, match="sample_weight"):
        convert_loss(nn.MSELoss())(REGRESS_TARGET, REGRESS, sample_weight=np.ones(N))
