"""Convert torch losses, optimizers and LR schedulers into Keras objects that train the same.

The Keras objects come from :mod:`torch2tf.keras_helpers.training`; they compute in the dtype of
the model (float64 models train in float64) and reproduce torch's update rules exactly, not just
approximately (see ``docs/semantics.md`` sections 8-10 for the differences with Keras built-ins).

Scheduler convention: Keras evaluates a learning-rate schedule at every optimizer step (batch).
``steps_per_epoch=None`` means the torch scheduler is stepped once per batch; an integer means it is
stepped once per epoch of that many batches.
"""

from __future__ import annotations

import importlib
import math
from collections.abc import Mapping
from typing import Any

import tensorflow as tf
import torch
from torch import nn
from torch.optim import lr_scheduler as sched

from torch2tf import training_objects
from torch2tf.keras_helpers import training as kt

__all__ = ["convert_loss", "convert_lr_scheduler", "convert_optimizer"]


def _torch_classes(table: dict[str, str]) -> tuple[type, ...]:
    """The torch classes of the shared table (qualified names -> the classes themselves)."""
    classes = []
    for qualified in table:
        module, name = qualified.rsplit(".", 1)
        classes.append(getattr(importlib.import_module(module), name))
    return tuple(classes)


_LOSSES = _torch_classes(training_objects.LOSSES)
_OPTIMIZERS = _torch_classes(training_objects.OPTIMIZERS)
_SCHEDULERS = _torch_classes(training_objects.SCHEDULERS)


def _names(types: tuple[type, ...], prefix: str) -> str:
    return ", ".join(prefix + t.__name__ for t in types)


def _tensor_list(tensor: torch.Tensor | None) -> list | None:
    return None if tensor is None else tensor.detach().cpu().double().tolist()


def convert_loss(loss_module: nn.Module) -> tf.keras.losses.Loss:
    """Returns a Keras loss equal to a torch loss module, in value and in gradient.

    The Keras loss computes in ``y_pred``'s dtype and takes Keras layouts: the class axis of
    ``CrossEntropyLoss``/``NLLLoss`` inputs is the last one. ``CrossEntropyLoss`` takes integer
    class indices (rank one lower than ``y_pred``) or class probabilities (same rank).

    Args:
        loss_module: An instance of one of ``nn.CrossEntropyLoss``, ``nn.NLLLoss``,
            ``nn.BCELoss``, ``nn.BCEWithLogitsLoss``, ``nn.MSELoss``, ``nn.L1Loss``,
            ``nn.SmoothL1Loss``, ``nn.HuberLoss`` or ``nn.KLDivLoss`` (not a subclass).

    Returns:
        A ``tf.keras.losses.Loss`` called as ``loss(y_true, y_pred)``, usable in a
        ``tf.GradientTape`` loop or in ``model.compile(loss=...)``.

    Raises:
        TypeError: If the loss is of another type.
    """
    kind = type(loss_module)
    if kind not in _LOSSES:
        raise TypeError(
            f"convert_loss expects one of {_names(_LOSSES, 'nn.')}; "
            f"received: {kind.__module__.replace('torch.nn.modules.loss', 'nn')}.{kind.__name__}"
        )
    m: Any = loss_module
    reduction = m.reduction
    if kind is nn.CrossEntropyLoss:
        return kt.TorchCrossEntropyLoss(
            weight=_tensor_list(m.weight),
            ignore_index=m.ignore_index,
            reduction=reduction,
            label_smoothing=m.label_smoothing,
        )
    if kind is nn.NLLLoss:
        return kt.TorchNLLLoss(
            weight=_tensor_list(m.weight), ignore_index=m.ignore_index, reduction=reduction
        )
    if kind is nn.BCELoss:
        return kt.TorchBCELoss(weight=_tensor_list(m.weight), reduction=reduction)
    if kind is nn.BCEWithLogitsLoss:
        return kt.TorchBCEWithLogitsLoss(
            weight=_tensor_list(m.weight),
            reduction=reduction,
            pos_weight=_tensor_list(m.pos_weight),
        )
    if kind is nn.MSELoss:
        return kt.TorchMSELoss(reduction=reduction)
    if kind is nn.L1Loss:
        return kt.TorchL1Loss(reduction=reduction)
    if kind is nn.SmoothL1Loss:
        return kt.TorchSmoothL1Loss(reduction=reduction, beta=m.beta)
    if kind is nn.HuberLoss:
        return kt.TorchHuberLoss(reduction=reduction, delta=m.delta)
    return kt.TorchKLDivLoss(reduction=reduction, log_target=m.log_target)


