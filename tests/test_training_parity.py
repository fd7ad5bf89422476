"""End to end: a torch MLP and its Keras twin, trained with converted objects on load_digits."""

import os

os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import tensorflow as tf  # noqa: E402
import torch  # noqa: E402
from sklearn.datasets import load_digits  # noqa: E402
from torch import nn  # noqa: E402
from torch.optim import lr_scheduler as sched  # noqa: E402

from torch2tf.training import convert_loss, convert_optimizer  # noqa: E402

STEPS, BATCH, STEPS_PER_EPOCH = 60, 32, 20
SIZES = [64, 32, 16, 10]


def _data():
    x, y = load_digits(return_X_y=True)
    x = x / 16.0
    batches = []
    for step in range(STEPS):
        start = (step % STEPS_PER_EPOCH) * BATCH  # 20 batches of 32 make an epoch
        batches.append((x[start : start + BATCH], y[start : start + BATCH]))
    return batches


def _torch_model(dtype):
    torch.manual_seed(0)
    layers = []
    for i, (n_in, n_out) in enumerate(zip(SIZES[:-1], SIZES[1:], strict=True)):
        layers.append(nn.Linear(n_in, n_out))
        if i < len(SIZES) - 2:
            layers.append(nn.ReLU())
    return nn.Sequential(*layers).to(dtype)


def _keras_twin(torch_model, dtype):
    """Dense layers with kernel = W.T, and the map from each torch parameter to its variable."""
    linears = [m for m in torch_model if isinstance(m, nn.Linear)]
    layers = [tf.keras.Input((SIZES[0],), dtype=dtype)]
    for i, n_out in enumerate(SIZES[1:]):
        activation = "relu" if i < len(SIZES) - 2 else None
        layers.append(tf.keras.layers.Dense(n_out, activation=activation, dtype=dtype))
    model = tf.keras.Sequential(layers)
    parameters = {}
    for linear, dense in zip(linears, model.layers, strict=True):
        dense.kernel.assign(linear.weight.detach().numpy().T)
        dense.bias.assign(linear.bias.detach().numpy())
        parameters[linear.weight] = dense.kernel
        parameters[linear.bias] = dense.bias
    return model, parameters


def _one_hot(y):
    return np.eye(10)[y]


# Each combo: (torch loss, how a batch feeds it, optimizer factory, scheduler factory,
# steps_per_epoch (None: scheduler stepped per batch), clip_grad_norm)
COMBOS = {
    "sgd-nesterov-wd-steplr-per-epoch": (
        nn.CrossEntropyLoss(),
        "logits",
        lambda m: torch.optim.SGD(
            m.parameters(), lr=0.1, momentum=0.9, nesterov=True, weight_decay=1e-3
        ),
        lambda o: sched.StepLR(o, step_size=1, gamma=0.5),
        STEPS_PER_EPOCH,
        None,
    ),
    "adam-amsgrad-ls-cosine-past-tmax": (
        nn.CrossEntropyLoss(label_smoothing=0.1),
        "logits",
        lambda m: torch.optim.Adam(m.parameters(), lr=3e-3, amsgrad=True),
        lambda o: sched.CosineAnnealingLR(o, T_max=25, eta_min=1e-4),
        None,
        None,
    ),
    "adamw-onecycle-weighted-ce": (
        nn.CrossEntropyLoss(weight=torch.linspace(0.5, 1.5, 10, dtype=torch.float64)),
        "logits",
        lambda m: torch.optim.AdamW(m.parameters(), lr=1e-3, weight_decay=0.05),
        lambda o: sched.OneCycleLR(o, max_lr=0.01, total_steps=STEPS),
        None,
        None,
    ),
    "rmsprop-centered-multistep-nll": (
        nn.NLLLoss(),
        "log_softmax",
        lambda m: torch.optim.RMSprop(m.parameters(), lr=1e-3, centered=True, momentum=0.5),
        lambda o: sched.MultiStepLR(o, milestones=[1, 2], gamma=0.3),
        STEPS_PER_EPOCH,
        None,
    ),
    "adagrad-mse-clipped": (
        nn.MSELoss(),
        "one_hot",
        lambda m: torch.optim.Adagrad(m.parameters(), lr=0.05, lr_decay=0.01),
        None,
        None,
        1.0,
    ),
    "sgd-param-groups-warmup-clipped": (
        nn.CrossEntropyLoss(),
        "logits",
        lambda m: torch.optim.SGD(
            [
                {"params": [p for n, p in m.named_parameters() if n.endswith("weight")]},
                {"params": [p for n, p in m.named_parameters() if n.endswith("bias")], "lr": 0.2},
            ],
            lr=0.1,
            momentum=0.9,
            weight_decay=1e-3,
        ),
        lambda o: sched.SequentialLR(
            o,
            [sched.LinearLR(o, start_factor=0.1, total_iters=10), sched.ExponentialLR(o, 0.97)],
            milestones=[10],
        ),
        None,
        0.5,
    ),
    "adam-bce-with-logits-pos-weight": (
        nn.BCEWithLogitsLoss(pos_weight=torch.full((10,), 3.0, dtype=torch.float64)),
        "one_hot",
        lambda m: torch.optim.Adam(m.parameters(), lr=1e-2, weight_decay=1e-4),
        lambda o: sched.ExponentialLR(o, gamma=0.98),
        None,
        None,
    ),
}


