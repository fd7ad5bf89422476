"""Weight transfer time and peak memory for large MLPs (eight width x width Linear layers).

Each size runs in a fresh subprocess so the baseline is clean. The torch model is built from
generated source; the Keras model by translating that source with ``translate_source`` and
executing the result. With both models alive, ``torch2tf.weights.transfer_weights`` is timed and
its peak extra memory measured two ways: resident set size (``VmHWM`` in ``/proc/self/status``
after resetting it through ``/proc/self/clear_refs``, or, where that is not allowed, a thread
sampling ``VmRSS`` every millisecond) and ``tracemalloc`` (Python and numpy allocations only).
The first transfer is measured for memory; the median of the following ones gives the time.
"""

from __future__ import annotations

import gc
import json
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from common import median, quiet, section_main, set_threads, subprocess_env

DEPTH = 8

TORCH_SOURCE = """
import torch.nn as nn


class WideMLP(nn.Module):
    def __init__(self, width):
        super(WideMLP, self).__init__()
{init}

    def forward(self, x):
{forward}
        return x
"""


def wide_mlp_source(depth: int = DEPTH) -> str:
    init, forward = [], []
    for i in range(1, depth + 1):
        init.append(f"        self.fc{i} = nn.Linear(width, width)")
        forward.append(f"        x = self.fc{i}(x)")
        if i < depth:
            init.append(f"        self.relu{i} = nn.ReLU()")
            forward.append(f"        x = self.relu{i}(x)")
    return TORCH_SOURCE.format(init="\n".join(init), forward="\n".join(forward))


def _status_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise KeyError(field)


def _reset_peak() -> bool:
    """Reset VmHWM to the current RSS (Linux >= 4.0); False where not allowed."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return _status_kib("VmHWM") <= _status_kib("VmRSS") + 1024


class _RssSampler:
    """Fallback peak-RSS meter: samples VmRSS every millisecond in a thread."""

    def __init__(self) -> None:
        self.peak = _status_kib("VmRSS")
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, _status_kib("VmRSS"))
            time.sleep(0.001)

    def __enter__(self) -> _RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, _status_kib("VmRSS"))


def measure(width: int, repeats: int) -> dict[str, Any]:
    """One size, in this process (run it in a fresh one)."""
    import tracemalloc
    import types

    quiet()
    import tensorflow as tf  # noqa: F401  (imported before the baseline)
    import torch

    threads = set_threads()

    from torch2tf import translate_source
    from torch2tf.weights import transfer_weights

    source = wide_mlp_source()
    torch_module = types.ModuleType("wide_mlp_torch")
    exec(compile(source, "wide_mlp_torch.py", "exec"), torch_module.__dict__)
    keras_module = types.ModuleType("wide_mlp_keras")
    exec(compile(translate_source(source), "wide_mlp_keras.py", "exec"), keras_module.__dict__)

    torch.manual_seed(0)
    start = time.perf_counter()
    torch_model = torch_module.WideMLP(width).eval()
    torch_build_s = time.perf_counter() - start
    start = time.perf_counter()
    keras_model = keras_module.WideMLP(width)
    keras_build_s = time.perf_counter() - start
    params = sum(p.numel() for p in torch_model.parameters())
    weight_bytes = sum(p.numel() * p.element_size() for p in torch_model.parameters())
    gc.collect()

    baseline_kib = _status_kib("VmRSS")
    tracemalloc.start()
    cleared = _reset_peak()
    start = time.perf_counter()
    if cleared:
        transfer_weights(torch_model, keras_model)
        peak_kib = _status_kib("VmHWM")
    else:
        with _RssSampler() as sampler:
            transfer_weights(torch_model, keras_model)
        peak_kib = sampler.peak
    first_s = time.perf_counter() - start
    _, traced_peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    after_kib = _status_kib("VmRSS")

    times, cpu_times = [], []
    for _ in range(repeats):
        gc.collect()
        cpu = time.process_time()
        start = time.perf_counter()
        transfer_weights(torch_model, keras_model)
        times.append(time.perf_counter() - start)
        cpu_times.append(time.process_time() - cpu)

    # the transfer is exact: the last kernel is the last weight, transposed
    kernel = keras_model.fc8.kernel.numpy()
    exact = bool((kernel == torch_model.fc8.weight.detach().numpy().T).all())
    peak_extra = (peak_kib - baseline_kib) * 1024
    return {
        "width": width,
        "depth": DEPTH,
        "threads": threads,
        "parameters": params,
        "weight_bytes": weight_bytes,
        "torch_build_s": torch_build_s,
        "keras_build_s": keras_build_s,
        "first_transfer_s": first_s,
        "median_transfer_s": median(times),
        "all_seconds": times,
        "median_transfer_cpu_s": median(cpu_times),
        "all_cpu_seconds": cpu_times,
        "ns_per_parameter": 1e9 * median(times) / params,
        "cpu_ns_per_parameter": 1e9 * median(cpu_times) / params,
        "peak_rss_method": "VmHWM after clear_refs" if cleared else "VmRSS sampled every 1 ms",
        "baseline_rss_bytes": baseline_kib * 1024,
        "peak_extra_rss_bytes": peak_extra,
        "rss_after_bytes_over_baseline": (after_kib - baseline_kib) * 1024,
        "peak_extra_over_weights": peak_extra / weight_bytes,
        "tracemalloc_peak_bytes": traced_peak,
        "tracemalloc_peak_over_weights": traced_peak / weight_bytes,
        "exact": exact,
    }


def run(quick: bool) -> dict[str, Any]:
    widths = (1024, 2048) if quick else (1024, 2048, 4096)
    repeats = 2 if quick else 5
    rows = []
    for width in widths:
        done = subprocess.run(
            [sys.executable, __file__, "--one", str(width), str(repeats)],
            capture_output=True,
            text=True,
            env=subprocess_env(),
            check=False,
        )
        if done.returncode != 0:
            raise RuntimeError(f"width {width} failed:\n{done.stderr[-3000:]}")
        rows.append(json.loads(done.stdout.strip().splitlines()[-1]))
    base = rows[0]
    for row in rows:
        row["time_ratio_vs_smallest"] = row["median_transfer_s"] / base["median_transfer_s"]
        row["param_ratio_vs_smallest"] = row["parameters"] / base["parameters"]
    return {"depth": DEPTH, "repeats": repeats, "rows": rows}


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--one":
        print(json.dumps(measure(int(sys.argv[2]), int(sys.argv[3]))))
    else:
        section_main(run)