def _schedule_for_group(
    scheduler: sched.LRScheduler, group: int, *, nested: bool = False
) -> tuple[tf.keras.optimizers.schedules.LearningRateSchedule, Any]:
    """Returns (lr schedule, momentum schedule or None) for one param group, per scheduler step."""
    kind = type(scheduler)
    if kind not in _SCHEDULERS or (nested and kind is sched.SequentialLR):
        expected = _names(_SCHEDULERS, "lr_scheduler.")
        where = " inside SequentialLR (except SequentialLR)" if nested else ""
        raise TypeError(
            f"convert_optimizer expects a scheduler among {expected}{where}; "
            f"received: lr_scheduler.{kind.__name__}"
        )
    s: Any = scheduler
    if kind is sched.SequentialLR:
        children = [_schedule_for_group(c, group, nested=True) for c in s._schedulers]
        return kt.TorchSequentialLR([lr for lr, _ in children], s._milestones), None
    base_lr = float(s.base_lrs[group])
    if kind is sched.StepLR:
        return kt.TorchStepLR(base_lr, s.step_size, s.gamma), None
    if kind is sched.MultiStepLR:
        return kt.TorchMultiStepLR(base_lr, list(s.milestones.elements()), s.gamma), None
    if kind is sched.ExponentialLR:
        return kt.TorchExponentialLR(base_lr, s.gamma), None
    if kind is sched.CosineAnnealingLR:
        return kt.TorchCosineAnnealingLR(base_lr, s.T_max, s.eta_min), None
    if kind is sched.LinearLR:
        return kt.TorchLinearLR(base_lr, s.start_factor, s.end_factor, s.total_iters), None
    # OneCycleLR keeps its per-group values in the param group.
    values = s.optimizer.param_groups[group]
    phases = s._schedule_phases
    pct_start = (phases[0]["end_step"] + 1) / s.total_steps
    common = dict(
        max_lr=values["max_lr"],
        total_steps=s.total_steps,
        pct_start=pct_start,
        anneal_strategy=s._anneal_func_type,
        div_factor=values["max_lr"] / values["initial_lr"],
        final_div_factor=values["initial_lr"] / values["min_lr"],
        three_phase=len(phases) == 3,
    )
    lr = kt.TorchOneCycleLR(**common)
    if not s.cycle_momentum:
        return lr, None
    if nested:
        raise ValueError(
            "convert_optimizer cannot convert OneCycleLR(cycle_momentum=True) inside SequentialLR "
            "(the momentum keeps its last value after the milestone); use cycle_momentum=False."
        )
    momentum = kt.TorchOneCycleLR(
        **common,
        base_momentum=values["base_momentum"],
        max_momentum=values["max_momentum"],
        curve="momentum",
    )
    return lr, momentum


def _check_scheduler(scheduler: sched.LRScheduler, optimizer: torch.optim.Optimizer) -> None:
    if getattr(scheduler, "optimizer", None) is not optimizer:
        raise ValueError("convert_optimizer expects a scheduler built on the given optimizer.")
    if scheduler.last_epoch != 0:
        raise ValueError(
            "convert_optimizer expects a freshly built scheduler (last_epoch == 0); received "
            f"last_epoch={scheduler.last_epoch}. Converting a scheduler mid-training is not "
            "supported."
        )


