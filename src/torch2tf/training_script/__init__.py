"""Training scripts: the canonical PyTorch training loop -> a ``tf.GradientTape`` loop.

``translate_source`` runs this pass after the main translator. The main translator turns the
training objects into torch-exact Keras helpers through the expression rules of
:mod:`torch2tf.rules.training`; this pass reads the *original* file (so its diagnostics point
at the user's code), follows the script in execution order (module-level code and the
top-level functions it calls), and rewrites the statements around those objects.

What is translated, in module-level code and top-level functions:

* ``optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)`` -> ``optimizer =
  TorchAdam(learning_rate=0.001)`` (also SGD, AdamW, RMSprop, Adagrad); the optimizer is
  applied to ``model.trainable_variables`` in the loop.
* ``criterion = nn.CrossEntropyLoss(...)`` -> ``TorchCrossEntropyLoss(...)`` (and the other
  losses of :func:`torch2tf.training.convert_loss`); every call ``criterion(out, y)`` becomes
  ``criterion(y, out)``, because Keras losses take ``(y_true, y_pred)``.
* The training step, as statements of one block (a loop body or a function body)::

      optimizer.zero_grad()                       # (or at the end of the block)
      out = model(xb)                             # whatever computes the loss
      loss = criterion(out, yb)
      loss.backward()
      torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)   # optional
      optimizer.step()
      scheduler.step()                            # optional: per batch

  becomes::

      with tf.GradientTape() as tape:
          out = model(xb, training=True)
          loss = criterion(yb, out)
      grads = tape.gradient(loss, model.trainable_variables)
      optimizer.apply(grads, model.trainable_variables)

  The statements from the one after ``zero_grad()`` (or after ``model.train()``, or the start
  of the block) up to ``loss.backward()`` are recorded by the tape. Clipping moves into the
  optimizer (``global_clipnorm=1.0``, or ``clipvalue=`` for ``clip_grad_value_``), whose
  helper clips with torch's formula; every step of that optimizer must clip alike.
* ``model.train()`` / ``model.eval()`` are removed; every call of the model passes
  ``training=True`` or ``training=False`` according to the mode the model is in at that call
  (torch modules start in training mode). A call where the mode depends on the path taken
  is reported.
* ``with torch.no_grad():`` (or ``torch.inference_mode()``, or the decorator
  ``@torch.no_grad()``) is removed, since nothing outside a tape is recorded; inside the
  statements a tape records it becomes ``with tape.stop_recording():``.
* A scheduler (StepLR, MultiStepLR, ExponentialLR, CosineAnnealingLR, LinearLR, OneCycleLR)
  becomes a torch-exact schedule set as the optimizer's learning rate, which Keras evaluates
  at every ``optimizer.apply``. Where ``scheduler.step()`` sits decides how it is stepped:
  in the same block as ``optimizer.step()`` (after it) -> once per batch, the schedule as
  it is; in the loop around the loop holding ``optimizer.step()`` (after that inner loop) ->
  once per epoch, the schedule wrapped in ``PerEpochSchedule(schedule, len(train_loader))``.
  ``OneCycleLR(cycle_momentum=True)`` also cycles ``beta_1`` (Adam) or ``momentum``.
* ``DataLoader(TensorDataset(X, y), batch_size=b, shuffle=s, drop_last=d)`` ->
  ``tf.data.Dataset.from_tensor_slices((X, y))[.shuffle(len(X))].batch(b)``: the same
  batches in the same order without shuffling. With shuffling the dataset is reshuffled
  every epoch like torch's, with a full-size buffer (a uniform permutation), but the order
  cannot be torch's: the generators differ (``torch.manual_seed(s)`` becomes
  ``tf.random.set_seed(s)``, which makes runs reproducible, not equal to torch's).
* ``torch.tensor(data, dtype=torch.float32)``, ``torch.as_tensor``, ``torch.from_numpy`` ->
  ``tf.constant(...)``; tensor methods on values known to be tensors (batches, model
  outputs, losses, ``tf.constant`` results) through the engine's method rules, with
  ``x.item()`` -> ``x.numpy().item()`` (eager code); ``len(loader)``, ``len(loader.dataset)``,
  ``optimizer.param_groups[0]["lr"]`` and ``scheduler.get_last_lr()`` are translated too.

Everything else that involves these objects is reported with its position: steps without
``loss.backward()`` or ``zero_grad()`` in the same block (gradient accumulation), a
``zero_grad()`` between backward and step, a scheduler stepped before the optimizer or
conditionally, ``break``/``continue`` in a loop whose schedule counts steps, optimizers over
param groups, schedulers not listed above, a loss or scheduler passed to code outside the
file, ``.grad``, ``model.state_dict()`` and the rest of the nn.Module API, training code in
classes or nested functions, and ``.backward()``/``.step()``/``.zero_grad()`` on values whose
kind cannot be told.
"""

from __future__ import annotations

import libcst as cst

from torch2tf.training_script.analysis import Analysis
from torch2tf.training_script.records import FileFacts
from torch2tf.training_script.rewriter import apply

__all__ = ["FileFacts", "involved", "rewrite"]


def rewrite(facts: FileFacts, result: cst.Module) -> cst.Module:
    """Rewrite the training code of ``result``, the engine's translation of ``facts.parsed``.

    Problems are appended to ``facts.diagnostics``; nothing is rewritten when there are any.
    """
    analysis = Analysis(facts)
    analysis.analyse()
    facts.diagnostics.extend(analysis.diagnostics)
    if facts.diagnostics or not analysis.active:
        return result
    reported = len(analysis.diagnostics)
    rewritten = apply(analysis.findings(), facts.parsed.module, result, facts.dropped_functions)
    facts.diagnostics.extend(analysis.diagnostics[reported:])
    return rewritten


def involved(facts: FileFacts) -> bool:
    """Whether the file has training code this pass rewrites or reports: then a problem
    anywhere in the file stops the rewrite, and --allow-partial must stub the source and
    translate it again."""
    analysis = Analysis(facts)
    analysis.analyse()
    return analysis.active or bool(analysis.diagnostics)
