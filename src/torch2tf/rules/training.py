"""Training objects: optimizers, losses, LR schedulers, data loading and tensors made from data.

Each rule has the torch signature and returns TensorFlow source that uses the torch-exact
helpers of ``keras_helpers/training.py`` (``TorchAdam``, ``TorchCrossEntropyLoss``,
``TorchStepLR``...), which the emitter copies into the generated file when they are used.

These rules translate expressions. How the objects are *used* (the loop around
``loss.backward()`` and ``optimizer.step()``, where ``scheduler.step()`` sits, clipping,
``torch.no_grad()``) is checked and rewritten by :mod:`torch2tf.training_script`. Statement-level
constructs (``torch.no_grad()``, ``clip_grad_norm_``) become a ``_torch2tf_statement(...)``
placeholder here that the loops pass replaces, or reports where it cannot.

Mapping decisions:

* ``torch.optim.Adam(model.parameters(), lr=1e-3)`` -> ``TorchAdam(learning_rate=0.001)``: the
  optimizer is not bound to variables when built; the loop passes
  ``model.trainable_variables`` to ``optimizer.apply``. Only ``<model>.parameters()`` is
  accepted as the parameters (param groups: use :func:`torch2tf.training.convert_optimizer`).
  torch's hyper-parameter names are renamed (``lr`` -> ``learning_rate``, ``eps`` ->
  ``epsilon``, ``betas`` -> ``beta_1, beta_2``); ``AdamW`` is ``TorchAdam`` with
  ``decoupled_weight_decay=True`` and torch's default ``weight_decay=0.01`` spelled out.
* A scheduler's base learning rate is read from the optimizer when it is built, as torch
  does: ``StepLR(opt, 5)`` -> ``TorchStepLR(float(opt.learning_rate), 5)``.
* Losses take ``(y_true, y_pred)``: the loops pass swaps the arguments of each call of a
  loss object; functional losses (``F.cross_entropy(out, y)``) are swapped here. The class
  axis of ``CrossEntropyLoss``/``NLLLoss`` scores is the last one (the same as torch's for
  ``(N, C)`` scores).
"""

from __future__ import annotations

import ast
import re
from typing import Any

from torch2tf import training_objects
from torch2tf.rules.functional import dtype_name
from torch2tf.rules.registry import Arg, Unsupported, const, function, keras_call, src

STATEMENT = "_torch2tf_statement"
"""Placeholder call for constructs the loops pass rewrites as statements."""

_MISSING = object()

# The torch objects translated, from the table shared with the live converters.
OPTIMIZERS = dict(training_objects.OPTIMIZERS)
SCHEDULERS = frozenset(training_objects.SCHEDULERS)
LOSSES = frozenset(training_objects.LOSSES)
DATA_LOADER = "torch.utils.data.DataLoader"
TENSOR_DATASET = "torch.utils.data.TensorDataset"
CLIP_NORM = "torch.nn.utils.clip_grad_norm_"
CLIP_VALUE = "torch.nn.utils.clip_grad_value_"
NO_GRAD = {"torch.no_grad", "torch.inference_mode"}
TENSOR_SOURCES = {"torch.tensor", "torch.as_tensor", "torch.from_numpy"}


def _given(value: Any) -> bool:
    """Whether the call spelled out this argument (defaults arrive as plain values)."""
    return isinstance(value, Arg)


def _options(**values: Any) -> dict[str, str]:
    """Keyword sources for the arguments the call spelled out."""
    return {k: src(v) for k, v in values.items() if _given(v)}


def _literal_false(name: str, value: Any, hint: str = "") -> None:
    if const(value, _MISSING) not in (False, None, 0):
        raise Unsupported(f"{name}={src(value)} is not translated", hint)


def _parameters(params: Any) -> None:
    text = src(params).strip()
    if not re.fullmatch(r"[A-Za-z_][\w.]*\.parameters\(\s*\)", text):
        raise Unsupported(
            f"an optimizer is translated only over `model.parameters()`; received {text}",
            "for param groups, build the optimizer in torch and use "
            "torch2tf.training.convert_optimizer",
        )


