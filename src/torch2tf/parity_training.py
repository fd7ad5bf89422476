"""The trainings the parity report compares: its models and optimizer/loss/schedule
combinations, the data (scikit-learn's digits) and batches, and one combination trained in both
frameworks from the same weights on the same batches (see :mod:`torch2tf.parity`)."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

TRAIN_SIZE = 1500


@dataclass(frozen=True)
class Combo:
    """One optimizer/loss/schedule combination."""

    name: str
    description: str
    loss: Callable[[], Any]  # () -> torch loss module
    target: str  # "labels", "one_hot" or "log_softmax" (NLL on log-probabilities)
    optimizer: Callable[[Any], Any]  # parameters -> torch optimizer
    scheduler: Callable[[Any, int, int], Any] | None  # (optimizer, epochs, steps) -> scheduler
    per_epoch: bool = False  # scheduler.step() once per epoch (else once per batch)
    clip: float | None = None  # clip_grad_norm_ max_norm


def all_combos() -> dict[str, Combo]:
    import torch
    from torch import nn
    from torch.optim import lr_scheduler as sched

    combos = [
        Combo(
            "sgd-nesterov-steplr",
            "SGD(momentum=0.9, nesterov, weight_decay=1e-4), CrossEntropyLoss, "
            "StepLR(2, 0.5) per epoch",
            nn.CrossEntropyLoss,
            "labels",
            lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.9, nesterov=True, weight_decay=1e-4),
            lambda o, epochs, steps: sched.StepLR(o, step_size=2, gamma=0.5),
            per_epoch=True,
        ),
        Combo(
            "adam-onecycle-clip",
            "Adam, CrossEntropyLoss(label_smoothing=0.1), OneCycleLR per batch, "
            "clip_grad_norm_(1.0)",
            lambda: nn.CrossEntropyLoss(label_smoothing=0.1),
            "labels",
            lambda p: torch.optim.Adam(p, lr=1e-3),
            lambda o, epochs, steps: sched.OneCycleLR(o, max_lr=5e-3, total_steps=epochs * steps),
            clip=1.0,
        ),
        Combo(
            "adamw-cosine-nll",
            "AdamW(weight_decay=0.05), NLLLoss on log_softmax, CosineAnnealingLR per epoch",
            nn.NLLLoss,
            "log_softmax",
            lambda p: torch.optim.AdamW(p, lr=2e-3, weight_decay=0.05),
            lambda o, epochs, steps: sched.CosineAnnealingLR(o, T_max=epochs, eta_min=1e-4),
            per_epoch=True,
        ),
        Combo(
            "rmsprop-mse-exponential",
            "RMSprop(momentum=0.5, centered), MSELoss on one-hot targets, ExponentialLR per epoch",
            nn.MSELoss,
            "one_hot",
            lambda p: torch.optim.RMSprop(p, lr=1e-3, momentum=0.5, centered=True),
            lambda o, epochs, steps: sched.ExponentialLR(o, gamma=0.8),
            per_epoch=True,
        ),
        Combo(
            "adagrad-bce-logits",
            "Adagrad(lr_decay=1e-3), BCEWithLogitsLoss on one-hot targets, no schedule",
            nn.BCEWithLogitsLoss,
            "one_hot",
            lambda p: torch.optim.Adagrad(p, lr=0.05, lr_decay=1e-3),
            None,
        ),
    ]
    return {c.name: c for c in combos}


@dataclass(frozen=True)
class Model:
    """One model the report trains, on the digits in ``input_shape`` (torch's, per sample)."""

    name: str
    description: str
    build: Callable[[], Any]  # () -> torch module, float32
    input_shape: tuple[int, ...]


def all_models() -> dict[str, Model]:
    from torch import nn

    from torch2tf.parity_models import DigitsCNN

    models = [
        Model(
            "mlp",
            "a 64-64-32-10 MLP (Linear, ReLU, Linear, Tanh, Linear) on the 64 pixels",
            lambda: nn.Sequential(
                nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 32), nn.Tanh(), nn.Linear(32, 10)
            ),
            (64,),
        ),
        Model(
            "cnn",
            "a CNN on 1x8x8 images: two Conv2d-BatchNorm2d-ReLU-MaxPool2d stages (8 and 16 "
            "channels), flatten, Linear (torch2tf.parity_models.DigitsCNN; channels-last in "
            "Keras)",
            DigitsCNN,
            (1, 8, 8),
        ),
    ]
    return {m.name: m for m in models}


