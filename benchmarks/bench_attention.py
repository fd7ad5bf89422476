"""Inference of a converted transformer encoder against the same model written by hand in Keras.

The model (issue 13's figure): ``nn.TransformerEncoder`` of 6 post-norm
``nn.TransformerEncoderLayer(256, 8, dim_feedforward=1024, batch_first=True)``, input batch 16
x sequence 128 x 256, float32, no masks. It is converted with ``torch2tf.convert``; the
hand-written twin is a Keras functional model of ``keras.layers.MultiHeadAttention``,
``Dense`` and ``LayerNormalization`` layers given the same weights (outputs checked against the
converted model and torch). Both run in inference mode under ``tf.function``, timed call by
call in a random order each round (see bench_inference.py); torch eager under
``inference_mode`` is shown for reference (its fused fast path).
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
from bench_inference import compiled, paired_ratio, time_alternating, torch_infer
from common import median, quiet, section_main, set_threads

LAYERS, D_MODEL, HEADS, FEED_FORWARD, SEQUENCE, BATCH = 6, 256, 8, 1024, 128, 16
MAX_CONVERTED_OVER_HAND = 1.05

SOURCE = f"""
import torch.nn as nn


class Encoder(nn.Module):
    def __init__(self):
        super().__init__()
        layer = nn.TransformerEncoderLayer(
            {D_MODEL}, {HEADS}, dim_feedforward={FEED_FORWARD}, batch_first=True
        )
        self.encoder = nn.TransformerEncoder(layer, {LAYERS}, enable_nested_tensor=False)

    def forward(self, x):
        return self.encoder(x)
