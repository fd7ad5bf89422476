"""torch.optim optimizers and LR schedulers -> the torch-exact Keras helpers.

See :mod:`torch2tf.rules.training` for the mapping decisions they share.
"""

from __future__ import annotations

import ast
import re
from typing import Any

from torch2tf import training_objects
from torch2tf.rules.registry import Unsupported, const, function, keras_call, src
from torch2tf.rules.training import MISSING, given, options, training_step


def _parameters(params: Any) -> None:
    text = src(params).strip()
    if not re.fullmatch(r"[A-Za-z_][\w.]*\.parameters\(\s*\)", text):
        raise Unsupported(
            f"an optimizer is translated only over `model.parameters()`; received {text}",
            "for param groups, build the optimizer in torch and use "
            "torch2tf.training.convert_optimizer",
        )


def _beta_options(betas: Any) -> dict[str, str]:
    if not given(betas):
        return {}
    try:
        node = ast.parse(str(betas).strip(), mode="eval").body
    except SyntaxError:
        node = None
    if isinstance(node, (ast.Tuple, ast.List)) and len(node.elts) == 2:
        text = str(betas).strip()
        first, second = (ast.get_source_segment(text, e) for e in node.elts)
        return {"beta_1": first or "", "beta_2": second or ""}
    return {"beta_1": f"{betas}[0]", "beta_2": f"{betas}[1]"}


@function(
    "torch.optim.SGD",
    examples=(
        (
            "optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)",
            "optimizer = TorchSGD(learning_rate=0.1, momentum=0.9)",
        ),
    ),
)
def sgd(
    params,
    lr=0.001,
    momentum=0,
    dampening=0,
    weight_decay=0,
    nesterov=False,
    *,
    maximize=False,
    foreach=None,
    differentiable=False,
    fused=None,
):
    """-> TorchSGD (lr outside the momentum buffer, torch's dampening and coupled decay)."""
    _parameters(params)
    return keras_call(
        "TorchSGD",
        learning_rate=src(lr),
        **options(
            momentum=momentum,
            dampening=dampening,
            weight_decay=weight_decay,
            nesterov=nesterov,
            maximize=maximize,
        ),
    )


def _adam(params, lr, betas, eps, weight_decay, amsgrad, maximize, decoupled) -> str:
    _parameters(params)
    return keras_call(
        "TorchAdam",
        learning_rate=src(lr),
        **_beta_options(betas),
        **options(epsilon=eps, amsgrad=amsgrad, maximize=maximize),
        **decoupled,
        **({"weight_decay": src(weight_decay)} if decoupled or given(weight_decay) else {}),
    )


@function(
    "torch.optim.Adam",
    examples=(
        (
            "optimizer = torch.optim.Adam(model.parameters(), lr=1e-3, weight_decay=1e-4)",
            "optimizer = TorchAdam(learning_rate=0.001, weight_decay=0.0001)",
        ),
    ),
)
def adam(
    params,
    lr=0.001,
    betas=(0.9, 0.999),
    eps=1e-08,
    weight_decay=0,
    amsgrad=False,
    *,
    foreach=None,
    maximize=False,
    capturable=False,
    differentiable=False,
    fused=None,
    decoupled_weight_decay=False,
):
    """-> TorchAdam (eps after bias correction, coupled weight decay, as torch)."""
    decoupled = options(decoupled_weight_decay=decoupled_weight_decay)
    return _adam(params, lr, betas, eps, weight_decay, amsgrad, maximize, decoupled)


@function(
    "torch.optim.AdamW",
    examples=(
        (
            "optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)",
            "optimizer = TorchAdam("
            "learning_rate=0.001, decoupled_weight_decay=True, weight_decay=0.01)",
        ),
    ),
)
def adamw(
    params,
    lr=0.001,
    betas=(0.9, 0.999),
    eps=1e-08,
    weight_decay=0.01,
    amsgrad=False,
    *,
    maximize=False,
    foreach=None,
    capturable=False,
    differentiable=False,
    fused=None,
):
    """-> TorchAdam(decoupled_weight_decay=True), torch's default weight_decay=0.01."""
    decoupled = {"decoupled_weight_decay": "True"}
    return _adam(params, lr, betas, eps, weight_decay, amsgrad, maximize, decoupled)


