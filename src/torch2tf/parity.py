"""A training parity report: the same model trained in PyTorch and in TensorFlow, side by side.

Run::

    python -m torch2tf.parity --out parity-report

It builds a small MLP and a small CNN (Conv2d, BatchNorm2d, MaxPool2d; the digits as 1x8x8
images) in torch, converts each with :func:`torch2tf.convert` (so both frameworks start from
the same weights), converts its optimizer, LR scheduler and loss with
:func:`torch2tf.training.convert_optimizer` and :func:`torch2tf.training.convert_loss`, and
trains both on the same batches of scikit-learn's digits (bundled with scikit-learn, no
download): 1500 images to train on, in an order drawn once per epoch from a seeded NumPy
generator and fed to both, and the other 297 to test on. It does this for each model, for
several optimizer, loss and schedule combinations, in float64 and in float32, and writes into
``--out``:

* ``parity.png``: per model and combination, both loss curves (torch solid, TensorFlow
  dashed) and the relative difference of the losses at every step;
* ``parity.md`` and ``parity.json``: per model, combination and dtype, the largest relative loss
  difference over all steps, the largest relative weight difference after training (per
  parameter, max |w_tf - w_torch| / max |w_torch|), the final losses and the test accuracy
  in each framework.

In float64 the two trainings agree to round-off (about 1e-15); float32 shows how round-off
grows over a training run. Options: ``--models`` (``mlp,cnn``, the default), ``--epochs``
(default 6), ``--combos`` (comma-separated names, default all: ``python -m torch2tf.parity
--list`` prints them and the models), ``--dtypes`` (default ``float64,float32``),
``--batch-size`` (64) and ``--seed`` (0). The default run takes a few minutes on two CPU
cores.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

from torch2tf.parity_training import (  # noqa: E402
    TRAIN_SIZE,
    Combo,
    Model,
    Run,
    all_combos,
    all_models,
    load_data,
    train_pair,
)

DEPENDENCIES = {"sklearn": "scikit-learn", "matplotlib": "matplotlib"}  # module -> distribution
_FLOOR = 1e-18  # where steps with equal losses are drawn on the log scale


def run(
    out: str | Path,
    *,
    epochs: int = 6,
    combos: Sequence[str] | None = None,
    dtypes: Sequence[str] = ("float64", "float32"),
    batch_size: int = 64,
    seed: int = 0,
    models: Sequence[str] | None = None,
) -> list[Run]:
    """Train every model with every combination in every dtype and write the report into
    ``out``.

    Returns:
        The runs, whose numbers ``parity.md`` and ``parity.json`` hold.

    Raises:
        ValueError: for an unknown model, combination or dtype, or epochs below 1.
    """
    import torch

    model_specs = all_models()
    model_names = list(model_specs) if models is None else list(models)
    if not model_names or any(m not in model_specs for m in model_names):
        raise ValueError(
            f"unknown model(s) {', '.join(m for m in model_names if m not in model_specs)}"
            f"{'' if model_names else '(none given)'}; expected some of: "
            f"{', '.join(model_specs)}"
        )
    known = all_combos()
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
            train_pair(known[name], dtype, data, epochs, batch_size, seed, model)
            for model in model_names
            for name in names
            for dtype in dtypes
        ]
    finally:
        torch.set_num_threads(threads)
    config = {"epochs": epochs, "batch_size": batch_size, "seed": seed, "train": TRAIN_SIZE}
    _write_json(folder / "parity.json", runs, known, model_specs, config)
    (folder / "parity.md").write_text(_markdown(runs, known, model_specs, config), encoding="utf-8")
    _plot(folder / "parity.png", runs, known)
    return runs


def _write_json(
    path: Path, runs: list[Run], known: dict[str, Combo], models: dict[str, Model], config: dict
) -> None:
    report = {
        "config": config,
        "models": {r.model: models[r.model].description for r in runs},
        "combinations": {r.combo: known[r.combo].description for r in runs},
        "runs": [
            {**r.summary(), "torch_losses": r.torch_losses, "tf_losses": r.tf_losses} for r in runs
        ],
    }
    path.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")


def _markdown(
    runs: list[Run], known: dict[str, Combo], models: dict[str, Model], config: dict
) -> str:
    lines = [
        "# torch2tf training parity",
        "",
        f"Each model trained {config['epochs']} epochs (batches of "
        f"{config['batch_size']}, the same order in both frameworks) on scikit-learn's digits, "
        f"from the same initial weights. Relative loss difference: max over steps of "
        "|loss_tf - loss_torch| / |loss_torch|. Relative weight difference: max over "
        "parameters of max |w_tf - w_torch| / max |w_torch|, after training. Test accuracy "
        f"on the {runs[0].test_samples} held-out images.",
        "",
        "| model | combination | dtype | steps | max rel. loss diff | max rel. weight diff "
        "| final loss torch | final loss TF | test acc. torch | test acc. TF |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in runs:
        lines.append(
            f"| {r.model} | {r.combo} | {r.dtype} | {r.steps} | {r.max_rel_loss_diff:.2e} "
            f"| {r.max_rel_weight_diff:.2e} | {r.final_loss_torch:.6f} | {r.final_loss_tf:.6f} "
            f"| {r.test_accuracy_torch:.4f} | {r.test_accuracy_tf:.4f} |"
        )
    lines += ["", "Models:", ""]
    for name in dict.fromkeys(r.model for r in runs):
        lines.append(f"* `{name}`: {models[name].description}")
    lines += ["", "Combinations:", ""]
    for name in dict.fromkeys(r.combo for r in runs):
        lines.append(f"* `{name}`: {known[name].description}")
    return "\n".join(lines) + "\n"


def _plot(path: Path, runs: list[Run], known: dict[str, Combo]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(dict.fromkeys((r.model, r.combo) for r in runs))
    colors = {"float64": "tab:blue", "float32": "tab:orange"}
    figure, axes = plt.subplots(
        len(names), 2, figsize=(12, 3.1 * len(names)), squeeze=False, constrained_layout=True
    )
    for row, (model, combo) in enumerate(names):
        name = f"{model} {combo}"
        left, right = axes[row]
        ours = [r for r in runs if (r.model, r.combo) == (model, combo)]
        right_end = max(r.steps for r in ours)
        for r in ours:
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
        "torch2tf: the same models trained in PyTorch and TensorFlow from the same weights "
        "(digits)",
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
    parser.add_argument("--models", help="comma-separated models (default: mlp,cnn)")
    parser.add_argument("--epochs", type=int, default=6, help="epochs per run (default 6)")
    parser.add_argument("--combos", help="comma-separated combinations (default: all)")
    parser.add_argument(
        "--dtypes", default="float64,float32", help="comma-separated (default float64,float32)"
    )
    parser.add_argument("--batch-size", type=int, default=64, help="default 64")
    parser.add_argument("--seed", type=int, default=0, help="weights and batch order (0)")
    parser.add_argument(
        "--list", action="store_true", help="print the models and combinations and exit"
    )
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
        for name, model in all_models().items():
            print(f"model {name}: {model.description}")
        for name, combo in all_combos().items():
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
            models=args.models.split(",") if args.models else None,
        )
    except ValueError as err:
        parser.error(str(err))
    for r in runs:
        print(
            f"{r.model:4s} {r.combo:26s} {r.dtype}: loss diff {r.max_rel_loss_diff:.1e}, "
            f"weight diff {r.max_rel_weight_diff:.1e}, "
            f"accuracy torch {r.test_accuracy_torch:.4f} / TF {r.test_accuracy_tf:.4f}"
        )
    print(f"wrote {Path(args.out) / 'parity.png'}, parity.md and parity.json")
    return 0


if __name__ == "__main__":
    sys.exit(main())
