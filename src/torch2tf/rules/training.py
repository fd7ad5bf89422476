"""Training objects: what the rules for optimizers and LR schedulers (:mod:`.optimizers`),
losses (:mod:`.losses`) and data loading and tensors made from data (:mod:`.data`) share.

Each rule has the torch signature and returns TensorFlow source that uses the torch-exact
helpers of ``keras_helpers`` (``TorchAdam``, ``TorchCrossEntropyLoss``, ``TorchStepLR``...),
which the emitter copies into the generated file when they are used.

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

from typing import Any

from torch2tf import training_objects
from torch2tf.rules.registry import Arg, Unsupported, const, src

STATEMENT = "_torch2tf_statement"
"""Placeholder call for constructs the loops pass rewrites as statements."""

MISSING = object()

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


def given(value: Any) -> bool:
    """Whether the call spelled out this argument (defaults arrive as plain values)."""
    return isinstance(value, Arg)


def options(**values: Any) -> dict[str, str]:
    """Keyword sources for the arguments the call spelled out."""
    return {k: src(v) for k, v in values.items() if given(v)}


def literal_false(name: str, value: Any, hint: str = "") -> None:
    if const(value, MISSING) not in (False, None, 0):
        raise Unsupported(f"{name}={src(value)} is not translated", hint)


_STEP_BEFORE = """\
opt = torch.optim.SGD(model.parameters(), lr=0.1)
{setup}for x, y in data:
    opt.zero_grad()
    loss = F.mse_loss(model(x), y)
    loss.backward()
    {clip}opt.step()
{schedule}"""
_STEP_AFTER = """\
opt = TorchSGD(learning_rate=0.1{clipping})
{setup}for x, y in data:
    with tf.GradientTape() as tape:
        loss = TorchMSELoss()(y, model(x, training=True))
    grads = tape.gradient(loss, model.trainable_variables)
    opt.apply(grads, model.trainable_variables)"""


def training_step(
    setup: str = "", became: str = "", clip: str = "", clipping: str = ""
) -> tuple[tuple[str, str]]:
    """A rule example (before, after) that is a whole SGD training loop: ``setup`` (scheduler
    lines, stepped each batch) and ``clip`` (between backward and step) and what they become
    (``became``: lines after the optimizer; ``clipping``: its clipping options)."""
    lines = lambda text: "".join(f"{line}\n" for line in text.splitlines())  # noqa: E731
    before = _STEP_BEFORE.format(
        setup=lines(setup),
        clip=f"{clip}\n    " if clip else "",
        schedule="    sched.step()\n" if setup else "",
    )
    after = _STEP_AFTER.format(setup=lines(became), clipping=clipping)
    return ((before.rstrip("\n"), after),)