def _beta_options(betas: Any) -> dict[str, str]:
    if not _given(betas):
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


@function("torch.optim.SGD")
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
        **_options(
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
        **_options(epsilon=eps, amsgrad=amsgrad, maximize=maximize),
        **decoupled,
        **({"weight_decay": src(weight_decay)} if decoupled or _given(weight_decay) else {}),
    )


@function("torch.optim.Adam")
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
    decoupled = _options(decoupled_weight_decay=decoupled_weight_decay)
    return _adam(params, lr, betas, eps, weight_decay, amsgrad, maximize, decoupled)


@function("torch.optim.AdamW")
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


@function("torch.optim.RMSprop")
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
        **_options(
            alpha=alpha,
            epsilon=eps,
            weight_decay=weight_decay,
            momentum=momentum,
            centered=centered,
            maximize=maximize,
        ),
    )


@function("torch.optim.Adagrad")
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
        **_options(
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
    if const(last_epoch, _MISSING) != -1:
        raise Unsupported(
            f"last_epoch={src(last_epoch)} (resuming a schedule) is not translated",
            "build the scheduler fresh",
        )


@function("torch.optim.lr_scheduler.StepLR")
def step_lr(optimizer, step_size, gamma=0.1, last_epoch=-1):
    """-> TorchStepLR; the loops pass attaches it to the optimizer, per batch or per epoch."""
    _fresh(last_epoch)
    return keras_call("TorchStepLR", _base_lr(optimizer), src(step_size), **_options(gamma=gamma))


@function("torch.optim.lr_scheduler.MultiStepLR")
def multi_step_lr(optimizer, milestones, gamma=0.1, last_epoch=-1):
    """-> TorchMultiStepLR (decays at each milestone itself; Keras's piecewise is one late)."""
    _fresh(last_epoch)
    return keras_call(
        "TorchMultiStepLR", _base_lr(optimizer), src(milestones), **_options(gamma=gamma)
    )


@function("torch.optim.lr_scheduler.ExponentialLR")
def exponential_lr(optimizer, gamma, last_epoch=-1):
    """-> TorchExponentialLR in float64."""
    _fresh(last_epoch)
    return keras_call("TorchExponentialLR", _base_lr(optimizer), src(gamma))


@function("torch.optim.lr_scheduler.CosineAnnealingLR")
def cosine_annealing_lr(optimizer, T_max, eta_min=0.0, last_epoch=-1):
    """-> TorchCosineAnnealingLR (periodic past T_max, as torch)."""
    _fresh(last_epoch)
    return keras_call(
        "TorchCosineAnnealingLR", _base_lr(optimizer), src(T_max), **_options(eta_min=eta_min)
    )


@function("torch.optim.lr_scheduler.LinearLR")
def linear_lr(optimizer, start_factor=1.0 / 3, end_factor=1.0, total_iters=5, last_epoch=-1):
    """-> TorchLinearLR (a factor of the optimizer's learning rate)."""
    _fresh(last_epoch)
    return keras_call(
        "TorchLinearLR",
        _base_lr(optimizer),
        **_options(start_factor=start_factor, end_factor=end_factor, total_iters=total_iters),
    )


@function(training_objects.SEQUENTIAL_LR)
def sequential_lr(optimizer, schedulers, milestones, last_epoch=-1):
    """-> TorchSequentialLR of the schedules (each restarts at its milestone, as torch's)."""
    _fresh(last_epoch)
    _base_lr(optimizer)  # checked: the schedules are built on it
    return keras_call("TorchSequentialLR", src(schedulers), src(milestones))


@function("torch.optim.lr_scheduler.OneCycleLR")
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
    if const(max_lr, None) is None and not _given(max_lr):
        raise Unsupported("OneCycleLR needs max_lr")
    if isinstance(const(max_lr, None), (list, tuple)):
        raise Unsupported("OneCycleLR with one max_lr per param group is not translated")
    if _given(total_steps) and const(total_steps, _MISSING) is not None:
        steps = src(total_steps)
    elif _given(epochs) and _given(steps_per_epoch):
        steps = f"{src(epochs)} * {src(steps_per_epoch)}"
    else:
        raise Unsupported("OneCycleLR needs total_steps, or epochs and steps_per_epoch")
    return keras_call(
        "TorchOneCycleLR",
        max_lr=src(max_lr),
        total_steps=steps,
        **_options(
            pct_start=pct_start,
            anneal_strategy=anneal_strategy,
            div_factor=div_factor,
            final_div_factor=final_div_factor,
            three_phase=three_phase,
        ),
    )


# --------------------------------------------------------------------------- losses


def _legacy(size_average: Any, reduce: Any) -> None:
    if const(size_average, _MISSING) is not None or const(reduce, _MISSING) is not None:
        raise Unsupported(
            "size_average= and reduce= (deprecated in torch) are not translated",
            "use reduction=",
        )


@function("torch.nn.CrossEntropyLoss")
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
        **_options(
            weight=weight,
            ignore_index=ignore_index,
            reduction=reduction,
            label_smoothing=label_smoothing,
        ),
    )