def convert_lr_scheduler(
    scheduler: sched.LRScheduler, *, group: int = 0, steps_per_epoch: int | None = None
) -> tf.keras.optimizers.schedules.LearningRateSchedule:
    """Returns the Keras learning-rate schedule that one param group of a torch scheduler follows.

    Args:
        scheduler: A freshly built ``StepLR``, ``MultiStepLR``, ``ExponentialLR``,
            ``CosineAnnealingLR``, ``LinearLR``, ``OneCycleLR`` or ``SequentialLR`` of these.
        group: The index of the optimizer's param group whose learning rate is wanted.
        steps_per_epoch: ``None`` if ``scheduler.step()`` is called after every batch; else the
            number of batches between two calls (once per epoch).

    Returns:
        A schedule evaluated by Keras at the optimizer's 0-based iteration, in float64. The
        momentum cycling of ``OneCycleLR`` is not part of it: use :func:`convert_optimizer`.

    Raises:
        TypeError: If the scheduler is of another type.
        ValueError: If the scheduler was already stepped.
    """
    _check_scheduler(scheduler, scheduler.optimizer)
    lr, _ = _schedule_for_group(scheduler, group)
    return lr if steps_per_epoch is None else kt.PerEpochSchedule(lr, steps_per_epoch)


def _was_stepped(state: dict) -> bool:
    """Adagrad creates its state at construction, with step 0; the others at the first step."""
    step = state.get("step")
    return (step is not None and float(step) > 0) or state.get("momentum_buffer") is not None


def _group_optimizer(
    optimizer: torch.optim.Optimizer,
    group: dict,
    learning_rate: Any,
    momentum: Any,
    clip_grad_norm: float | None,
) -> tf.keras.optimizers.Optimizer:
    """Builds the Keras optimizer that applies torch's rule with one param group's settings."""
    kind = type(optimizer)
    options = {} if clip_grad_norm is None else {"global_clipnorm": float(clip_grad_norm)}
    if kind is torch.optim.SGD:
        return kt.TorchSGD(
            learning_rate,
            momentum=float(group["momentum"]) if momentum is None else momentum,
            dampening=float(group["dampening"]),
            weight_decay=float(group["weight_decay"]),
            nesterov=bool(group["nesterov"]),
            maximize=bool(group["maximize"]),
            **options,
        )
    if kind in (torch.optim.Adam, torch.optim.AdamW):
        beta_1, beta_2 = (float(b) for b in group["betas"])
        return kt.TorchAdam(
            learning_rate,
            beta_1=beta_1 if momentum is None else momentum,
            beta_2=beta_2,
            epsilon=float(group["eps"]),
            weight_decay=float(group["weight_decay"]),
            amsgrad=bool(group["amsgrad"]),
            maximize=bool(group["maximize"]),
            decoupled_weight_decay=bool(
                group.get("decoupled_weight_decay", kind is torch.optim.AdamW)
            ),
            **options,
        )
    if kind is torch.optim.RMSprop:
        return kt.TorchRMSprop(
            learning_rate,
            alpha=float(group["alpha"]),
            epsilon=float(group["eps"]),
            weight_decay=float(group["weight_decay"]),
            momentum=float(group["momentum"]) if momentum is None else momentum,
            centered=bool(group["centered"]),
            maximize=bool(group["maximize"]),
            **options,
        )
    return kt.TorchAdagrad(
        learning_rate,
        lr_decay=float(group["lr_decay"]),
        weight_decay=float(group["weight_decay"]),
        initial_accumulator_value=float(group["initial_accumulator_value"]),
        epsilon=float(group["eps"]),
        maximize=bool(group["maximize"]),
        **options,
    )