@function(
    "torch.optim.RMSprop",
    examples=(
        (
            "optimizer = torch.optim.RMSprop(model.parameters(), lr=1e-2)",
            "optimizer = TorchRMSprop(learning_rate=0.01)",
        ),
    ),
)
def rmsprop(
    params,
    lr=0.01,
    alpha=0.99,
    eps=1e-08,
    weight_decay=0,
    momentum=0,
    centered=False,
    capturable=False,
    foreach=None,
    maximize=False,
    differentiable=False,
):
    """-> TorchRMSprop (eps outside the square root, lr outside the momentum buffer)."""
    _parameters(params)
    return keras_call(
        "TorchRMSprop",
        learning_rate=src(lr),
        **options(
            alpha=alpha,
            epsilon=eps,
            weight_decay=weight_decay,
            momentum=momentum,
            centered=centered,
            maximize=maximize,
        ),
    )


@function(
    "torch.optim.Adagrad",
    examples=(
        (
            "optimizer = torch.optim.Adagrad(model.parameters(), lr=1e-2)",
            "optimizer = TorchAdagrad(learning_rate=0.01)",
        ),
    ),
)
def adagrad(
    params,
    lr=0.01,
    lr_decay=0,
    weight_decay=0,
    initial_accumulator_value=0,
    eps=1e-10,
    foreach=None,
    *,
    maximize=False,
    differentiable=False,
    fused=None,
):
    """-> TorchAdagrad (eps outside the square root, accumulator starting at 0)."""
    _parameters(params)
    return keras_call(
        "TorchAdagrad",
        learning_rate=src(lr),
        **options(
            lr_decay=lr_decay,
            weight_decay=weight_decay,
            initial_accumulator_value=initial_accumulator_value,
            epsilon=eps,
            maximize=maximize,
        ),
    )


# --------------------------------------------------------------------------- LR schedulers


def _base_lr(optimizer: Any) -> str:
    text = src(optimizer).strip()
    if not text.isidentifier():
        raise Unsupported(
            f"a scheduler is translated only on an optimizer held in a variable; received {text}"
        )
    return f"float({text}.learning_rate)"


def _fresh(last_epoch: Any) -> None:
    if const(last_epoch, MISSING) != -1:
        raise Unsupported(
            f"last_epoch={src(last_epoch)} (resuming a schedule) is not translated",
            "build the scheduler fresh",
        )


@function(
    "torch.optim.lr_scheduler.StepLR",
    examples=training_step(
        "sched = torch.optim.lr_scheduler.StepLR(opt, 10, gamma=0.5)",
        "sched = TorchStepLR(float(opt.learning_rate), 10, gamma=0.5)\nopt.learning_rate = sched",
    ),
)
def step_lr(optimizer, step_size, gamma=0.1, last_epoch=-1):
    """-> TorchStepLR; the loops pass attaches it to the optimizer, per batch or per epoch."""
    _fresh(last_epoch)
    return keras_call("TorchStepLR", _base_lr(optimizer), src(step_size), **options(gamma=gamma))


@function(
    "torch.optim.lr_scheduler.MultiStepLR",
    examples=training_step(
        "sched = torch.optim.lr_scheduler.MultiStepLR(opt, [30, 80])",
        "sched = TorchMultiStepLR(float(opt.learning_rate), [30, 80])\nopt.learning_rate = sched",
    ),
)
def multi_step_lr(optimizer, milestones, gamma=0.1, last_epoch=-1):
    """-> TorchMultiStepLR (decays at each milestone itself; Keras's piecewise is one late)."""
    _fresh(last_epoch)
    return keras_call(
        "TorchMultiStepLR", _base_lr(optimizer), src(milestones), **options(gamma=gamma)
    )


@function(
    "torch.optim.lr_scheduler.ExponentialLR",
    examples=training_step(
        "sched = torch.optim.lr_scheduler.ExponentialLR(opt, 0.9)",
        "sched = TorchExponentialLR(float(opt.learning_rate), 0.9)\nopt.learning_rate = sched",
    ),
)
def exponential_lr(optimizer, gamma, last_epoch=-1):
    """-> TorchExponentialLR in float64."""
    _fresh(last_epoch)
    return keras_call("TorchExponentialLR", _base_lr(optimizer), src(gamma))