@function("torch.nn.NLLLoss")
def nll_loss_module(
    weight=None, size_average=None, ignore_index=-100, reduce=None, reduction="mean"
):
    """-> TorchNLLLoss: (y_true, y_pred), any scores (Keras's SCCE renormalises)."""
    _legacy(size_average, reduce)
    return keras_call(
        "TorchNLLLoss",
        **_options(weight=weight, ignore_index=ignore_index, reduction=reduction),
    )


@function("torch.nn.BCELoss")
def bce_loss(weight=None, size_average=None, reduce=None, reduction="mean"):
    """-> TorchBCELoss: logs clamped at -100 as torch (Keras clips p), torch's backward."""
    _legacy(size_average, reduce)
    return keras_call("TorchBCELoss", **_options(weight=weight, reduction=reduction))


@function("torch.nn.BCEWithLogitsLoss")
def bce_with_logits_loss(
    weight=None, size_average=None, reduce=None, reduction="mean", pos_weight=None
):
    """-> TorchBCEWithLogitsLoss: pos_weight, element-wise weight, a true 'sum'."""
    _legacy(size_average, reduce)
    return keras_call(
        "TorchBCEWithLogitsLoss",
        **_options(weight=weight, reduction=reduction, pos_weight=pos_weight),
    )


@function("torch.nn.MSELoss")
def mse_loss_module(size_average=None, reduce=None, reduction="mean"):
    """-> TorchMSELoss (Keras's 'sum' is a sum of per-row means)."""
    _legacy(size_average, reduce)
    return keras_call("TorchMSELoss", **_options(reduction=reduction))


@function("torch.nn.L1Loss")
def l1_loss_module(size_average=None, reduce=None, reduction="mean"):
    """-> TorchL1Loss (Keras's 'sum' is a sum of per-row means)."""
    _legacy(size_average, reduce)
    return keras_call("TorchL1Loss", **_options(reduction=reduction))


@function("torch.nn.SmoothL1Loss")
def smooth_l1_loss_module(size_average=None, reduce=None, reduction="mean", beta=1.0):
    """-> TorchSmoothL1Loss (Huber(delta=beta) / beta)."""
    _legacy(size_average, reduce)
    return keras_call("TorchSmoothL1Loss", **_options(reduction=reduction, beta=beta))


@function("torch.nn.HuberLoss")
def huber_loss_module(reduction="mean", delta=1.0):
    """-> TorchHuberLoss, computed in the input dtype."""
    return keras_call("TorchHuberLoss", **_options(reduction=reduction, delta=delta))


