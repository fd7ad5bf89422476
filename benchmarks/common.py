"""Shared helpers of the benchmarks: timing, machine description, tables, JSON hand-off."""

from __future__ import annotations

import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
BENCHMARKS = ROOT / "benchmarks"
EXAMPLES = ROOT / "examples"

# TensorFlow's start-up chatter would drown the tables; the numerics are left at their defaults
# (oneDNN on), as a user gets them.
QUIET_ENV = {"TF_CPP_MIN_LOG_LEVEL": "2"}


def quiet() -> None:
    """Silence TensorFlow's C++ logging in this process (call before importing TensorFlow)."""
    for key, value in QUIET_ENV.items():
        os.environ.setdefault(key, value)


def subprocess_env() -> dict[str, str]:
    """The environment of a benchmark subprocess: this one, quiet, with ``src`` importable."""
    env = {**os.environ, **QUIET_ENV}
    env["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(ROOT / "src"), str(BENCHMARKS), env.get("PYTHONPATH", "")) if p
    )
    return env


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


def timed(func: Callable[[], Any]) -> tuple[float, Any]:
    """(seconds, result) of one call."""
    start = time.perf_counter()
    result = func()
    return time.perf_counter() - start, result


def calibrate(func: Callable[[], Any], target_s: float, cap: int = 100_000) -> int:
    """How many calls of ``func`` take about ``target_s`` (at least one)."""
    n = 1
    while True:
        start = time.perf_counter()
        for _ in range(n):
            func()
        elapsed = time.perf_counter() - start
        if elapsed >= target_s / 4 or n >= cap:
            return max(1, min(cap, round(n * target_s / max(elapsed, 1e-9))))
        n *= 4


def per_call(func: Callable[[], Any], n: int) -> tuple[float, float]:
    """(wall, process CPU) seconds per call over ``n`` back-to-back calls.

    CPU time counts every thread of this process; with one framework thread it is the work done,
    much less disturbed than wall time by other processes sharing the cores.
    """
    cpu = time.process_time()
    start = time.perf_counter()
    for _ in range(n):
        func()
    return (time.perf_counter() - start) / n, (time.process_time() - cpu) / n


def threads_setting() -> int:
    """Framework threads for the timed sections: ``TORCH2TF_BENCH_THREADS`` (0: defaults)."""
    return int(os.environ.get("TORCH2TF_BENCH_THREADS", "1"))


def set_threads() -> dict[str, int]:
    """Apply :func:`threads_setting` to torch and TensorFlow (before TensorFlow runs an op)."""
    import tensorflow as tf
    import torch

    n = threads_setting()
    if n > 0:
        torch.set_num_threads(n)
        tf.config.threading.set_intra_op_parallelism_threads(n)
        tf.config.threading.set_inter_op_parallelism_threads(n)
    return {
        "setting": n,
        "torch": torch.get_num_threads(),
        "tf_intra_op": tf.config.threading.get_intra_op_parallelism_threads(),
        "tf_inter_op": tf.config.threading.get_inter_op_parallelism_threads(),
    }


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def load_average() -> list[float] | None:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return None


def machine(with_frameworks: bool = True) -> dict[str, Any]:
    """The machine and the versions the figures were measured with."""
    info: dict[str, Any] = {
        "cpu": cpu_model(),
        "cores": os.cpu_count(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "load_average_1_5_15min": load_average(),
        "onednn_opts": os.environ.get("TF_ENABLE_ONEDNN_OPTS", "default (on)"),
    }
    try:
        info["memory_gib"] = round(
            int(Path("/proc/meminfo").read_text().split()[1]) / 2**20, 1
        )  # MemTotal, kB
    except (OSError, ValueError, IndexError):
        pass
    if with_frameworks:
        from importlib.metadata import PackageNotFoundError, version

        for dist in ("torch", "tensorflow", "tensorflow-cpu", "keras", "libcst", "ruff"):
            try:
                info[dist] = version(dist)
            except PackageNotFoundError:
                pass
        if "tensorflow" not in info and "tensorflow-cpu" in info:
            info["tensorflow"] = info.pop("tensorflow-cpu")
        info.pop("tensorflow-cpu", None)
        try:
            info["torch2tf"] = version("torch2tf")
        except PackageNotFoundError:
            pass
    return info


def git_commit() -> str | None:
    """The commit measured, with ``+dirty`` when ``src/`` has uncommitted changes."""
    import subprocess

    def git(*args: str) -> str | None:
        try:
            done = subprocess.run(
                ["git", *args], cwd=ROOT, capture_output=True, text=True, check=True
            )
        except (OSError, subprocess.CalledProcessError):
            return None
        return done.stdout.strip()

    commit = git("rev-parse", "--short=12", "HEAD")
    if commit and git("status", "--porcelain", "--", "src"):
        commit += "+dirty"
    return commit


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]], markdown: bool = False) -> str:
    """A plain-text (or markdown) table; numbers right-aligned."""
    cells = [[str(h) for h in headers]] + [[_cell(v) for v in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    numeric = [all(_is_number(row[i]) for row in rows) and bool(rows) for i in range(len(headers))]

    def fmt(row: list[str]) -> str:
        parts = [
            c.rjust(w) if num else c.ljust(w)
            for c, w, num in zip(row, widths, numeric, strict=True)
        ]
        return ("| " + " | ".join(parts) + " |") if markdown else "  ".join(parts).rstrip()

    lines = [fmt(cells[0])]
    if markdown:
        rules = [
            ("-" * (w + 1) + ":") if n else ("-" * (w + 2))
            for w, n in zip(widths, numeric, strict=True)
        ]
        lines.append("|" + "|".join(rules) + "|")
    else:
        lines.append("  ".join("-" * w for w in widths))
    lines += [fmt(row) for row in cells[1:]]
    return "\n".join(lines)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "NO"
    if isinstance(value, float):
        if value == 0:
            return "0"
        if abs(value) >= 100:
            return f"{value:,.0f}"
        if abs(value) >= 10:
            return f"{value:.1f}"
        if abs(value) >= 0.01:
            return f"{value:.2f}"
        return f"{value:.2e}"
    return str(value)


def write_json(path: str | Path, data: Any) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def section_main(run: Callable[[bool], dict[str, Any]]) -> None:
    """Entry point of one benchmark module: ``python bench_x.py [--quick] [--json PATH]``."""
    import argparse

    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--json", help="write the result here instead of printing it")
    args = parser.parse_args()
    result = run(args.quick)
    if args.json:
        write_json(args.json, result)
    else:
        json.dump(result, sys.stdout, indent=2)
        print()
