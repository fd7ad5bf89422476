"""Inference speed of a converted LSTM classifier against a hand-written Keras twin and torch.

The torch model is ``nn.LSTM(32, 256, batch_first=True)`` and a ``Linear(256, 10)`` on the last
hidden state. Converted with ``torch2tf.convert`` it runs ``TorchLSTM``: a Keras ``RNN`` over a
cell keeping torch's two trainable biases. The hand-written twin is what one writes in Keras,
``Sequential([LSTM(256), Dense(10)])``, given the same weights (its one bias is torch's two
summed, exact in inference); the outputs are checked to agree. Both run in inference mode under
``tf.function`` (the issue's figure), at batch 64 over 100 steps; torch runs eagerly under
``torch.inference_mode()``. Timing as in ``bench_inference``: one call of each variant per
round, in a random order, the ratio being the median of the per-round CPU-time ratios.
"""

from __future__ import annotations

from functools import partial
from typing import Any

import numpy as np
from bench_inference import compiled, paired_ratio, time_alternating, torch_infer
from common import median, quiet, section_main, set_threads

BATCH, STEPS, FEATURES, HIDDEN, CLASSES = 64, 100, 32, 256, 10
MAX_CONVERTED_OVER_HAND = 1.05  # the bound, tf.function


def torch_model() -> Any:
    import torch
    from rnn_model import Classifier

    torch.manual_seed(0)
    return Classifier(FEATURES, HIDDEN, CLASSES).eval()


def hand_written(converted: Any) -> Any:
    """Keras's own LSTM and Dense with the converted model's weights."""
    import tensorflow as tf

    hand = tf.keras.Sequential(
        [
            tf.keras.Input(shape=(STEPS, FEATURES)),
            tf.keras.layers.LSTM(HIDDEN),
            tf.keras.layers.Dense(CLASSES),
        ]
    )
    cell = converted.lstm.rnns[0].cell
    kernel, recurrent, bias_ih, bias_hh = (
        v.numpy() for v in (cell.kernel, cell.recurrent_kernel, cell.bias_ih, cell.bias_hh)
    )
    hand.layers[0].set_weights([kernel, recurrent, bias_ih + bias_hh])
    hand.layers[1].set_weights(converted.fc.get_weights())
    return hand


def run(quick: bool) -> dict[str, Any]:
    quiet()
    import tensorflow as tf
    import torch

    import torch2tf

    threads = set_threads()
    repeats = 3 if quick else 9
    target_s = 0.2 if quick else 0.5  # one call is tens of milliseconds
    model = torch_model()
    data = np.random.default_rng(0).standard_normal((BATCH, STEPS, FEATURES), np.float32)
    x, xt = tf.constant(data), torch.from_numpy(data)
    conversion = torch2tf.convert(model, args=(FEATURES, HIDDEN, CLASSES), inputs=(xt[:4],))
    converted = conversion.keras_model
    hand = hand_written(converted)
    expected = torch_infer(model, xt).numpy()
    out = np.asarray(converted(x, training=False))
    checks = {
        "verified": conversion.passed,
        "converted_vs_hand": float(np.abs(out - np.asarray(hand(x, training=False))).max()),
        "converted_vs_torch": float(np.abs(out - expected).max()),
    }
    rows = []
    for mode in ("tf.function",):  # eager runs a Python loop per step: seconds per call
        conv, hw = compiled(converted), compiled(hand)
        variants = {
            "converted": partial(conv, x),
            "hand": partial(hw, x),
            "torch": partial(torch_infer, model, xt),
        }
        t = time_alternating(variants, repeats * target_s, min_rounds=repeats)
        rows.append(
            {
                "mode": mode,
                "converted_ms": 1e3 * median(t["converted"]["wall"]),
                "hand_ms": 1e3 * median(t["hand"]["wall"]),
                "torch_eager_ms": 1e3 * median(t["torch"]["wall"]),
                "converted_cpu_ms": 1e3 * median(t["converted"]["cpu"]),
                "hand_cpu_ms": 1e3 * median(t["hand"]["cpu"]),
                "torch_eager_cpu_ms": 1e3 * median(t["torch"]["cpu"]),
                "converted_over_hand_cpu": paired_ratio(t["converted"]["cpu"], t["hand"]["cpu"]),
                "converted_over_hand_wall": paired_ratio(t["converted"]["wall"], t["hand"]["wall"]),
                "converted_over_torch_cpu": paired_ratio(t["converted"]["cpu"], t["torch"]["cpu"]),
                "calls": len(t["converted"]["cpu"]),
                "samples_s": t,
            }
        )
    return {
        "shape": {"batch": BATCH, "steps": STEPS, "features": FEATURES, "hidden": HIDDEN},
        "repeats": repeats,
        "block_target_s": target_s,
        "threads": threads,
        "output_checks": checks,
        "rows": rows,
    }


def tables(r: dict[str, Any]) -> list[tuple[str, str, list, list]]:
    """run.py's table of this section."""
    s = r["shape"]
    rows = [
        [
            x["mode"],
            x["converted_cpu_ms"],
            x["hand_cpu_ms"],
            x["torch_eager_cpu_ms"],
            x["converted_over_hand_cpu"],
            x["converted_over_torch_cpu"],
        ]
        for x in r["rows"]
    ]
    return [
        (
            f"LSTM classifier inference, batch {s['batch']} x {s['steps']} steps, hidden "
            f"{s['hidden']} (CPU ms per call, median of "
            f"{r['rows'][0].get('calls', r['repeats'])} calls)",
            "rnn",
            ["mode", "converted", "hand-written Keras", "torch eager", "conv/hand", "conv/torch"],
            rows,
        )
    ]


def targets(r: dict[str, Any]) -> list[dict[str, Any]]:
    """run.py's targets of this section."""
    checks = r["output_checks"]
    row = next(x for x in r["rows"] if x["mode"] == "tf.function")
    agree = checks["verified"] and checks["converted_vs_hand"] <= 1e-5
    return [
        {
            "target": "converted LSTM verified, and agrees with hand-written Keras",
            "figure": f"max diff {checks['converted_vs_hand']:.1e} "
            f"(vs torch {checks['converted_vs_torch']:.1e})",
            "bound": "1e-05",
            "met": agree,
            "hard": True,
        },
        {
            "target": "converted LSTM within 5% of hand-written, tf.function (CPU time, batch "
            f"{r['shape']['batch']}, {r['shape']['steps']} steps, hidden {r['shape']['hidden']})",
            "figure": f"{row['converted_over_hand_cpu']:.3f}x",
            "bound": f"<= {MAX_CONVERTED_OVER_HAND:g}x",
            "met": row["converted_over_hand_cpu"] <= MAX_CONVERTED_OVER_HAND,
            "hard": False,
        },
    ]


if __name__ == "__main__":
    section_main(run)
