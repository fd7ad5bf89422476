"""A CNN with BatchNorm2d trains in TensorFlow as in torch: scikit-learn's digits as 1x8x8
images, 60 steps in float64 (issue 11's figure: the trajectory within 1e-6 of torch's)."""

import numpy as np
import pytest
import torch
from digits_training import digits_images, train_side_by_side

import torch2tf
from torch2tf.parity_models import DigitsCNN
from torch2tf.parity_training import weight_difference

STEPS = 60
BATCH = 24


@pytest.mark.parametrize(
    "optimizer",
    [
        lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.9),
        lambda p: torch.optim.Adam(p, lr=0.01),
    ],
    ids=["sgd-momentum", "adam"],
)
def test_digits_cnn_trains_like_torch(optimizer):
    images, labels = digits_images()
    torch.manual_seed(0)
    model = DigitsCNN().double()
    conversion = torch2tf.convert(model, inputs=torch.from_numpy(images[:16]))
    assert conversion.passed, conversion.table()
    assert conversion.flattened_rows == {"fc": 16}  # torch's (C, H, W) order kept
    keras_model = conversion.keras_model
    torch_optimizer = optimizer(model.parameters())
    torch_losses, tf_losses = train_side_by_side(
        model, conversion, torch_optimizer, images, labels, STEPS, BATCH
    )
    assert np.max(np.abs(tf_losses - torch_losses) / np.abs(torch_losses)) < 1e-6
    # Weights, and BatchNorm's running statistics updated in train mode with torch's momentum
    # and unbiased variance, in Keras's layout.
    assert weight_difference(model, keras_model, conversion.flattened_rows) < 1e-6
    for name in ("bn1", "bn2"):
        torch_bn, keras_bn = getattr(model, name), getattr(keras_model, name)
        np.testing.assert_allclose(
            keras_bn.moving_variance.numpy(), torch_bn.running_var.numpy(), rtol=1e-6
        )
        np.testing.assert_allclose(
            keras_bn.moving_mean.numpy(), torch_bn.running_mean.numpy(), rtol=1e-6, atol=1e-12
        )
    assert torch_losses[-10:].mean() < 0.5 * torch_losses[:5].mean()  # it learns
    # Evaluated afterwards (running statistics): the same logits, to the trajectory's 1e-6.
    model.eval()
    test = images[-200:]
    with torch.no_grad():
        expected = model(torch.from_numpy(test)).numpy()
    actual = keras_model(conversion.keras_inputs(torch.from_numpy(test))[0], training=False)
    np.testing.assert_allclose(actual.numpy(), expected, atol=1e-6, rtol=1e-6)


def test_weight_difference_sees_a_flattened_kernel_in_the_wrong_order():
    """Without the conversion's row order the comparison of the Linear after the flatten
    fails: the check above is not vacuous."""
    torch.manual_seed(0)
    model = DigitsCNN().double()
    conversion = torch2tf.convert(model, inputs=torch.zeros(2, 1, 8, 8, dtype=torch.float64))
    assert weight_difference(model, conversion.keras_model, conversion.flattened_rows) == 0.0
    assert weight_difference(model, conversion.keras_model) > 0.1