def _target(y, feed):
    return _one_hot(y) if feed == "one_hot" else y


def _train(combo, dtype):
    loss_module, feed, make_optimizer, make_scheduler, steps_per_epoch, clip = combo
    torch_dtype = torch.float64 if dtype == "float64" else torch.float32
    torch_model = _torch_model(torch_dtype)
    keras_model, parameters = _keras_twin(torch_model, dtype)
    optimizer = make_optimizer(torch_model)
    scheduler = make_scheduler(optimizer) if make_scheduler else None
    keras_optimizer = convert_optimizer(
        optimizer,
        scheduler,
        parameters=parameters,
        steps_per_epoch=steps_per_epoch,
        clip_grad_norm=clip,
    )
    keras_loss = convert_loss(loss_module)
    loss_module = loss_module.to(torch_dtype)
    keras_optimizer.build(keras_model.trainable_variables)

    @tf.function  # graph mode, as in model.fit; also much faster than eager
    def keras_step(x, target):
        with tf.GradientTape() as tape:
            out = keras_model(x)
            if feed == "log_softmax":
                out = tf.nn.log_softmax(out, axis=-1)
            value = keras_loss(target, out)
        variables = keras_model.trainable_variables
        keras_optimizer.apply(tape.gradient(value, variables), variables)
        return value

    torch_losses, keras_losses = [], []
    for step, (x, y) in enumerate(_data()):
        target = _target(y, feed)
        optimizer.zero_grad()
        out = torch_model(torch.tensor(x, dtype=torch_dtype))
        if feed == "log_softmax":
            out = torch.log_softmax(out, dim=-1)
        t = torch.tensor(target, dtype=torch_dtype if feed == "one_hot" else torch.int64)
        loss = loss_module(out, t)
        loss.backward()
        if clip:
            nn.utils.clip_grad_norm_(torch_model.parameters(), clip)
        optimizer.step()
        if scheduler and (steps_per_epoch is None or (step + 1) % steps_per_epoch == 0):
            scheduler.step()
        torch_losses.append(loss.item())

        keras_value = keras_step(
            tf.constant(x, dtype=dtype),
            tf.constant(target.astype(dtype) if feed == "one_hot" else target),
        )
        keras_losses.append(float(keras_value))
    torch_weights = [p.detach().double().numpy() for p in torch_model.parameters()]
    keras_weights = []
    for layer in keras_model.layers:
        keras_weights += [
            layer.kernel.numpy().T.astype(np.float64),
            layer.bias.numpy().astype(np.float64),
        ]
    return np.array(torch_losses), np.array(keras_losses), torch_weights, keras_weights


@pytest.mark.parametrize("name", list(COMBOS))
def test_training_parity_float64(name):
    torch_losses, keras_losses, torch_weights, keras_weights = _train(COMBOS[name], "float64")
    assert torch_losses[-1] < torch_losses[0]  # it trains
    # Measured: 1e-15 (losses) and 2e-14 (weights); 1e-10 still catches float32 hyper-parameters.
    np.testing.assert_allclose(keras_losses, torch_losses, rtol=1e-10)
    for t, k in zip(torch_weights, keras_weights, strict=True):
        assert np.max(np.abs(k - t)) <= 1e-10 * np.max(np.abs(t))


def test_training_parity_sgd_float32():
    torch_losses, keras_losses, torch_weights, keras_weights = _train(
        COMBOS["sgd-nesterov-wd-steplr-per-epoch"], "float32"
    )
    np.testing.assert_allclose(keras_losses, torch_losses, rtol=1e-3)
    for t, k in zip(torch_weights, keras_weights, strict=True):
        assert np.max(np.abs(k - t)) <= 1e-3 * np.max(np.abs(t))