@function(
    "torch.optim.lr_scheduler.CosineAnnealingLR",
    examples=training_step(
        "sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=100)",
        "sched = TorchCosineAnnealingLR(float(opt.learning_rate), 100)\nopt.learning_rate = sched",
    ),
)
def cosine_annealing_lr(optimizer, T_max, eta_min=0.0, last_epoch=-1):
    """-> TorchCosineAnnealingLR (periodic past T_max, as torch)."""
    _fresh(last_epoch)
    return keras_call(
        "TorchCosineAnnealingLR", _base_lr(optimizer), src(T_max), **options(eta_min=eta_min)
    )


@function(
    "torch.optim.lr_scheduler.LinearLR",
    examples=training_step(
        "sched = torch.optim.lr_scheduler.LinearLR(opt, start_factor=0.5, total_iters=4)",
        "sched = TorchLinearLR(float(opt.learning_rate), start_factor=0.5, total_iters=4)\n"
        "opt.learning_rate = sched",
    ),
)
def linear_lr(optimizer, start_factor=1.0 / 3, end_factor=1.0, total_iters=5, last_epoch=-1):
    """-> TorchLinearLR (a factor of the optimizer's learning rate)."""
    _fresh(last_epoch)
    return keras_call(
        "TorchLinearLR",
        _base_lr(optimizer),
        **options(start_factor=start_factor, end_factor=end_factor, total_iters=total_iters),
    )


@function(
    training_objects.SEQUENTIAL_LR,
    examples=training_step(
        "warmup = torch.optim.lr_scheduler.LinearLR(opt, total_iters=5)\n"
        "decay = torch.optim.lr_scheduler.ExponentialLR(opt, 0.9)\n"
        "sched = torch.optim.lr_scheduler.SequentialLR(opt, [warmup, decay], milestones=[5])",
        "warmup = TorchLinearLR(float(opt.learning_rate), total_iters=5)\n"
        "decay = TorchExponentialLR(float(opt.learning_rate), 0.9)\n"
        "sched = TorchSequentialLR([warmup, decay], [5])\n"
        "opt.learning_rate = sched",
    ),
)
def sequential_lr(optimizer, schedulers, milestones, last_epoch=-1):
    """-> TorchSequentialLR of the schedules (each restarts at its milestone, as torch's)."""
    _fresh(last_epoch)
    _base_lr(optimizer)  # checked: the schedules are built on it
    return keras_call("TorchSequentialLR", src(schedulers), src(milestones))


@function(
    "torch.optim.lr_scheduler.OneCycleLR",
    examples=training_step(
        "sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=0.1, total_steps=100)",
        "sched = TorchOneCycleLR(max_lr=0.1, total_steps=100)\n"
        "opt.learning_rate = sched\n"
        "opt.momentum = TorchOneCycleLR(max_lr=0.1, total_steps=100, base_momentum=0.85, "
        "max_momentum=0.95, curve='momentum')",
    ),
)
def one_cycle_lr(
    optimizer,
    max_lr,
    total_steps=None,
    epochs=None,
    steps_per_epoch=None,
    pct_start=0.3,
    anneal_strategy="cos",
    cycle_momentum=True,
    base_momentum=0.85,
    max_momentum=0.95,
    div_factor=25.0,
    final_div_factor=10000.0,
    three_phase=False,
    last_epoch=-1,
):
    """-> TorchOneCycleLR; with cycle_momentum the loops pass also cycles momentum/beta_1."""
    _fresh(last_epoch)
    _base_lr(optimizer)
    if const(max_lr, None) is None and not given(max_lr):
        raise Unsupported("OneCycleLR needs max_lr")
    if isinstance(const(max_lr, None), (list, tuple)):
        raise Unsupported("OneCycleLR with one max_lr per param group is not translated")
    if given(total_steps) and const(total_steps, MISSING) is not None:
        steps = src(total_steps)
    elif given(epochs) and given(steps_per_epoch):
        steps = f"{src(epochs)} * {src(steps_per_epoch)}"
    else:
        raise Unsupported("OneCycleLR needs total_steps, or epochs and steps_per_epoch")
    return keras_call(
        "TorchOneCycleLR",
        max_lr=src(max_lr),
        total_steps=steps,
        **options(
            pct_start=pct_start,
            anneal_strategy=anneal_strategy,
            div_factor=div_factor,
            final_div_factor=final_div_factor,
            three_phase=three_phase,
        ),
    )