@function("torch.nn.KLDivLoss")
def kl_div_loss(size_average=None, reduce=None, reduction="mean", log_target=False):
    """-> TorchKLDivLoss (no clipping; torch's 'mean' divides by every element)."""
    _legacy(size_average, reduce)
    return keras_call("TorchKLDivLoss", **_options(reduction=reduction, log_target=log_target))


def _no_weight(name: str, weight: Any) -> None:
    if const(weight, _MISSING) is not None:
        raise Unsupported(f"{name}(weight=...) is not translated")


@function("torch.nn.functional.cross_entropy")
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


@function("torch.nn.functional.nll_loss")
def nll_loss(
    input, target, weight=None, size_average=None, ignore_index=-100, reduce=None, reduction="mean"
):
    """-> TorchNLLLoss(...)(target, input)."""
    loss = nll_loss_module(weight, size_average, ignore_index, reduce, reduction)
    return f"{loss}({src(target)}, {src(input)})"


@function("torch.nn.functional.mse_loss")
def mse_loss(input, target, size_average=None, reduce=None, reduction="mean", weight=None):
    """-> TorchMSELoss(...)(target, input)."""
    _no_weight("mse_loss", weight)
    return f"{mse_loss_module(size_average, reduce, reduction)}({src(target)}, {src(input)})"


@function("torch.nn.functional.l1_loss")
def l1_loss(input, target, size_average=None, reduce=None, reduction="mean", weight=None):
    """-> TorchL1Loss(...)(target, input)."""
    _no_weight("l1_loss", weight)
    return f"{l1_loss_module(size_average, reduce, reduction)}({src(target)}, {src(input)})"


@function("torch.nn.functional.binary_cross_entropy")
def binary_cross_entropy(
    input, target, weight=None, size_average=None, reduce=None, reduction="mean"
):
    """-> TorchBCELoss(...)(target, input)."""
    loss = bce_loss(weight, size_average, reduce, reduction)
    return f"{loss}({src(target)}, {src(input)})"


@function("torch.nn.functional.binary_cross_entropy_with_logits")
def binary_cross_entropy_with_logits(
    input, target, weight=None, size_average=None, reduce=None, reduction="mean", pos_weight=None
):
    """-> TorchBCEWithLogitsLoss(...)(target, input)."""
    loss = bce_with_logits_loss(weight, size_average, reduce, reduction, pos_weight)
    return f"{loss}({src(target)}, {src(input)})"


@function("torch.nn.functional.smooth_l1_loss")
def smooth_l1_loss(input, target, size_average=None, reduce=None, reduction="mean", beta=1.0):
    """-> TorchSmoothL1Loss(...)(target, input)."""
    loss = smooth_l1_loss_module(size_average, reduce, reduction, beta)
    return f"{loss}({src(target)}, {src(input)})"


@function("torch.nn.functional.huber_loss")
def huber_loss(input, target, reduction="mean", delta=1.0, weight=None):
    """-> TorchHuberLoss(...)(target, input)."""
    _no_weight("huber_loss", weight)
    return f"{huber_loss_module(reduction, delta)}({src(target)}, {src(input)})"


@function("torch.nn.functional.kl_div")
def kl_div(input, target, size_average=None, reduce=None, reduction="mean", log_target=False):
    """-> TorchKLDivLoss(...)(target, input)."""
    loss = kl_div_loss(size_average, reduce, reduction, log_target)
    return f"{loss}({src(target)}, {src(input)})"


# --------------------------------------------------------------------------- data


def _dtype(dtype: Any) -> str | None:
    if not _given(dtype) or const(dtype, _MISSING) is None:
        return None
    text = src(dtype).strip()
    name = dtype_name(dtype)
    if name is not None:
        return name
    if const(dtype, _MISSING) is not _MISSING:  # a literal that is no dtype (a string...)
        raise Unsupported(f"dtype {text} is not translated", "write a torch dtype: torch.float32")
    return text  # an expression such as a variable holding a dtype (a tf.DType once translated)


