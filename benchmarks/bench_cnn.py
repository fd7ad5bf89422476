"""Inference of converted torchvision CNNs against keras.applications (issue 11's figure).

torchvision's ``resnet50()`` and ``mobilenet_v2()`` (random weights) are built inside
``torch2tf.recording()`` and converted with ``torch2tf.convert`` as a user would, verified on a
small input; the Keras models they are timed against are ``keras.applications.ResNet50`` and
``MobileNetV2`` (``weights=None``), the same architectures as Keras ships them (ResNet50 v1
strides in its 1x1 convs and has conv biases, so its parameter count differs slightly from
torchvision's v1.5: both counts are reported). Both run in inference mode under
``tf.function`` at batch 8 x 224 x 224 x 3, timed in rotating interleaved blocks (see
bench_inference.py); torch eager is shown for reference. A model that does not convert is
reported with its error instead of a time.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import numpy as np
from bench_inference import compiled, paired_ratio, time_interleaved, torch_infer
from common import median, quiet, section_main, set_threads

# torchvision's CUDA wheel needs two operator schemas declared before its import: the tests'
# loader does that.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

BATCH, SIZE = 8, 224
MAX_CONVERTED_OVER_KERAS = 1.05
MODELS = {"resnet50": "ResNet50", "mobilenet_v2": "MobileNetV2"}


def converted_model(name: str) -> tuple[Any, Any, Any]:
    """(torch model, torch2tf conversion) of torchvision's ``name``, verified on 2x3x64x64
    (eval and train mode: batch statistics need two samples at 2x2 maps)."""
    import torch
    from torchvision_loader import import_torchvision

    import torch2tf

    models = import_torchvision().models
    torch.manual_seed(0)
    with torch2tf.recording():
        model = getattr(models, name)().eval()
    sample = torch.randn(2, 3, 64, 64, generator=torch.Generator().manual_seed(0))
    return model, torch2tf.convert(model, inputs=(sample,), atol=1e-4, rtol=1e-4)


def run(quick: bool) -> dict[str, Any]:
    quiet()
    import tensorflow as tf
    import torch

    threads = set_threads()
    repeats = 3 if quick else 6  # multiples of 3: each variant as often first, second, third
    target_s = 0.5 if quick else 1.0  # one call is a fraction of a second
    data = np.random.default_rng(0).standard_normal((BATCH, SIZE, SIZE, 3), np.float32)
    x = tf.constant(data)
    xt = torch.from_numpy(np.ascontiguousarray(data.transpose(0, 3, 1, 2)))
    rows = []
    for name, application in MODELS.items():
        row: dict[str, Any] = {"model": name, "keras_application": application}
        try:
            model, conversion = converted_model(name)
        except Exception as error:  # reported in the table: the benchmark measures the rest
            row["error"] = f"{type(error).__name__}: {str(error).splitlines()[0][:200]}"
            rows.append(row)
            continue
        keras_app = getattr(tf.keras.applications, application)(weights=None)
        converted = conversion.keras_model
        out = np.asarray(converted(x, training=False))
        expected = torch_infer(model, xt).numpy()
        functions = {"converted": compiled(converted), "keras": compiled(keras_app)}
        variants = {
            "converted": lambda f=functions["converted"]: f(x).numpy(),
            "keras": lambda f=functions["keras"]: f(x).numpy(),
            "torch": lambda m=model: torch_infer(m, xt),
        }
        times = time_interleaved(variants, repeats, target_s)
        row |= {
            "verified": conversion.passed,
            "max_abs_error_vs_torch_224": float(np.abs(out - expected).max()),
            "max_abs_output_224": float(np.abs(expected).max()),
            "params_converted": int(converted.count_params()),
            "params_torch": int(sum(p.numel() for p in model.parameters())),
            "params_keras": int(keras_app.count_params()),
            **{f"{k}_ms": 1e3 * median(t["wall"]) for k, t in times.items()},
            **{f"{k}_cpu_ms": 1e3 * median(t["cpu"]) for k, t in times.items()},
            "converted_over_keras_cpu": paired_ratio(
                times["converted"]["cpu"], times["keras"]["cpu"]
            ),
            "converted_over_keras_wall": paired_ratio(
                times["converted"]["wall"], times["keras"]["wall"]
            ),
            "converted_over_torch_cpu": paired_ratio(
                times["converted"]["cpu"], times["torch"]["cpu"]
            ),
            "samples": times,
        }
        rows.append(row)
    return {
        "batch": BATCH,
        "size": SIZE,
        "repeats": repeats,
        "block_target_s": target_s,
        "threads": threads,
        "rows": rows,
    }


def tables(r: dict[str, Any]) -> list[tuple[str, str, list, list]]:
    """run.py's table of this section."""
    headers = [
        "model",
        "converted ms",
        "keras.applications ms",
        "conv/keras CPU",
        "conv/keras wall",
        "torch eager ms",
        "params conv/keras",
    ]
    rows = []
    for x in r["rows"]:
        if "error" in x:
            rows.append([x["model"], "not converted: " + x["error"][:80], "", "", "", "", ""])
            continue
        rows.append(
            [
                f"{x['model']} vs {x['keras_application']}",
                x["converted_ms"],
                x["keras_ms"],
                x["converted_over_keras_cpu"],
                x["converted_over_keras_wall"],
                x["torch_ms"],
                f"{x['params_converted']:,}/{x['params_keras']:,}",
            ]
        )
    threads = r["threads"]["setting"] or "framework defaults"
    title = (
        f"torchvision CNN inference, tf.function, batch {r['batch']} x {r['size']}x{r['size']}: "
        f"converted vs keras.applications vs torch eager (wall ms per call, median of "
        f"{r['repeats']}; threads: {threads})"
    )
    return [(title, "cnn", headers, rows)]


def targets(r: dict[str, Any]) -> list[dict[str, Any]]:
    """run.py's targets of this section: one per model."""
    found = []
    for x in r["rows"]:
        target = (
            f"converted {x['model']} within 5% of keras.applications.{x['keras_application']}, "
            f"tf.function (CPU time, batch {r['batch']} at {r['size']}x{r['size']})"
        )
        if "error" in x:
            figure, met = "not converted", False
        else:
            figure, met = (
                f"{x['converted_over_keras_cpu']:.3f}x",
                x["verified"] and x["converted_over_keras_cpu"] <= MAX_CONVERTED_OVER_KERAS,
            )
        found.append(
            {
                "target": target,
                "figure": figure,
                "bound": f"<= {MAX_CONVERTED_OVER_KERAS:g}x",
                "met": met,
                "hard": False,
            }
        )
    return found


if __name__ == "__main__":
    section_main(run)
