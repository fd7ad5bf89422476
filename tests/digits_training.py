"""Train a torch model and its conversion side by side on scikit-learn's digits (as 1x8x8
images or as 8 rows of 8 pixels): the same batches, the converted optimizer and loss (tests of
training parity, CNN and RNN)."""

from __future__ import annotations

import numpy as np
import tensorflow as tf
import torch

import torch2tf
from torch2tf.training import convert_loss, convert_optimizer


def digits_images() -> tuple[np.ndarray, np.ndarray]:
    """(images in torch's NCHW, scaled to [0, 1]; int64 labels)."""
    rows, labels = digits_rows()
    return rows[:, None], labels


def digits_rows() -> tuple[np.ndarray, np.ndarray]:
    """(each image as a sequence of 8 rows of 8 pixels scaled to [0, 1]; int64 labels)."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    return (digits.data / 16.0).reshape(-1, 8, 8), digits.target.astype(np.int64)


def train_side_by_side(
    model: torch.nn.Module,
    conversion: torch2tf.Conversion,
    torch_optimizer: torch.optim.Optimizer,
    images: np.ndarray,
    labels: np.ndarray,
    steps: int,
    batch: int,
) -> tuple[np.ndarray, np.ndarray]:
    """``steps`` cross-entropy steps of both models on the same shuffled batches (the shuffled
    order read cyclically): (torch's losses, TensorFlow's losses)."""
    keras_model = conversion.keras_model
    parameters = conversion.parameter_map()
    keras_optimizer = convert_optimizer(torch_optimizer, parameters=parameters)
    loss_module = torch.nn.CrossEntropyLoss()
    keras_loss = convert_loss(loss_module)
    variables = [parameters[p] for p in model.parameters()]

    @tf.function
    def keras_step(x, y):
        with tf.GradientTape() as tape:
            value = keras_loss(y, keras_model(x, training=True))
        keras_optimizer.apply(tape.gradient(value, variables), variables)
        return value

    model.train()
    order = np.random.default_rng(0).permutation(len(labels))
    torch_losses, tf_losses = [], []
    for step in range(steps):
        rows = order[(step * batch + np.arange(batch)) % len(order)]
        x, y = torch.from_numpy(images[rows]), torch.from_numpy(labels[rows])
        torch_optimizer.zero_grad()
        loss = loss_module(model(x), y)
        loss.backward()
        torch_optimizer.step()
        torch_losses.append(loss.item())
        (keras_x,) = conversion.keras_inputs(x)  # NHWC for images
        tf_losses.append(float(keras_step(keras_x, tf.constant(labels[rows]))))
    return np.array(torch_losses), np.array(tf_losses)