def _literal_kind(value: Any) -> str | None:
    """'int', 'float' or 'bool' for a literal number or nested list of them, else None."""
    literal = const(value, _MISSING)
    kinds: set[type] = set()

    def walk(item: Any) -> bool:
        if isinstance(item, (list, tuple)):
            return all(walk(i) for i in item)
        if isinstance(item, (bool, int, float)):
            kinds.add(type(item))
            return True
        return False

    if literal is _MISSING or not walk(literal):
        return None
    if float in kinds:
        return "float"
    if int in kinds:
        return "int"
    return "bool" if kinds else "float"  # torch.tensor([]) is float32


def _from_data(name: str, data: Any, dtype: Any, requires_grad: Any) -> str:
    _literal_false("requires_grad", requires_grad, "a tf.Variable is what the tape watches")
    target = _dtype(dtype)
    if target is None:
        kind = _literal_kind(data)
        if kind is None:
            raise Unsupported(
                f"{name}(data) without dtype= is not translated: torch infers float32 from "
                "Python floats and int64 from Python ints, TensorFlow int32",
                "pass dtype= (or use torch.from_numpy for a NumPy array)",
            )
        target = "tf.int64" if kind == "int" else None
    return keras_call("tf.constant", src(data), dtype=target)


@function("torch.tensor")
def tensor(data, *, dtype=None, device=None, requires_grad=False, pin_memory=False):
    """-> tf.constant(data, dtype=...): needs dtype= unless data is a literal."""
    return _from_data("torch.tensor", data, dtype, requires_grad)


def _typed_constructor(name: str, dtype: str) -> None:
    @function(name)
    def legacy(*data):
        """-> tf.constant(data, dtype): the legacy typed constructor given data (its sizes
        form is uninitialised memory, translated only as an nn.Parameter's shape)."""
        if len(data) != 1:
            raise Unsupported(f"{name}(sizes) is uninitialised memory", "use torch.zeros(...)")
        return keras_call("tf.constant", src(data[0]), dtype=dtype)


for _legacy_name, _legacy_dtype in {
    "torch.Tensor": "tf.float32",
    "torch.FloatTensor": "tf.float32",
    "torch.DoubleTensor": "tf.float64",
    "torch.LongTensor": "tf.int64",
    "torch.IntTensor": "tf.int32",
    "torch.BoolTensor": "tf.bool",
}.items():
    _typed_constructor(_legacy_name, _legacy_dtype)


@function("torch.as_tensor")
def as_tensor(data, dtype=None, device=None):
    """-> tf.constant(data, dtype=...): a copy (torch may share the NumPy memory)."""
    return _from_data("torch.as_tensor", data, dtype, False)


@function("torch.from_numpy")
def from_numpy(ndarray):
    """-> tf.constant(array), the same dtype; a copy (torch shares the array's memory)."""
    return f"tf.constant({src(ndarray)})"


@function("torch.manual_seed")
def manual_seed(seed):
    """-> tf.random.set_seed: reproducible runs; the random numbers differ from torch's."""
    return f"tf.random.set_seed({src(seed)})"


@function(TENSOR_DATASET)
def tensor_dataset(*tensors):
    """-> tf.data.Dataset.from_tensor_slices((a, b, ...)): the same rows, in tuples."""
    if not tensors or any(str(t).startswith("*") for t in tensors):
        raise Unsupported("TensorDataset is translated with its tensors listed one by one")
    items = ", ".join(src(t) for t in tensors)
    return (
        f"tf.data.Dataset.from_tensor_slices(({items},))"
        if len(tensors) == 1
        else (f"tf.data.Dataset.from_tensor_slices(({items}))")
    )


_SLICES = "tf.data.Dataset.from_tensor_slices("


def _first_tensor(dataset: str) -> str | None:
    """``X`` in ``tf.data.Dataset.from_tensor_slices((X, y))``."""
    try:
        node = ast.parse(dataset, mode="eval").body
    except SyntaxError:
        return None
    if isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Tuple):
        return ast.get_source_segment(dataset, node.args[0].elts[0])
    return None