def convert_optimizer(
    optimizer: torch.optim.Optimizer,
    scheduler: sched.LRScheduler | None = None,
    *,
    parameters: Mapping[nn.Parameter, tf.Variable] | None = None,
    steps_per_epoch: int | None = None,
    clip_grad_norm: float | None = None,
) -> tf.keras.optimizers.Optimizer:
    """Returns a Keras optimizer that updates weights exactly as a torch optimizer would.

    One param group gives one optimizer (``TorchSGD``, ``TorchAdam``, ``TorchRMSprop`` or
    ``TorchAdagrad``) that applies to whatever variables it is given. Several groups, or a
    ``parameters`` mapping in which some parameters are not in the optimizer, give a
    ``TorchParamGroups``: one inner optimizer per group, each updating the Keras variables of its
    group's parameters; variables of mapped parameters outside the optimizer are left untouched,
    as in torch, and unmapped variables are an error.

    Args:
        optimizer: A freshly built (never stepped) ``torch.optim.SGD``, ``Adam``, ``AdamW``,
            ``RMSprop`` or ``Adagrad``.
        scheduler: An optional, freshly built LR scheduler on ``optimizer`` (see
            :func:`convert_lr_scheduler`). ``OneCycleLR(cycle_momentum=True)`` also cycles the
            momentum (SGD, RMSprop) or beta1 (Adam, AdamW).
        parameters: The Keras variable of each torch parameter, keyed by the ``nn.Parameter``
            objects themselves. Required when the optimizer has more than one param group.
        steps_per_epoch: ``None`` if ``scheduler.step()`` is called after every batch; else the
            number of batches between two calls (once per epoch).
        clip_grad_norm: ``max_norm`` of a ``torch.nn.utils.clip_grad_norm_`` (2-norm) called on
            all the gradients before each ``optimizer.step()``; ``None`` for no clipping.

    Returns:
        A ``tf.keras.optimizers.Optimizer`` whose ``apply(grads, variables)`` reproduces
        ``optimizer.step()`` (and ``scheduler.step()``), in the variables' dtype.

    Raises:
        TypeError: If the optimizer or scheduler is of an unsupported type.
        ValueError: If the optimizer or scheduler was already stepped, if ``parameters`` is
            missing or incomplete, or an argument is out of range.
    """
    kind = type(optimizer)
    if kind not in _OPTIMIZERS:
        raise TypeError(
            f"convert_optimizer expects one of {_names(_OPTIMIZERS, 'torch.optim.')}; "
            f"received: {kind.__module__}.{kind.__name__}"
        )
    if any(_was_stepped(state) for state in optimizer.state.values()):
        raise ValueError(
            "convert_optimizer expects an optimizer that was never stepped; this one has state "
            "(momentum buffers, moments), and transferring it is not supported."
        )
    if steps_per_epoch is not None and (
        not isinstance(steps_per_epoch, int) or steps_per_epoch < 1
    ):
        raise ValueError(f"steps_per_epoch must be a positive int; received {steps_per_epoch!r}")
    if clip_grad_norm is not None and not (math.isfinite(clip_grad_norm) and clip_grad_norm > 0):
        raise ValueError(f"clip_grad_norm must be a positive number; received {clip_grad_norm!r}")
    if scheduler is not None:
        _check_scheduler(scheduler, optimizer)

    groups = optimizer.param_groups
    single = len(groups) == 1
    if parameters is None and not single:
        raise ValueError(
            f"convert_optimizer needs `parameters` (torch Parameter -> Keras variable) for an "
            f"optimizer with several param groups; received {len(groups)} groups and no mapping."
        )

    inner = []
    for index, group in enumerate(groups):
        learning_rate: Any = float(group["lr"])
        momentum = None
        if scheduler is not None:
            learning_rate, momentum = _schedule_for_group(scheduler, index)
            if steps_per_epoch is not None:
                learning_rate = kt.PerEpochSchedule(learning_rate, steps_per_epoch)
                if momentum is not None:
                    momentum = kt.PerEpochSchedule(momentum, steps_per_epoch)
        clip = clip_grad_norm if single else None  # TorchParamGroups clips across the groups
        inner.append(_group_optimizer(optimizer, group, learning_rate, momentum, clip))

    if parameters is None:
        return inner[0]
    in_optimizer = {id(p) for group in groups for p in group["params"]}
    variables = []
    for index, group in enumerate(groups):
        group_vars = []
        for number, param in enumerate(group["params"]):
            if param not in parameters:
                raise ValueError(
                    f"`parameters` has no Keras variable for parameter {number} of param group "
                    f"{index} (shape {tuple(param.shape)})."
                )
            variable = parameters[param]
            if math.prod(variable.shape) != param.numel():
                raise ValueError(
                    f"Parameter {number} of param group {index} has shape {tuple(param.shape)}, "
                    f"but its Keras variable {variable.name} has shape {tuple(variable.shape)}."
                )
            group_vars.append(variable)
        variables.append(group_vars)
    frozen = [v for p, v in parameters.items() if id(p) not in in_optimizer]
    if single and not frozen:
        return inner[0]
    return kt.TorchParamGroups(inner, variables, frozen, global_clipnorm=clip_grad_norm)