@dataclass
class Run:
    """One combination trained in one dtype in both frameworks."""

    combo: str
    dtype: str
    steps: int
    max_rel_loss_diff: float
    max_rel_weight_diff: float
    final_loss_torch: float
    final_loss_tf: float
    test_accuracy_torch: float
    test_accuracy_tf: float
    test_samples: int
    seconds: float
    torch_losses: list[float]
    tf_losses: list[float]
    model: str = "mlp"

    def summary(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if not k.endswith("_losses")}


def load_data() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """scikit-learn's digits scaled to [0, 1]: (x_train, y_train, x_test, y_test)."""
    from sklearn.datasets import load_digits

    x, y = load_digits(return_X_y=True)
    x = x / 16.0
    return x[:TRAIN_SIZE], y[:TRAIN_SIZE], x[TRAIN_SIZE:], y[TRAIN_SIZE:]


def _batches(size: int, batch: int, epochs: int, seed: int) -> list[list[np.ndarray]]:
    """Per epoch, the batches' row indices: one seeded permutation per epoch. The last, smaller
    batch is dropped: its noisier loss made every curve jump at each epoch's end."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(epochs):
        order = rng.permutation(size)
        out.append([order[i : i + batch] for i in range(0, size - batch + 1, batch)])
    return out


def _torch_model(model: Model, dtype: str, seed: int):
    import torch

    torch.manual_seed(seed)
    return model.build().to(getattr(torch, dtype))


def _target(y: np.ndarray, kind: str, dtype: str) -> np.ndarray:
    if kind == "one_hot":
        return np.eye(10, dtype=dtype)[y]
    return y.astype(np.int64)


def train_pair(
    combo: Combo,
    dtype: str,
    data: tuple[np.ndarray, ...],
    epochs: int,
    batch: int,
    seed: int,
    model_name: str = "mlp",
) -> Run:
    """Train the combination in both frameworks from the same weights on the same batches.
    Each framework gets the batches in its own layout (a CNN's: NCHW in torch, NHWC in
    Keras)."""
    import tensorflow as tf
    import torch

    from torch2tf import convert
    from torch2tf.training import convert_loss, convert_optimizer

    started = time.perf_counter()
    spec = all_models()[model_name]
    x_train, y_train, x_test, y_test = data
    x_train, x_test = (x.reshape(-1, *spec.input_shape).astype(dtype) for x in (x_train, x_test))
    torch_dtype = getattr(torch, dtype)
    model = _torch_model(spec, dtype, seed)
    conversion = convert(model, inputs=(torch.from_numpy(x_test[:16]),))
    keras_model = conversion.keras_model

    def keras_input(x: np.ndarray) -> Any:  # the Keras model's layout (channels-last maps)
        return conversion.keras_inputs(torch.from_numpy(x))[0]

    parameters = conversion.parameter_map()
    plan = _batches(len(x_train), batch, epochs, seed)
    steps_per_epoch = len(plan[0])

    optimizer = combo.optimizer(model.parameters())
    scheduler = combo.scheduler(optimizer, epochs, steps_per_epoch) if combo.scheduler else None
    loss_module = combo.loss().to(torch_dtype)
    keras_optimizer = convert_optimizer(
        optimizer,
        scheduler,
        parameters=parameters,
        steps_per_epoch=steps_per_epoch if combo.per_epoch else None,
        clip_grad_norm=combo.clip,
    )
    keras_loss = convert_loss(loss_module)
    variables = keras_model.trainable_variables
    keras_optimizer.build(variables)

    target_dtype = tf.int64 if combo.target != "one_hot" else getattr(tf, dtype)
    signature = [
        tf.TensorSpec([None, *keras_input(x_test[:1]).shape[1:]], getattr(tf, dtype)),
        tf.TensorSpec([None, 10] if combo.target == "one_hot" else [None], target_dtype),
    ]

    @tf.function(input_signature=signature)
    def keras_step(x, target):
        with tf.GradientTape() as tape:
            out = keras_model(x, training=True)
            if combo.target == "log_softmax":
                out = tf.nn.log_softmax(out, axis=-1)
            value = keras_loss(target, out)
        keras_optimizer.apply(tape.gradient(value, variables), variables)
        return value

    torch_losses, tf_losses = [], []
    for epoch_batches in plan:
        model.train()
        for rows in epoch_batches:
            x = x_train[rows]
            target = _target(y_train[rows], combo.target, dtype)
            optimizer.zero_grad()
            out = model(torch.from_numpy(x))
            if combo.target == "log_softmax":
                out = torch.log_softmax(out, dim=-1)
            loss = loss_module(out, torch.from_numpy(target))
            loss.backward()
            if combo.clip is not None:
                torch.nn.utils.clip_grad_norm_(model.parameters(), combo.clip)
            optimizer.step()
            if scheduler is not None and not combo.per_epoch:
                scheduler.step()
            torch_losses.append(loss.item())
            tf_losses.append(float(keras_step(keras_input(x), tf.constant(target))))
        if scheduler is not None and combo.per_epoch:
            scheduler.step()

    model.eval()
    with torch.no_grad():
        torch_pred = model(torch.from_numpy(x_test)).argmax(dim=1).numpy()
    tf_pred = np.argmax(keras_model(keras_input(x_test), training=False), axis=1)

    weight_diff = weight_difference(model, keras_model, conversion.flattened_rows)
    torch_array, tf_array = np.array(torch_losses), np.array(tf_losses)
    loss_diff = np.abs(tf_array - torch_array) / np.maximum(np.abs(torch_array), 1e-300)
    return Run(
        combo=combo.name,
        dtype=dtype,
        steps=len(torch_losses),
        max_rel_loss_diff=float(np.max(loss_diff)),
        max_rel_weight_diff=weight_diff,
        final_loss_torch=torch_losses[-1],
        final_loss_tf=tf_losses[-1],
        test_accuracy_torch=float(np.mean(torch_pred == y_test)),
        test_accuracy_tf=float(np.mean(tf_pred == y_test)),
        test_samples=len(y_test),
        seconds=time.perf_counter() - started,
        torch_losses=torch_losses,
        tf_losses=tf_losses,
        model=model_name,
    )


def weight_difference(
    model: Any, keras_model: Any, flattened_rows: Mapping[str, int] | None = None
) -> float:
    """Max over tensors of max |w_tf - w_torch| / max |w_torch|, in Keras's layout.

    Each torch layer's tensors are put in Keras's layout by the same rule that moved them
    (Linear's weight transposed), so a square kernel cannot be compared the wrong way round;
    ``flattened_rows`` (a conversion's) reorders the kernel rows of a Linear after a flatten of
    a channels-last map as the transfer did.
    """
    from torch2tf.layouts import keras_kernel_rows
    from torch2tf.weights import keras_layer_at, rule_for

    worst = 0.0
    for path, module in model.named_modules():
        if "parametrizations" in path.split("."):
            continue  # a weight-normalised layer's g and v: compared with the layer's
        rule = rule_for(module)
        if rule is None:  # a model class's own nn.Parameters (a ViT's class token)
            names = [n for n, _ in module.named_parameters(recurse=False)]
            arrays = [getattr(module, n).detach().cpu().numpy() for n in names]
            layer = keras_layer_at(keras_model, path) if names else None
            variables = [getattr(layer, n) for n in names]
        else:  # the variables the rule fills (MultiheadAttention's: not out_proj's)
            arrays = rule.weights(module)
            variables = rule.keras_variables(keras_layer_at(keras_model, path)) if arrays else []
        if not arrays:
            continue
        if path in (flattened_rows or {}):
            arrays = [keras_kernel_rows(arrays[0], flattened_rows[path]), *arrays[1:]]
        for expected, variable in zip(arrays, variables, strict=True):
            expected = np.asarray(expected, dtype=np.float64)
            actual = np.asarray(variable.numpy(), dtype=np.float64)
            scale = max(float(np.max(np.abs(expected))), np.finfo(np.float64).tiny)
            worst = max(worst, float(np.max(np.abs(actual - expected))) / scale)
    return worst
