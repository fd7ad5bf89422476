"""Latency of ``torch2tf.convert`` on the three seed models, after imports.

torch, TensorFlow and torch2tf are imported and one warm-up conversion is done first (its time is
reported as ``first_call_s``); then the median of repeated conversions of the same torch model.
A conversion translates the class's file, builds the Keras model, moves the weights and verifies
in eval and train mode, layer by layer; ``translate_ms`` is the translate step alone.
"""

from __future__ import annotations

import gc
import sys
import time
from typing import Any

from common import EXAMPLES, median, quiet, section_main

SEEDS = {
    "PyTorchMLP": (784, 256, 10),
    "PyTorchMLPComplex": (784, 512, 256, 10, 0.2),
    "PyTorchMLPInit": (784, 256, 10),
}


def seed_models() -> dict[str, tuple[Any, tuple]]:
    """name -> (torch model in eval mode, constructor args), seeded."""
    import torch

    sys.path.insert(0, str(EXAMPLES))
    import seed_mlps

    models = {}
    for name, args in SEEDS.items():
        torch.manual_seed(0)
        models[name] = (getattr(seed_mlps, name)(*args).eval(), args)
    return models


def run(quick: bool) -> dict[str, Any]:
    quiet()
    import tensorflow as tf  # noqa: F401  (imported before timing)
    import torch  # noqa: F401

    import torch2tf

    repeats = 2 if quick else 5
    models = seed_models()
    source = (EXAMPLES / "seed_mlps.py").read_text(encoding="utf-8")
    rows = []
    for name, (model, args) in models.items():
        first, result = _timed_convert(torch2tf, model, args)
        times = []
        for _ in range(repeats):
            del result
            gc.collect()
            seconds, result = _timed_convert(torch2tf, model, args)
            times.append(seconds)
        translate = []
        for _ in range(repeats):
            start = time.perf_counter()
            torch2tf.translate_source(source)
            translate.append(time.perf_counter() - start)
        rows.append(
            {
                "model": name,
                "args": list(args),
                "parameters": sum(p.numel() for p in model.parameters()),
                "first_call_s": first,
                "median_s": median(times),
                "all_seconds": times,
                "translate_ms": 1e3 * median(translate),
                "passed": bool(result.passed),
                "max_abs_error": float(result.max_abs_error),
            }
        )
    return {"repeats": repeats, "models": rows}


def _timed_convert(torch2tf: Any, model: Any, args: tuple) -> tuple[float, Any]:
    start = time.perf_counter()
    result = torch2tf.convert(model, args=args)
    return time.perf_counter() - start, result


if __name__ == "__main__":
    section_main(run)
