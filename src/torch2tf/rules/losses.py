"""torch losses, modules and functions -> the torch-exact Keras loss helpers, taking
``(y_true, y_pred)`` (see :mod:`.training`).
"""

from __future__ import annotations

from typing import Any

from torch2tf.rules.registry import Unsupported, const, function, keras_call, src
from torch2tf.rules.training import MISSING, options


def _legacy(size_average: Any, reduce: Any) -> None:
    if const(size_average, MISSING) is not None or const(reduce, MISSING) is not None:
        raise Unsupported(
            "size_average= and reduce= (deprecated in torch) are not translated",
            "use reduction=",
        )


@function(
    "torch.nn.CrossEntropyLoss",
    examples=(
        (
            "loss_fn = nn.CrossEntropyLoss(label_smoothing=0.1)",
            "loss_fn = TorchCrossEntropyLoss(label_smoothing=0.1)",
        ),
    ),
)
def cross_entropy_loss(
    weight=None,
    size_average=None,
    ignore_index=-100,
    reduce=None,
    reduction="mean",
    label_smoothing=0.0,
):
    """-> TorchCrossEntropyLoss: (y_true, y_pred), class axis last, weights and smoothing."""
    _legacy(size_average, reduce)
    return keras_call(
        "TorchCrossEntropyLoss",
        **options(
            weight=weight,
            ignore_index=ignore_index,
            reduction=reduction,
            label_smoothing=label_smoothing,
        ),
    )


@function("torch.nn.NLLLoss", examples=(("loss_fn = nn.NLLLoss()", "loss_fn = TorchNLLLoss()"),))
def nll_loss_module(
    weight=None, size_average=None, ignore_index=-100, reduce=None, reduction="mean"
):
    """-> TorchNLLLoss: (y_true, y_pred), any scores (Keras's SCCE renormalises)."""
    _legacy(size_average, reduce)
    return keras_call(
        "TorchNLLLoss",
        **options(weight=weight, ignore_index=ignore_index, reduction=reduction),
    )


@function("torch.nn.BCELoss", examples=(("loss_fn = nn.BCELoss()", "loss_fn = TorchBCELoss()"),))
def bce_loss(weight=None, size_average=None, reduce=None, reduction="mean"):
    """-> TorchBCELoss: logs clamped at -100 as torch (Keras clips p), torch's backward."""
    _legacy(size_average, reduce)
    return keras_call("TorchBCELoss", **options(weight=weight, reduction=reduction))


@function(
    "torch.nn.BCEWithLogitsLoss",
    examples=(("loss_fn = nn.BCEWithLogitsLoss()", "loss_fn = TorchBCEWithLogitsLoss()"),),
)
def bce_with_logits_loss(
    weight=None, size_average=None, reduce=None, reduction="mean", pos_weight=None
):
    """-> TorchBCEWithLogitsLoss: pos_weight, element-wise weight, a true 'sum'."""
    _legacy(size_average, reduce)
    return keras_call(
        "TorchBCEWithLogitsLoss",
        **options(weight=weight, reduction=reduction, pos_weight=pos_weight),
    )


@function("torch.nn.MSELoss", examples=(("loss_fn = nn.MSELoss()", "loss_fn = TorchMSELoss()"),))
def mse_loss_module(size_average=None, reduce=None, reduction="mean"):
    """-> TorchMSELoss (Keras's 'sum' is a sum of per-row means)."""
    _legacy(size_average, reduce)
    return keras_call("TorchMSELoss", **options(reduction=reduction))


@function(
    "torch.nn.L1Loss",
    examples=(("loss_fn = nn.L1Loss(reduction='sum')", "loss_fn = TorchL1Loss(reduction='sum')"),),
)
def l1_loss_module(size_average=None, reduce=None, reduction="mean"):
    """-> TorchL1Loss (Keras's 'sum' is a sum of per-row means)."""
    _legacy(size_average, reduce)
    return keras_call("TorchL1Loss", **options(reduction=reduction))


@function(
    "torch.nn.SmoothL1Loss",
    examples=(("loss_fn = nn.SmoothL1Loss(beta=0.5)", "loss_fn = TorchSmoothL1Loss(beta=0.5)"),),
)
def smooth_l1_loss_module(size_average=None, reduce=None, reduction="mean", beta=1.0):
    """-> TorchSmoothL1Loss (Huber(delta=beta) / beta)."""
    _legacy(size_average, reduce)
    return keras_call("TorchSmoothL1Loss", **options(reduction=reduction, beta=beta))


@function(
    "torch.nn.HuberLoss",
    examples=(("loss_fn = nn.HuberLoss(delta=2.0)", "loss_fn = TorchHuberLoss(delta=2.0)"),),
)
def huber_loss_module(reduction="mean", delta=1.0):
    """-> TorchHuberLoss, computed in the input dtype."""
    return keras_call("TorchHuberLoss", **options(reduction=reduction, delta=delta))


