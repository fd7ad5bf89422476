"""Inference speed of the converted seed MLPs against a hand-written Keras twin and torch eager.

Each seed model is converted with ``torch2tf.convert``; its hand-written twin is the idiomatic
``tf.keras.Sequential`` of plain ``Dense``/``BatchNormalization``/``ReLU``/``Dropout`` layers, given
the converted model's weights (outputs are checked to be identical). Both run in inference mode
(``training=False``) at batch 1, 32 and 256: eagerly, under ``tf.function`` and, when XLA works
on this CPU, under ``tf.function(jit_compile=True)``; torch runs eagerly under
``torch.inference_mode()``. The variants of one configuration are called in turn, one call
each per round in a random order, so that load on the machine hits them alike; the
ratio is the median of the per-round ratios. A second hand-written copy of each model is timed
alongside: its ratio to the first is the noise floor of every ratio in the table.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from functools import partial
from typing import Any

import numpy as np
from bench_convert import seed_models
from common import calibrate, median, per_call, quiet, section_main, set_threads

BATCHES = (1, 32, 256)
# Attributes of the converted model holding weights, in the order of the twin's weighted layers.
WEIGHTED = {
    "PyTorchMLP": ["fc1", "fc2"],
    "PyTorchMLPComplex": ["fc1", "bn1", "fc2", "bn2", "fc3"],
    "PyTorchMLPInit": ["fc1", "fc2"],
}


def hand_written(name: str, args: tuple) -> Any:
    """The Keras model one would write by hand for each seed MLP."""
    import tensorflow as tf

    layers = tf.keras.layers
    if name == "PyTorchMLPComplex":
        input_size, hidden1, hidden2, output_size, rate = args
        return tf.keras.Sequential(
            [
                tf.keras.Input(shape=(input_size,)),
                layers.Dense(hidden1),
                layers.BatchNormalization(momentum=0.9, epsilon=1e-5),
                layers.ReLU(),
                layers.Dropout(rate),
                layers.Dense(hidden2),
                layers.BatchNormalization(momentum=0.9, epsilon=1e-5),
                layers.ReLU(),
                layers.Dropout(rate),
                layers.Dense(output_size),
            ]
        )
    input_size, hidden, output_size = args
    return tf.keras.Sequential(
        [
            tf.keras.Input(shape=(input_size,)),
            layers.Dense(hidden),
            layers.ReLU(),
            layers.Dense(output_size),
        ]
    )


def copy_weights(name: str, converted: Any, hand: Any) -> None:
    targets = [layer for layer in hand.layers if layer.weights]
    sources = [getattr(converted, attr) for attr in WEIGHTED[name]]
    assert len(targets) == len(sources), (name, len(targets), len(sources))
    for source, target in zip(sources, targets, strict=True):
        target.set_weights(source.get_weights())


def xla_works() -> tuple[bool, str]:
    import tensorflow as tf

    try:
        value = tf.function(lambda x: tf.matmul(x, x) + 1.0, jit_compile=True)(tf.ones((2, 2)))
        return bool(np.allclose(value.numpy(), 3.0)), "ok"
    except Exception as err:  # any failure to compile means: skip XLA
        return False, f"{type(err).__name__}: {str(err).splitlines()[0][:200]}"


def time_interleaved(
    variants: dict[str, Callable[[], Any]], repeats: int, target_s: float
) -> dict[str, dict[str, list[float]]]:
    """Wall and CPU seconds per call of each variant, one value per repeat, rotating order;
    every other repeat in reverse, so that no variant always follows the same one."""
    for func in variants.values():  # warm-up (tracing, compilation, caches)
        for _ in range(3):
            func()
    counts = {k: calibrate(f, target_s) for k, f in variants.items()}
    times: dict[str, dict[str, list[float]]] = {k: {"wall": [], "cpu": []} for k in variants}
    keys = list(variants)
    for r in range(repeats):
        order = keys[r % len(keys) :] + keys[: r % len(keys)]
        for key in reversed(order) if r % 2 else order:
            wall, cpu = per_call(variants[key], counts[key])
            times[key]["wall"].append(wall)
            times[key]["cpu"].append(cpu)
    return times


def time_alternating(
    variants: dict[str, Callable[[], Any]], target_s: float, min_rounds: int = 100
) -> dict[str, dict[str, list[float]]]:
    """Wall and CPU seconds of single calls, the variants called in turn (in a new random order
    each round: each follows each other as often) until each has run about ``target_s``.

    For calls of tens of microseconds to a few milliseconds, blocks of one variant at a time
    leave each ratio to the machine's drift between blocks (a VM's steal and frequency): two
    copies of the same model differed by up to 7% that way. Call by call, neighbours share it.
    """
    for func in variants.values():  # warm-up (tracing, compilation, caches)
        for _ in range(3):
            func()
    slowest = max(per_call(func, 10)[0] for func in variants.values())
    rounds = max(min_rounds, min(20_000, int(target_s / max(slowest, 1e-7))))
    times: dict[str, dict[str, list[float]]] = {k: {"wall": [], "cpu": []} for k in variants}
    keys = list(variants)
    order = random.Random(0)
    for _ in range(rounds):
        order.shuffle(keys)  # what ran just before a call changes its cost (caches)
        for key in keys:
            func = variants[key]
            cpu = time.process_time()
            start = time.perf_counter()
            func()
            wall = time.perf_counter() - start
            times[key]["cpu"].append(time.process_time() - cpu)
            times[key]["wall"].append(wall)
    return times


def quartiles_us(samples: list[float]) -> list[float]:
    """25th, 50th and 75th percentiles in microseconds (the JSON keeps these, not every call)."""
    q = np.percentile(samples, [25, 50, 75])
    return [float(1e6 * v) for v in q]


def paired_ratio(a: list[float], b: list[float]) -> float:
    return median([x / y for x, y in zip(a, b, strict=True)])


def torch_infer(model: Any, x: Any) -> Any:
    import torch

    with torch.inference_mode():
        return model(x)


def compiled(model: Any, jit_compile: bool = False) -> Any:
    import tensorflow as tf

    def infer(x: Any) -> Any:
        return model(x, training=False)

    return tf.function(infer, jit_compile=jit_compile)


def batchnorm_diagnosis(repeats: int, target_s: float) -> dict[str, Any]:
    """Cost of one BatchNorm1d layer (batch 32, 512 features) in inference, three ways.

    ``TorchBatchNorm`` passes ``axis=1``; for 2-D inputs that is the last axis, but Keras's
    TensorFlow backend reshapes mean, variance, gamma and beta to ``[1, C]`` whenever
    ``axis != -1``: four extra ops per call. The third variant (defined here, not in torch2tf)
    maps the last axis to ``-1`` in ``build`` and removes them.
    """
    import tensorflow as tf

    from torch2tf.keras_helpers.layers import TorchBatchNorm

    class LastAxisTorchBatchNorm(TorchBatchNorm):
        def build(self, input_shape: Any) -> None:
            if self.axis % len(input_shape) == len(input_shape) - 1:
                self.axis = -1
            super().build(input_shape)

    x = tf.constant(np.random.default_rng(0).standard_normal((32, 512), np.float32))
    layers = {
        "TorchBatchNorm (axis=1)": TorchBatchNorm(momentum=0.9, epsilon=1e-5),
        "BatchNormalization (axis=-1)": tf.keras.layers.BatchNormalization(
            momentum=0.9, epsilon=1e-5
        ),
        "TorchBatchNorm, last axis as -1": LastAxisTorchBatchNorm(momentum=0.9, epsilon=1e-5),
    }
    for layer in layers.values():
        layer(x)
    result: dict[str, Any] = {"graph_ops": {}, "eager": {}, "tf.function": {}}
    eager = {k: partial(layer, x, training=False) for k, layer in layers.items()}
    graphs = {k: compiled(layer) for k, layer in layers.items()}
    for key, fn in graphs.items():
        result["graph_ops"][key] = len(fn.get_concrete_function(x).graph.get_operations())
    for mode, variants in (
        ("eager", eager),
        ("tf.function", {k: partial(f, x) for k, f in graphs.items()}),
    ):
        times = time_interleaved(variants, repeats, target_s)
        base = times["BatchNormalization (axis=-1)"]["cpu"]
        for key, t in times.items():
            result[mode][key] = {
                "cpu_us": 1e6 * median(t["cpu"]),
                "wall_us": 1e6 * median(t["wall"]),
                "over_keras_cpu": paired_ratio(t["cpu"], base),
            }
    return result


def run(quick: bool) -> dict[str, Any]:
    quiet()
    import tensorflow as tf
    import torch

    import torch2tf

    threads = set_threads()
    repeats = 3 if quick else 9  # multiples of 3: each variant as often first, second, third
    target_s = 0.04 if quick else 0.05
    per_variant_s = 0.15 if quick else 0.5  # the seed MLPs' cells, timed call by call
    xla, xla_note = xla_works()
    modes = ["eager", "tf.function"] + (["xla"] if xla else [])
    rows, checks, graph_ops = [], [], {}
    for name, (model, args) in seed_models().items():
        converted = torch2tf.convert(model, args=args).keras_model
        hand = hand_written(name, args)
        copy_weights(name, converted, hand)
        control = hand_written(name, args)  # the same model again: the noise floor of a ratio
        copy_weights(name, converted, control)
        wrapped = {
            "eager": (converted, hand, control),
            "tf.function": (compiled(converted), compiled(hand), compiled(control)),
            "xla": (
                compiled(converted, jit_compile=True),
                compiled(hand, jit_compile=True),
                compiled(control, jit_compile=True),
            ),
        }
        probe = tf.zeros((2, args[0]))
        graph_ops[name] = {
            key: len(fn.get_concrete_function(probe).graph.get_operations())
            for key, fn in zip(("converted", "hand"), wrapped["tf.function"][:2], strict=True)
        }
        for batch in BATCHES if not quick else BATCHES[:2]:
            data = np.random.default_rng(batch).standard_normal((batch, args[0]), np.float32)
            x, xt = tf.constant(data), torch.from_numpy(data)
            expected = torch_infer(model, xt).numpy()
            out = np.asarray(converted(x, training=False))
            checks.append(
                {
                    "model": name,
                    "batch": batch,
                    "converted_vs_hand": float(np.abs(out - np.asarray(hand(x))).max()),
                    "converted_vs_torch": float(np.abs(out - expected).max()),
                }
            )
            for mode in modes:
                conv, hw, again = wrapped[mode]
                kwargs = {"training": False} if mode == "eager" else {}
                variants = {
                    "converted": partial(conv, x, **kwargs),
                    "hand": partial(hw, x, **kwargs),
                    "hand_again": partial(again, x, **kwargs),
                    "torch": partial(torch_infer, model, xt),
                }
                t = time_alternating(variants, per_variant_s)
                rows.append(
                    {
                        "model": name,
                        "batch": batch,
                        "mode": mode,
                        "converted_us": 1e6 * median(t["converted"]["wall"]),
                        "hand_us": 1e6 * median(t["hand"]["wall"]),
                        "torch_eager_us": 1e6 * median(t["torch"]["wall"]),
                        "converted_cpu_us": 1e6 * median(t["converted"]["cpu"]),
                        "hand_cpu_us": 1e6 * median(t["hand"]["cpu"]),
                        "torch_eager_cpu_us": 1e6 * median(t["torch"]["cpu"]),
                        "converted_over_hand_cpu": paired_ratio(
                            t["converted"]["cpu"], t["hand"]["cpu"]
                        ),
                        "converted_over_hand_wall": paired_ratio(
                            t["converted"]["wall"], t["hand"]["wall"]
                        ),
                        "converted_over_torch_cpu": paired_ratio(
                            t["converted"]["cpu"], t["torch"]["cpu"]
                        ),
                        "hand_again_over_hand_cpu": paired_ratio(
                            t["hand_again"]["cpu"], t["hand"]["cpu"]
                        ),
                        "calls": len(t["hand"]["cpu"]),
                        "quartiles_us": {k: quartiles_us(v["cpu"]) for k, v in t.items()},
                    }
                )
    return {
        "repeats": repeats,
        "block_target_s": target_s,
        "per_variant_s": per_variant_s,
        "xla": {"available": xla, "note": xla_note},
        "threads": threads,
        "rows": rows,
        "output_checks": checks,
        "graph_ops": graph_ops,
        "batchnorm_diagnosis": batchnorm_diagnosis(repeats, target_s),
    }


if __name__ == "__main__":
    section_main(run)