@function(DATA_LOADER)
def data_loader(
    dataset,
    batch_size=1,
    shuffle=None,
    sampler=None,
    batch_sampler=None,
    num_workers=0,
    collate_fn=None,
    pin_memory=False,
    drop_last=False,
    timeout=0,
    worker_init_fn=None,
    multiprocessing_context=None,
    generator=None,
    *,
    prefetch_factor=None,
    persistent_workers=False,
    pin_memory_device="",
    in_order=True,
):
    """-> dataset[.shuffle(n)].batch(b): torch's batches; a shuffled order differs from torch's."""
    for name, value in (
        ("sampler", sampler),
        ("batch_sampler", batch_sampler),
        ("collate_fn", collate_fn),
        ("worker_init_fn", worker_init_fn),
    ):
        if const(value, _MISSING) is not None:
            raise Unsupported(f"DataLoader({name}=...) is not translated")
    if const(generator, _MISSING) is not None:
        raise Unsupported(
            "DataLoader(generator=...) is not translated: TensorFlow's shuffled order differs "
            "from torch's whatever the seed",
            "drop generator= and seed with torch.manual_seed (-> tf.random.set_seed)",
        )
    if const(batch_size, _MISSING) is None:
        raise Unsupported("DataLoader(batch_size=None) (no batching) is not translated")
    data = src(dataset).strip()
    if data.startswith(_SLICES):
        size = _first_tensor(data)
        if size is None:
            raise Unsupported("cannot read the dataset's tensors")
        count = f"len({size})"
    elif data.isidentifier():
        count = f"len({data})"
    else:
        raise Unsupported(
            f"DataLoader is translated over a TensorDataset; received {data}",
            "wrap in-memory tensors in TensorDataset(X, y)",
        )
    flag = const(shuffle, _MISSING)
    if flag in (None, False):
        pipeline = data
    elif flag is True:
        pipeline = f"{data}.shuffle({count})"
    elif data.isidentifier():
        pipeline = f"({data}.shuffle({count}) if {src(shuffle)} else {data})"
    else:
        raise Unsupported(
            "DataLoader(shuffle=<expression>) is translated over a dataset held in a variable",
            "assign TensorDataset(...) to a name first",
        )
    drop = const(drop_last, _MISSING)
    if drop is False:
        return f"{pipeline}.batch({src(batch_size)})"
    return f"{pipeline}.batch({src(batch_size)}, drop_remainder={src(drop_last)})"


# --------------------------------------------------------------------------- statements


def _statement(qualified: str, **arguments: Any) -> str:
    return keras_call(STATEMENT, repr(qualified), **{k: src(v) for k, v in arguments.items()})


@function(CLIP_NORM)
def clip_grad_norm_(parameters, max_norm, norm_type=2.0, error_if_nonfinite=False, foreach=None):
    """-> the optimizer's global_clipnorm (torch's formula), set where it is built."""
    if const(norm_type, _MISSING) not in (2, 2.0):
        raise Unsupported(f"clip_grad_norm_(norm_type={src(norm_type)}) is not translated")
    _literal_false("error_if_nonfinite", error_if_nonfinite)
    return _statement(CLIP_NORM, parameters=parameters, max_norm=max_norm)


@function(CLIP_VALUE)
def clip_grad_value_(parameters, clip_value, foreach=None):
    """-> the optimizer's clipvalue, set where it is built."""
    return _statement(CLIP_VALUE, parameters=parameters, clip_value=clip_value)


@function("torch.no_grad")
def no_grad():
    """`with torch.no_grad():` -> nothing (no tape records there), or tape.stop_recording()."""
    return _statement("torch.no_grad")


@function("torch.inference_mode")
def inference_mode(mode=True):
    """`with torch.inference_mode():` -> as torch.no_grad()."""
    if const(mode, _MISSING) is not True:
        raise Unsupported(f"torch.inference_mode({src(mode)}) is not translated")
    return _statement("torch.inference_mode")
