"""A training parity report: the same model trained in PyTorch and in TensorFlow, side by side.

Run::

    python -m torch2tf.parity --out parity-report

It builds a small MLP in torch, converts it with :func:`torch2tf.convert` (so both frameworks
start from the same weights), converts its optimizer, LR scheduler and loss with
:func:`torch2tf.training.convert_optimizer` and :func:`torch2tf.training.convert_loss`, and
trains both on the same batches of scikit-learn's digits (bundled with scikit-learn, no
download): 1500 images to train on, in an order drawn once per epoch from a seeded NumPy
generator and fed to both, and the other 297 to test on. It does this for several optimizer,
loss and schedule combinations, in float64 and in float32, and writes into ``--out``:

* ``parity.png``: per combination, both loss curves (torch solid, TensorFlow dashed) and the
  relative difference of the losses at every step;
* ``parity.md`` and ``parity.json``: per combination and dtype, the largest relative loss
  difference over all steps, the largest relative weight difference after training (per
  parameter, max |w_tf - w_torch| / max |w_torch|), the final losses and the test accuracy
  in each framework.

In float64 the two trainings agree to round-off (about 1e-15); float32 shows how round-off
grows over a training run. Options: ``--epochs`` (default 6), ``--combos`` (comma-separated
names, default all: ``python -m torch2tf.parity --list`` prints them), ``--dtypes`` (default
``float64,float32``), ``--batch-size`` (64) and ``--seed`` (0). The default run takes well
under a minute on two CPU cores.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

TRAIN_SIZE = 1500
DEPENDENCIES = {"sklearn": "scikit-learn", "matplotlib": "matplotlib"}  # module -> distribution
_FLOOR = 1e-18  # where steps with equal losses are drawn on the log scale


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


def _combos() -> dict[str, Combo]:
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


def _torch_model(dtype: str, seed: int):
    import torch
    from torch import nn

    torch.manual_seed(seed)
    model = nn.Sequential(
        nn.Linear(64, 64),
        nn.ReLU(),
        nn.Linear(64, 32),
        nn.Tanh(),
        nn.Linear(32, 10),
    )
    return model.to(getattr(torch, dtype))


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
) -> Run:
    """Train the combination in both frameworks from the same weights on the same batches."""
    import tensorflow as tf
    import torch

    from torch2tf import convert
    from torch2tf.training import convert_loss, convert_optimizer

    started = time.perf_counter()
    x_train, y_train, x_test, y_test = data
    torch_dtype = getattr(torch, dtype)
    model = _torch_model(dtype, seed)
    conversion = convert(model, inputs=(torch.tensor(x_test[:16], dtype=torch_dtype),))
    keras_model = conversion.keras_model
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
        tf.TensorSpec([None, 64], getattr(tf, dtype)),
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
            x = x_train[rows].astype(dtype)
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
            tf_losses.append(float(keras_step(tf.constant(x), tf.constant(target))))
        if scheduler is not None and combo.per_epoch:
            scheduler.step()

    model.eval()
    with torch.no_grad():
        torch_pred = model(torch.tensor(x_test, dtype=torch_dtype)).argmax(dim=1).numpy()
    tf_pred = np.argmax(keras_model(tf.constant(x_test.astype(dtype)), training=False), axis=1)

    weight_diff = _weight_difference(model, keras_model)
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
    )


def _weight_difference(model: Any, keras_model: Any) -> float:
    """Max over tensors of max |w_tf - w_torch| / max |w_torch|, in Keras's layout.

    Each torch layer's tensors are put in Keras's layout by the same rule that moved them
    (Linear's weight transposed), so a square kernel cannot be compared the wrong way round.
    """
    from torch2tf.weights import keras_layer_at, rule_for

    worst = 0.0
    for path, module in model.named_modules():
        rule = rule_for(module)
        if rule is None:
            continue
        arrays = rule.weights(module)
        if not arrays:
            continue
        variables = keras_layer_at(keras_model, path).weights
        for expected, variable in zip(arrays, variables, strict=True):
            expected = np.asarray(expected, dtype=np.float64)
            actual = np.asarray(variable.numpy(), dtype=np.float64)
            scale = max(float(np.max(np.abs(expected))), np.finfo(np.float64).tiny)
            worst = max(worst, float(np.max(np.abs(actual - expected))) / scale)
    return worst


def run(
    out: str | Path,
    *,
    epochs: int = 6,
    combos: Sequence[str] | None = None,
    dtypes: Sequence[str] = ("float64", "float32"),
    batch_size: int = 64,
    seed: int = 0,
) -> list[Run]:
    """Train every combination in every dtype and write the report into ``out``.

    Returns:
        The runs, whose numbers ``parity.md`` and ``parity.json`` hold.

    Raises:
        ValueError: for an unknown combination or dtype, or epochs below 1.
    """
    import torch

    known = _combos()
    names = list(known) if combos is None else list(combos)
    unknown = [n for n in names if n not in known]
    if unknown or not names:
        raise ValueError(
            f"unknown combination(s) {', '.join(unknown) or '(none given)'}; "
            f"expected some of: {', '.join(known)}"
        )
    bad = [d for d in dtypes if d not in ("float32", "float64")]
    if bad or not dtypes:
        raise ValueError(f"dtypes must be float32 and/or float64; received {list(dtypes)}")
    if epochs < 1:
        raise ValueError(f"epochs must be at least 1; received {epochs}")
    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    data = load_data()
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # a tiny model: more threads only contend
    try:
        runs = [
            train_pair(known[name], dtype, data, epochs, batch_size, seed)
            for name in names
            for dtype in dtypes
        ]
    finally:
        torch.set_num_threads(threads)
    config = {"epochs": epochs, "batch_size": batch_size, "seed": seed, "train": TRAIN_SIZE}
    _write_json(folder / "parity.json", runs, known, config)
    (folder / "parity.md").write_text(_markdown(runs, known, config), encoding="utf-8")
    _plot(folder / "parity.png", runs, known)
    return runs


def _write_json(path: Path, runs: list[Run], known: dict[str, Combo], config: dict) -> None:
    report = {
        "config": config,
        "combinations": {r.combo: known[r.combo].description for r in runs},
        "runs": [
            {**r.summary(), "torch_losses": r.torch_losses, "tf_losses": r.tf_losses} for r in runs
        ],
    }
    path.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")


def _markdown(runs: list[Run], known: dict[str, Combo], config: dict) -> str:
    lines = [
        "# torch2tf training parity",
        "",
        f"A 64-64-32-10 MLP trained {config['epochs']} epochs (batches of "
        f"{config['batch_size']}, the same order in both frameworks) on scikit-learn's digits, "
        f"from the same initial weights. Relative loss difference: max over steps of "
        "|loss_tf - loss_torch| / |loss_torch|. Relative weight difference: max over "
        "parameters of max |w_tf - w_torch| / max |w_torch|, after training. Test accuracy "
        f"on the {runs[0].test_samples} held-out images.",
        "",
        "| combination | dtype | steps | max rel. loss diff | max rel. weight diff "
        "| final loss torch | final loss TF | test acc. torch | test acc. TF |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in runs:
        lines.append(
            f"| {r.combo} | {r.dtype} | {r.steps} | {r.max_rel_loss_diff:.2e} "
            f"| {r.max_rel_weight_diff:.2e} | {r.final_loss_torch:.6f} | {r.final_loss_tf:.6f} "
            f"| {r.test_accuracy_torch:.4f} | {r.test_accuracy_tf:.4f} |"
        )
    lines += ["", "Combinations:", ""]
    for name in dict.fromkeys(r.combo for r in runs):
        lines.append(f"* `{name}`: {known[name].description}")
    return "\n".join(lines) + "\n"


def _plot(path: Path, runs: list[Run], known: dict[str, Combo]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(dict.fromkeys(r.combo for r in runs))
    colors = {"float64": "tab:blue", "float32": "tab:orange"}
    figure, axes = plt.subplots(
        len(names), 2, figsize=(12, 3.1 * len(names)), squeeze=False, constrained_layout=True
    )
    for row, name in enumerate(names):
        left, right = axes[row]
        right_end = max(r.steps for r in runs if r.combo == name)
        for r in (r for r in runs if r.combo == name):
            steps = np.arange(1, r.steps + 1)
            color = colors[r.dtype]
            left.plot(steps, r.torch_losses, color=color, lw=1.6, label=f"torch {r.dtype}")
            left.plot(steps, r.tf_losses, color="black", lw=0.9, ls="--", label=f"TF {r.dtype}")
            torch_losses, tf_losses = np.array(r.torch_losses), np.array(r.tf_losses)
            diff = np.abs(tf_losses - torch_losses) / np.maximum(np.abs(torch_losses), 1e-300)
            exact = diff == 0
            right.semilogy(
                steps[~exact], diff[~exact], ".", color=color, ms=3.5, label=f"{r.dtype}"
            )
            right.semilogy(
                steps[exact], np.full(exact.sum(), _FLOOR), "|", color=color, ms=6, alpha=0.6
            )
        for dtype, eps in (("float64", 2.0**-52), ("float32", 2.0**-23)):
            right.axhline(eps, color=colors[dtype], lw=0.8, ls=":")
            right.text(
                right_end,
                eps * 1.8,
                f"{dtype} epsilon",
                fontsize=7,
                color=colors[dtype],
                ha="right",
            )
        left.set_title(f"{name}: loss per step", fontsize=10)
        left.set_xlabel("step")
        left.set_ylabel("training loss")
        left.legend(fontsize=8, ncol=2)
        left.grid(alpha=0.3)
        right.set_title(f"{name}: relative loss difference", fontsize=10)
        right.set_xlabel("step")
        right.set_ylabel("|loss_tf - loss_torch| / |loss_torch|", fontsize=8)
        right.set_ylim(_FLOOR / 3, 1e-3)
        ticks = [_FLOOR] + [10.0**e for e in range(-16, -3, 2)]
        right.set_yticks(ticks, ["equal"] + [f"1e{e}" for e in range(-16, -3, 2)])
        right.minorticks_off()
        right.legend(fontsize=8)
        right.grid(alpha=0.3, which="both")
    figure.suptitle(
        "torch2tf: the same MLP trained in PyTorch and TensorFlow from the same weights (digits)",
        fontsize=12,
    )
    figure.savefig(path, dpi=110)
    plt.close(figure)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m torch2tf.parity",
        description="Train a model in PyTorch and in TensorFlow from the same weights on the "
        "same batches of scikit-learn's digits, and write loss curves (parity.png) and a "
        "table of the differences (parity.md, parity.json).",
    )
    parser.add_argument("--out", help="folder to write the report into")
    parser.add_argument("--epochs", type=int, default=6, help="epochs per run (default 6)")
    parser.add_argument("--combos", help="comma-separated combinations (default: all)")
    parser.add_argument(
        "--dtypes", default="float64,float32", help="comma-separated (default float64,float32)"
    )
    parser.add_argument("--batch-size", type=int, default=64, help="default 64")
    parser.add_argument("--seed", type=int, default=0, help="weights and batch order (0)")
    parser.add_argument("--list", action="store_true", help="print the combinations and exit")
    args = parser.parse_args(argv)
    missing = [p for m, p in DEPENDENCIES.items() if importlib.util.find_spec(m) is None]
    if missing:
        print(
            f"python -m torch2tf.parity needs {' and '.join(missing)}: "
            "pip install 'torch2tf[parity]'",
            file=sys.stderr,
        )
        return 2
    if args.list:
        for name, combo in _combos().items():
            print(f"{name}: {combo.description}")
        return 0
    if not args.out:
        parser.error("--out is required")
    try:
        runs = run(
            args.out,
            epochs=args.epochs,
            combos=args.combos.split(",") if args.combos else None,
            dtypes=args.dtypes.split(","),
            batch_size=args.batch_size,
            seed=args.seed,
        )
    except ValueError as err:
        parser.error(str(err))
    for r in runs:
        print(
            f"{r.combo:26s} {r.dtype}: loss diff {r.max_rel_loss_diff:.1e}, weight diff "
            f"{r.max_rel_weight_diff:.1e}, accuracy torch {r.test_accuracy_torch:.4f} / TF "
            f"{r.test_accuracy_tf:.4f}"
        )
    print(f"wrote {Path(args.out) / 'parity.png'}, parity.md and parity.json")
    return 0


if __name__ == "__main__":
    sys.exit(main())