@function(
    "torch.nn.KLDivLoss",
    examples=(
        (
            "loss_fn = nn.KLDivLoss(reduction='batchmean')",
            "loss_fn = TorchKLDivLoss(reduction='batchmean')",
        ),
    ),
)
def kl_div_loss(size_average=None, reduce=None, reduction="mean", log_target=False):
    """-> TorchKLDivLoss (no clipping; torch's 'mean' divides by every element)."""
    _legacy(size_average, reduce)
    return keras_call("TorchKLDivLoss", **options(reduction=reduction, log_target=log_target))


def _no_weight(name: str, weight: Any) -> None:
    if const(weight, MISSING) is not None:
        raise Unsupported(f"{name}(weight=...) is not translated")


@function(
    "torch.nn.functional.cross_entropy",
    examples=(("F.cross_entropy(x, y)", "TorchCrossEntropyLoss()(y, x)"),),
)
def cross_entropy(
    input,
    target,
    weight=None,
    size_average=None,
    ignore_index=-100,
    reduce=None,
    reduction="mean",
    label_smoothing=0.0,
):
    """-> TorchCrossEntropyLoss(...)(target, input)."""
    loss = cross_entropy_loss(
        weight, size_average, ignore_index, reduce, reduction, label_smoothing
    )
    return f"{loss}({src(target)}, {src(input)})"


@function("torch.nn.functional.nll_loss", examples=(("F.nll_loss(x, y)", "TorchNLLLoss()(y, x)"),))
def nll_loss(
    input, target, weight=None, size_average=None, ignore_index=-100, reduce=None, reduction="mean"
):
    """-> TorchNLLLoss(...)(target, input)."""
    loss = nll_loss_module(weight, size_average, ignore_index, reduce, reduction)
    return f"{loss}({src(target)}, {src(input)})"


@function("torch.nn.functional.mse_loss", examples=(("F.mse_loss(x, y)", "TorchMSELoss()(y, x)"),))
def mse_loss(input, target, size_average=None, reduce=None, reduction="mean", weight=None):
    """-> TorchMSELoss(...)(target, input)."""
    _no_weight("mse_loss", weight)
    return f"{mse_loss_module(size_average, reduce, reduction)}({src(target)}, {src(input)})"


@function("torch.nn.functional.l1_loss", examples=(("F.l1_loss(x, y)", "TorchL1Loss()(y, x)"),))
def l1_loss(input, target, size_average=None, reduce=None, reduction="mean", weight=None):
    """-> TorchL1Loss(...)(target, input)."""
    _no_weight("l1_loss", weight)
    return f"{l1_loss_module(size_average, reduce, reduction)}({src(target)}, {src(input)})"


@function(
    "torch.nn.functional.binary_cross_entropy",
    examples=(("F.binary_cross_entropy(x, y)", "TorchBCELoss()(y, x)"),),
)
def binary_cross_entropy(
    input, target, weight=None, size_average=None, reduce=None, reduction="mean"
):
    """-> TorchBCELoss(...)(target, input)."""
    loss = bce_loss(weight, size_average, reduce, reduction)
    return f"{loss}({src(target)}, {src(input)})"


@function(
    "torch.nn.functional.binary_cross_entropy_with_logits",
    examples=(("F.binary_cross_entropy_with_logits(x, y)", "TorchBCEWithLogitsLoss()(y, x)"),),
)
def binary_cross_entropy_with_logits(
    input, target, weight=None, size_average=None, reduce=None, reduction="mean", pos_weight=None
):
    """-> TorchBCEWithLogitsLoss(...)(target, input)."""
    loss = bce_with_logits_loss(weight, size_average, reduce, reduction, pos_weight)
    return f"{loss}({src(target)}, {src(input)})"


@function(
    "torch.nn.functional.smooth_l1_loss",
    examples=(("F.smooth_l1_loss(x, y)", "TorchSmoothL1Loss()(y, x)"),),
)
def smooth_l1_loss(input, target, size_average=None, reduce=None, reduction="mean", beta=1.0):
    """-> TorchSmoothL1Loss(...)(target, input)."""
    loss = smooth_l1_loss_module(size_average, reduce, reduction, beta)
    return f"{loss}({src(target)}, {src(input)})"


@function(
    "torch.nn.functional.huber_loss",
    examples=(("F.huber_loss(x, y, delta=0.5)", "TorchHuberLoss(delta=0.5)(y, x)"),),
)
def huber_loss(input, target, reduction="mean", delta=1.0, weight=None):
    """-> TorchHuberLoss(...)(target, input)."""
    _no_weight("huber_loss", weight)
    return f"{huber_loss_module(reduction, delta)}({src(target)}, {src(input)})"


@function(
    "torch.nn.functional.kl_div",
    examples=(
        ("F.kl_div(x, y, reduction='batchmean')", "TorchKLDivLoss(reduction='batchmean')(y, x)"),
    ),
)
def kl_div(input, target, size_average=None, reduce=None, reduction="mean", log_target=False):
    """-> TorchKLDivLoss(...)(target, input)."""
    loss = kl_div_loss(size_average, reduce, reduction, log_target)
    return f"{loss}({src(target)}, {src(input)})"