"""


def load_encoder(folder: Path) -> Any:
    """The torch model, from a real source file (convert reads the class's source)."""
    import importlib.util

    path = folder / "bench_encoder.py"
    path.write_text(SOURCE, encoding="utf-8")
    spec = importlib.util.spec_from_file_location("bench_encoder", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_encoder"] = module
    spec.loader.exec_module(module)
    return module.Encoder().eval()


def hand_written() -> Any:
    """The encoder as one writes it with Keras's own layers (post-norm, relu)."""
    import tensorflow as tf

    layers = tf.keras.layers
    x = inputs = tf.keras.Input((None, D_MODEL))
    for _ in range(LAYERS):
        attention = layers.MultiHeadAttention(HEADS, D_MODEL // HEADS, dropout=0.1)
        x = layers.LayerNormalization(epsilon=1e-5)(x + layers.Dropout(0.1)(attention(x, x)))
        y = layers.Dense(FEED_FORWARD, activation="relu")(x)
        y = layers.Dense(D_MODEL)(layers.Dropout(0.1)(y))
        x = layers.LayerNormalization(epsilon=1e-5)(x + layers.Dropout(0.1)(y))
    return tf.keras.Model(inputs, x)


def copy_weights(torch_model: Any, hand: Any) -> None:
    """torch's packed in-projection as Keras's per-head query/key/value kernels, and so on."""
    import tensorflow as tf

    head_dim = D_MODEL // HEADS
    kinds = (tf.keras.layers.MultiHeadAttention, tf.keras.layers.Dense)
    kinds += (tf.keras.layers.LayerNormalization,)
    weighted = [layer for layer in hand.layers if isinstance(layer, kinds)]
    per_layer = len(weighted) // LAYERS
    for index, block in enumerate(torch_model.encoder.layers):
        attention, norm1, linear1, linear2, norm2 = weighted[
            index * per_layer : (index + 1) * per_layer
        ]
        w = block.self_attn.in_proj_weight.detach().numpy()
        b = block.self_attn.in_proj_bias.detach().numpy()
        values = []
        for part in range(3):  # query, key, value
            rows = slice(part * D_MODEL, (part + 1) * D_MODEL)
            values += [
                w[rows].T.reshape(D_MODEL, HEADS, head_dim),
                b[rows].reshape(HEADS, head_dim),
            ]
        out = block.self_attn.out_proj
        values += [
            out.weight.detach().numpy().T.reshape(HEADS, head_dim, D_MODEL),
            out.bias.detach().numpy(),
        ]
        attention.set_weights(values)
        for keras_layer, torch_layer in (
            (norm1, block.norm1),
            (linear1, block.linear1),
            (linear2, block.linear2),
            (norm2, block.norm2),
        ):
            weight = torch_layer.weight.detach().numpy()
            weight = weight.T if isinstance(keras_layer, tf.keras.layers.Dense) else weight
            keras_layer.set_weights([weight, torch_layer.bias.detach().numpy()])


def run(quick: bool) -> dict[str, Any]:
    quiet()
    import tensorflow as tf
    import torch

    import torch2tf

    threads = set_threads()
    repeats = 3 if quick else 9  # multiples of 3: each variant as often first, second, third
    target_s = 0.04 if quick else 0.05
    torch.manual_seed(0)
    data = np.random.default_rng(0).standard_normal((BATCH, SEQUENCE, D_MODEL), np.float32)
    x, xt = tf.constant(data), torch.from_numpy(data)
    with tempfile.TemporaryDirectory() as tmp:
        model = load_encoder(Path(tmp))
        conversion = torch2tf.convert(model, inputs=(xt,))
    converted, hand = conversion.keras_model, hand_written()
    copy_weights(model, hand)
    expected = torch_infer(model, xt).numpy()
    outputs = {
        "converted": np.asarray(converted(x, training=False)),
        "hand": np.asarray(hand(x, training=False)),
    }
    errors = {k: float(np.abs(v - expected).max()) for k, v in outputs.items()}
    functions = {"converted": compiled(converted), "hand": compiled(hand)}
    graph_ops = {
        k: len(f.get_concrete_function(x).graph.get_operations()) for k, f in functions.items()
    }
    variants = {
        "converted": lambda: functions["converted"](x).numpy(),
        "hand": lambda: functions["hand"](x).numpy(),
        "torch": lambda: torch_infer(model, xt),
    }
    times = time_alternating(variants, repeats * target_s, min_rounds=repeats)
    row = {
        "layers": LAYERS,
        "d_model": D_MODEL,
        "heads": HEADS,
        "dim_feedforward": FEED_FORWARD,
        "batch": BATCH,
        "sequence": SEQUENCE,
        "verified": conversion.passed,
        "max_abs_error_vs_torch": errors,
        **{f"{k}_ms": 1e3 * median(t["wall"]) for k, t in times.items()},
        **{f"{k}_cpu_ms": 1e3 * median(t["cpu"]) for k, t in times.items()},
        "converted_over_hand_cpu": paired_ratio(times["converted"]["cpu"], times["hand"]["cpu"]),
        "converted_over_hand_wall": paired_ratio(times["converted"]["wall"], times["hand"]["wall"]),
        "converted_over_torch_cpu": paired_ratio(times["converted"]["cpu"], times["torch"]["cpu"]),
    }
    return {
        "repeats": repeats,
        "block_target_s": target_s,
        "threads": threads,
        "rows": [row],
        "graph_ops": graph_ops,
        "calls": len(times["converted"]["cpu"]),
        "samples": times,
    }


def tables(r: dict[str, Any]) -> list[tuple[str, str, list, list]]:
    """run.py's tables of this section."""
    headers = [
        "model",
        "converted ms",
        "hand ms",
        "conv/hand CPU",
        "conv/hand wall",
        "torch eager ms",
        "conv/torch CPU",
        "graph ops conv/hand",
    ]
    rows = [
        [
            f"{x['layers']}-layer encoder, d {x['d_model']}, {x['heads']} heads, "
            f"batch {x['batch']} x {x['sequence']}",
            x["converted_ms"],
            x["hand_ms"],
            x["converted_over_hand_cpu"],
            x["converted_over_hand_wall"],
            x["torch_ms"],
            x["converted_over_torch_cpu"],
            f"{r['graph_ops']['converted']}/{r['graph_ops']['hand']}",
        ]
        for x in r["rows"]
    ]
    threads = r["threads"]["setting"] or "framework defaults"
    title = (
        "transformer encoder inference, tf.function: converted vs keras.layers.MultiHeadAttention "
        f"by hand vs torch eager (wall ms per call, median of {r.get('calls', r['repeats'])} "
        f"calls; threads: {threads})"
    )
    return [(title, "attention", headers, rows)]


def targets(r: dict[str, Any]) -> list[dict[str, Any]]:
    """run.py's targets of this section: the conversion verifies (hard), the speed ratio."""
    x = r["rows"][0]
    errors = x["max_abs_error_vs_torch"]
    return [
        {
            "target": "converted encoder and hand-written MultiHeadAttention twin match torch",
            "figure": f"converted {errors['converted']:.1e}, hand {errors['hand']:.1e}",
            "bound": "verified, hand <= 1e-4",
            "met": bool(x["verified"] and errors["hand"] <= 1e-4),
            "hard": True,
        },
        {
            "target": "6-layer encoder within 5% of hand-written MultiHeadAttention, tf.function "
            "(CPU time)",
            "figure": f"{x['converted_over_hand_cpu']:.3f}x",
            "bound": f"<= {MAX_CONVERTED_OVER_HAND:g}x",
            "met": x["converted_over_hand_cpu"] <= MAX_CONVERTED_OVER_HAND,
            "hard": False,
        },
    ]


if __name__ == "__main__":
    section_main(run)
