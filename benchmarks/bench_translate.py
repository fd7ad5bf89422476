"""Translate throughput on generated files of 10, 100 and 1,000 MLP classes, and cold start.

In-process: ``translate_source`` on each file after a warm-up (imports and rule loading done),
median over repeats, reported per class, with the share spent formatting the output.
Fresh process: wall time of ``python -c "import torch2tf; translate_source(<100 classes>)"``
against a bare ``python -c "import torch"``, and a check that neither ``tensorflow`` nor
``torch`` is in ``sys.modules`` after translating.
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from common import median, section_main, subprocess_env
from generate import mlp_file

HEAVY = ("tensorflow", "keras", "torch", "numpy")

FRESH_TRANSLATE = f"""
import json, sys
import torch2tf
out = torch2tf.translate_file(sys.argv[1])
imported = sorted(m for m in {HEAVY!r} if m in sys.modules)
print(json.dumps({{"lines_out": len(out.splitlines()), "imported": imported}}))
"""


class _FormatTimer:
    """Times the formatting step inside translate_source, if the private hook exists."""

    def __init__(self) -> None:
        import torch2tf.translation.emission as engine

        self.engine = engine
        self.original = getattr(engine, "format_code", None)
        self.seconds = 0.0

    def __enter__(self) -> _FormatTimer:
        if self.original is not None:
            original = self.original

            def timed_format(code: str) -> str:
                start = time.perf_counter()
                try:
                    return original(code)
                finally:
                    self.seconds += time.perf_counter() - start

            self.engine.format_code = timed_format
        return self

    def __exit__(self, *exc: object) -> None:
        if self.original is not None:
            self.engine.format_code = self.original

    @property
    def available(self) -> bool:
        return self.original is not None


def in_process(sizes: dict[int, int]) -> list[dict[str, Any]]:
    import torch2tf

    torch2tf.translate_source(mlp_file(2, seed=99))  # warm-up: lazy imports, rule tables
    rows = []
    for n, repeats in sizes.items():
        source = mlp_file(n)
        totals, cpus, formats, out = [], [], [], ""
        for _ in range(repeats):
            with _FormatTimer() as fmt:
                cpu = time.process_time()
                start = time.perf_counter()
                out = torch2tf.translate_source(source)
                totals.append(time.perf_counter() - start)
                cpus.append(time.process_time() - cpu)
            formats.append(fmt.seconds if fmt.available else float("nan"))
        total = median(totals)
        cpu_s = median(cpus)
        fmt_s = median(formats)
        rows.append(
            {
                "classes": n,
                "repeats": repeats,
                "lines_in": len(source.splitlines()),
                "lines_out": len(out.splitlines()),
                "seconds": total,
                "ms_per_class": 1e3 * total / n,
                "cpu_seconds": cpu_s,
                "cpu_ms_per_class": 1e3 * cpu_s / n,
                "format_ms_per_class": 1e3 * fmt_s / n if fmt_s == fmt_s else None,
                "classes_per_s": n / total,
                "all_seconds": totals,
            }
        )
    return rows


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _wall(argv: list[str]) -> tuple[float, float, str]:
    """(wall seconds, CPU seconds of the child, stdout) of one command."""
    cpu = _children_cpu()
    start = time.perf_counter()
    done = subprocess.run(argv, capture_output=True, text=True, env=subprocess_env(), check=False)
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(f"{argv[:3]} failed:\n{done.stderr[-2000:]}")
    return elapsed, _children_cpu() - cpu, done.stdout


def fresh_process(n: int, repeats: int) -> dict[str, Any]:
    python = sys.executable
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"mlps_{n}.py"
        path.write_text(mlp_file(n), encoding="utf-8")
        commands = {
            "import torch": [python, "-c", "import torch"],
            "import torch2tf": [python, "-c", "import torch2tf"],
            f"import torch2tf + translate {n} classes": [python, "-c", FRESH_TRANSLATE, str(path)],
        }
        _wall(commands["import torch"])  # warm the page cache for every command
        _wall(commands["import torch2tf"])
        times: dict[str, list[float]] = {k: [] for k in commands}
        cpu_times: dict[str, list[float]] = {k: [] for k in commands}
        imported: set[str] = set()
        for i in range(repeats):
            keys = list(commands)
            keys = keys[i % len(keys) :] + keys[: i % len(keys)]  # rotate: fair under load
            for key in keys:
                elapsed, cpu, stdout = _wall(commands[key])
                times[key].append(elapsed)
                cpu_times[key].append(cpu)
                if "translate" in key:
                    imported.update(json.loads(stdout.strip().splitlines()[-1])["imported"])
    med = {k: median(v) for k, v in times.items()}
    cpu_med = {k: median(v) for k, v in cpu_times.items()}
    translate_key = f"import torch2tf + translate {n} classes"
    return {
        "classes": n,
        "repeats": repeats,
        "seconds": med,
        "cpu_seconds": cpu_med,
        "all_seconds": times,
        "ratio_vs_import_torch": med[translate_key] / med["import torch"],
        "cpu_ratio_vs_import_torch": cpu_med[translate_key] / cpu_med["import torch"],
        "heavy_modules_after_translate": sorted(imported),
    }


def run(quick: bool) -> dict[str, Any]:
    sizes = {10: 3, 100: 1} if quick else {10: 5, 100: 2, 1000: 1}
    rows = in_process(sizes)
    leaked_in_process = sorted(m for m in HEAVY if m in sys.modules)
    fresh = fresh_process(100, 2 if quick else 3)
    # Marginal cost of a class between consecutive sizes (removes the fixed per-file cost:
    # helper emission, start-up of the formatter); linear growth keeps it constant.
    for previous, row in zip(rows, rows[1:], strict=False):
        added = row["classes"] - previous["classes"]
        row["marginal_ms_per_class"] = 1e3 * (row["seconds"] - previous["seconds"]) / added
        row["marginal_cpu_ms_per_class"] = (
            1e3 * (row["cpu_seconds"] - previous["cpu_seconds"]) / added
        )
    marginal = [r["marginal_cpu_ms_per_class"] for r in rows[1:]]
    return {
        "in_process": rows,
        "heavy_modules_in_process": leaked_in_process,
        "marginal_growth": marginal[-1] / marginal[0] if len(marginal) > 1 else None,
        "fresh_process": fresh,
    }


if __name__ == "__main__":
    section_main(run)
