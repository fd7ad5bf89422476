"""Run the torch2tf benchmarks, print tables, write JSON.

    python benchmarks/run.py            # full run (a few minutes), writes results/latest.json
    python benchmarks/run.py --quick    # smoke run (about a minute), writes results/quick.json

Each section runs in a fresh subprocess (``bench_<section>.py``), so that no section sees another's
imports, threads or memory. See benchmarks/README.md for what each one measures.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_attention  # noqa: E402
import bench_cnn  # noqa: E402
import bench_rnn as rnn_section  # noqa: E402  (its tables and targets; numpy only)
from common import (  # noqa: E402
    BENCHMARKS,
    git_commit,
    load_average,
    machine,
    subprocess_env,
    table,
    write_json,
)

SECTIONS = ("translate", "package", "convert", "inference", "memory", "rnn")
RESULTS = BENCHMARKS / "results"
README = BENCHMARKS / "README.md"
FIGURES_BEGIN = "<!-- figures: written by benchmarks/run.py -->"
FIGURES_END = "<!-- end of figures -->"

# Targets of the benchmark issue.
MAX_FRESH_TRANSLATE_OVER_IMPORT_TORCH = 2.0
MAX_CONVERTED_OVER_HAND = 1.05
MAX_PEAK_EXTRA_OVER_WEIGHTS = 2.5
MAX_MARGINAL_GROWTH = 1.25  # marginal ms/class, 1,000-class file over 100-class file
MAX_NS_PER_PARAM_GROWTH = 1.5  # transfer ns/parameter, largest model over smallest


def run_section(name: str, quick: bool, threads: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / f"{name}.json"
        argv = [sys.executable, str(BENCHMARKS / f"bench_{name}.py"), "--json", str(out)]
        if quick:
            argv.append("--quick")
        env = {**subprocess_env(), "TORCH2TF_BENCH_THREADS": str(threads)}
        start = time.perf_counter()
        done = subprocess.run(argv, capture_output=True, text=True, env=env, check=False)
        elapsed = time.perf_counter() - start
        if done.returncode != 0 or not out.exists():
            sys.stderr.write(done.stdout[-3000:] + done.stderr[-6000:])
            raise SystemExit(f"benchmark section {name!r} failed (exit {done.returncode})")
        result = json.loads(out.read_text(encoding="utf-8"))
    result["section_seconds"] = elapsed
    return result


# --------------------------------------------------------------------------- tables


def translate_tables(r: dict[str, Any]) -> list[tuple[str, str, list, list]]:
    rows = [
        [
            x["classes"],
            x["lines_in"],
            x["repeats"],
            x["seconds"],
            x["ms_per_class"],
            x["cpu_ms_per_class"],
            x.get("marginal_cpu_ms_per_class"),
            x["format_ms_per_class"],
        ]
        for x in r["in_process"]
    ]
    fresh = r["fresh_process"]
    fresh_rows = [
        [cmd, fresh["seconds"][cmd], fresh["cpu_seconds"][cmd]] for cmd in fresh["seconds"]
    ]
    return [
        (
            "translate (in process, after warm-up)",
            "translate",
            [
                "classes",
                "lines",
                "runs",
                "median s",
                "ms/class",
                "CPU ms/class",
                "marginal CPU ms/class",
                "of which formatting ms/class",
            ],
            rows,
        ),
        (
            f"translate in a fresh process (median of {fresh['repeats']})",
            "translate_fresh",
            ["python -c ...", "wall s", "CPU s"],
            fresh_rows,
        ),
    ]


def convert_tables(r: dict[str, Any]) -> list[tuple[str, str, list, list]]:
    rows = [
        [
            x["model"],
            x["parameters"],
            x["first_call_s"],
            x["median_s"],
            x["translate_ms"],
            x["passed"],
            x["max_abs_error"],
        ]
        for x in r["models"]
    ]
    headers = ["model", "params", "first call s", "median s", "translate ms", "passed", "max err"]
    return [(f"convert (median of {r['repeats']}, after imports)", "convert", headers, rows)]


def inference_tables(r: dict[str, Any]) -> list[tuple[str, str, list, list]]:
    rows = [
        [
            x["model"],
            x["batch"],
            x["mode"],
            x["converted_us"],
            x["hand_us"],
            x["converted_over_hand_cpu"],
            x["converted_over_hand_wall"],
            x.get("hand_again_over_hand_cpu", "-"),
            x["torch_eager_us"],
            x["converted_over_torch_cpu"],
        ]
        for x in r["rows"]
    ]
    headers = [
        "model",
        "batch",
        "mode",
        "converted us",
        "hand us",
        "conv/hand CPU",
        "conv/hand wall",
        "hand again/hand CPU",
        "torch eager us",
        "conv/torch CPU",
    ]
    diag = r["batchnorm_diagnosis"]
    diag_rows = [
        [
            key,
            diag["graph_ops"][key],
            diag["eager"][key]["cpu_us"],
            diag["eager"][key]["over_keras_cpu"],
            diag["tf.function"][key]["cpu_us"],
            diag["tf.function"][key]["over_keras_cpu"],
        ]
        for key in diag["graph_ops"]
    ]
    diag_headers = ["layer", "graph ops", "eager CPU us", "ratio", "tf.function CPU us", "ratio"]
    ops = r.get("graph_ops", {})
    counts = sorted({x["calls"] for x in r["rows"] if "calls" in x})
    calls = (
        f"{counts[0]}-{counts[-1]} calls alternating with the others"
        if counts
        else f"{r['repeats']} blocks"
    )
    ops_rows = [[model, n["converted"], n["hand"]] for model, n in ops.items()]
    threads = r["threads"]["setting"] or "framework defaults"
    xla = "" if r["xla"]["available"] else f"; XLA skipped: {r['xla']['note']}"
    return [
        (
            f"converted vs hand-written Keras vs torch eager (wall us per call, median of "
            f"{calls}; threads: {threads}{xla})",
            "inference",
            headers,
            rows,
        ),
        (
            "ops in the tf.function graph of the whole model",
            "graph_ops",
            ["model", "converted", "hand-written"],
            ops_rows,
        ),
        (
            "one BatchNorm1d layer, batch 32 x 512, inference (CPU us per call)",
            "batchnorm",
            diag_headers,
            diag_rows,
        ),
    ]


def memory_tables(r: dict[str, Any]) -> list[tuple[str, str, list, list]]:
    rows = [
        [
            x["width"],
            x["parameters"],
            x["weight_bytes"] / 2**20,
            x["median_transfer_s"],
            x["cpu_ns_per_parameter"],
            x["peak_extra_rss_bytes"] / 2**20,
            x["peak_extra_over_weights"],
            x["tracemalloc_peak_bytes"] / 2**20,
            x["exact"],
        ]
        for x in r["rows"]
    ]
    headers = [
        "width",
        "params",
        "weights MiB",
        "transfer s",
        "CPU ns/param",
        "peak extra RSS MiB",
        "x weights",
        "tracemalloc MiB",
        "exact",
    ]
    return [
        (
            f"transfer_weights, {r['depth']} Linear layers (median of {r['repeats']})",
            "memory",
            headers,
            rows,
        )
    ]


def package_tables(r: dict[str, Any]) -> list[tuple[str, str, list, list]]:
    rows = [[cmd, r["seconds"][cmd], r["cpu_seconds"][cmd]] for cmd in r["seconds"]]
    return [
        (
            f"one class of a {r['lines_in']}-line module in site-packages, fresh process "
            f"(median of {r['repeats']}; {r['lines_out']} lines out)",
            "package",
            ["command", "wall s", "CPU s"],
            rows,
        )
    ]


TABLES = {
    "translate": translate_tables,
    "package": package_tables,
    "convert": convert_tables,
    "inference": inference_tables,
    "memory": memory_tables,
    "rnn": rnn_section.tables,
}

# Issue 13's figure: the section keeps its tables and targets beside its measurement.
SECTIONS += ("attention",)
TABLES["attention"] = bench_attention.tables
# Issue 11's figure: converted torchvision CNNs against keras.applications.
SECTIONS += ("cnn",)
TABLES["cnn"] = bench_cnn.tables


# --------------------------------------------------------------------------- targets


def targets(sections: dict[str, Any]) -> list[dict[str, Any]]:
    """Each target of the issue: the figure, the bound, met or not; ``hard`` ones fail the run."""
    found = []

    def add(name: str, figure: str, bound: str, met: bool, hard: bool = False) -> None:
        found.append({"target": name, "figure": figure, "bound": bound, "met": met, "hard": hard})

    if "translate" in sections:
        t = sections["translate"]
        leaked = sorted(
            set(t["heavy_modules_in_process"])
            | set(t["fresh_process"]["heavy_modules_after_translate"])
        )
        add(
            "translate imports none of tensorflow, torch, numpy",
            f"in sys.modules after translating: {', '.join(leaked) or 'none'}",
            "none",
            not leaked,
            hard=True,
        )
        fresh = t["fresh_process"]
        add(
            "fresh translate of 100 classes vs `import torch` (wall)",
            f"{fresh['ratio_vs_import_torch']:.2f}x "
            f"(CPU time {fresh['cpu_ratio_vs_import_torch']:.2f}x)",
            f"<= {MAX_FRESH_TRANSLATE_OVER_IMPORT_TORCH:g}x",
            fresh["ratio_vs_import_torch"] <= MAX_FRESH_TRANSLATE_OVER_IMPORT_TORCH,
        )
        growth = t["marginal_growth"]
        if growth is not None:
            rows = t["in_process"]
            add(
                "translate cost linear in classes (marginal CPU ms/class, last vs first step)",
                f"{rows[1]['marginal_cpu_ms_per_class']:.1f} -> "
                f"{rows[-1]['marginal_cpu_ms_per_class']:.1f} ms/class ({growth:.2f}x)",
                f"<= {MAX_MARGINAL_GROWTH:g}x",
                growth <= MAX_MARGINAL_GROWTH,
            )
    if "package" in sections:
        pkg = sections["package"]
        outside = pkg["files_read_outside_package"] + pkg["heavy_modules_after_translate"]
        add(
            "translating one class in site-packages reads nothing outside its package",
            f"files read or heavy modules imported: {', '.join(outside) or 'none'}",
            "none",
            not outside,
            hard=True,
        )
        add(
            f"one class of a {pkg['lines_in']}-line module in site-packages vs `import torch` "
            "(wall)",
            f"{pkg['ratio_vs_import_torch']:.2f}x "
            f"(CPU time {pkg['cpu_ratio_vs_import_torch']:.2f}x)",
            f"<= {MAX_FRESH_TRANSLATE_OVER_IMPORT_TORCH:g}x",
            pkg["ratio_vs_import_torch"] <= MAX_FRESH_TRANSLATE_OVER_IMPORT_TORCH,
        )
    if "convert" in sections:
        models = sections["convert"]["models"]
        add(
            "convert verifies the seed models",
            ", ".join(f"{m['model']} {m['max_abs_error']:.1e}" for m in models),
            "passed",
            all(m["passed"] for m in models),
            hard=True,
        )
    if "inference" in sections:
        rows = sections["inference"]["rows"]
        checks = sections["inference"]["output_checks"]
        add(
            "converted and hand-written outputs identical",
            f"max diff {max(c['converted_vs_hand'] for c in checks):.1e}",
            "0",
            all(c["converted_vs_hand"] == 0 for c in checks),
            hard=True,
        )
        for mode in dict.fromkeys(r["mode"] for r in rows):
            in_mode = [r for r in rows if r["mode"] == mode]
            ratios = sorted(r["converted_over_hand_cpu"] for r in in_mode)
            worst = max(in_mode, key=lambda r: r["converted_over_hand_cpu"])
            floor = max((r.get("hand_again_over_hand_cpu", 1.0) for r in in_mode), default=1.0)
            add(
                f"converted within 5% of hand-written, {mode} (CPU time, every model and batch)",
                f"median {ratios[len(ratios) // 2]:.3f}x, worst "
                f"{worst['converted_over_hand_cpu']:.3f}x ({worst['model']}, "
                f"batch {worst['batch']}); same model twice: worst {floor:.3f}x",
                f"worst <= {MAX_CONVERTED_OVER_HAND:g}x",
                worst["converted_over_hand_cpu"] <= MAX_CONVERTED_OVER_HAND,
            )
    if "memory" in sections:
        rows = sections["memory"]["rows"]
        big = rows[-1]
        add(
            f"peak extra memory of transfer_weights ({big['weight_bytes'] / 2**20:.0f} MiB)",
            f"{big['peak_extra_over_weights']:.2f}x the weights "
            f"({big['peak_extra_rss_bytes'] / 2**20:.0f} MiB)",
            f"<= {MAX_PEAK_EXTRA_OVER_WEIGHTS:g}x",
            big["peak_extra_over_weights"] <= MAX_PEAK_EXTRA_OVER_WEIGHTS,
        )
        ns = [r["cpu_ns_per_parameter"] for r in rows]
        growth = ns[-1] / ns[0]
        add(
            "transfer time linear in parameters (CPU ns/param, largest vs smallest)",
            " -> ".join(f"{x:.1f}" for x in ns) + f" ns/param ({growth:.2f}x)",
            f"<= {MAX_NS_PER_PARAM_GROWTH:g}x",
            growth <= MAX_NS_PER_PARAM_GROWTH,
        )
    if "rnn" in sections:
        found += rnn_section.targets(sections["rnn"])
    if "attention" in sections:
        found += bench_attention.targets(sections["attention"])
    if "cnn" in sections:
        found += bench_cnn.targets(sections["cnn"])
    return found


def target_table(found: list[dict[str, Any]]) -> tuple[list, list]:
    return (
        ["target", "figure", "bound", "met"],
        [[t["target"], t["figure"], t["bound"], t["met"]] for t in found],
    )


def machine_line(meta: dict[str, Any]) -> str:
    return (
        f"{meta['cpu']}, {meta['cores']} cores, {meta.get('memory_gib', '?')} GiB; "
        f"Python {meta['python']}, torch {meta.get('torch')}, TensorFlow "
        f"{meta.get('tensorflow')}, Keras {meta.get('keras')}; load average at start "
        f"{meta['load_average_1_5_15min']}"
    )


def markdown(result: dict[str, Any]) -> str:
    """The figures as markdown: machine, targets, then one table per benchmark."""
    meta = result["machine"]
    parts = [
        f"Measured {result['finished'][:10]} at commit `{result['commit']}` with "
        f"`{result['command']}` ({result['duration_s']:.0f} s). {machine_line(meta)}.",
        "",
        table(*target_table(result["targets"]), markdown=True),
    ]
    for name, section in result["sections"].items():
        for title, _, headers, rows in TABLES[name](section):
            parts += ["", f"**{title}**", "", table(headers, rows, markdown=True)]
    return "\n".join(parts) + "\n"


def update_readme(figures: str) -> None:
    """Replace the figures section of benchmarks/README.md (full default runs only)."""
    if not README.exists():
        return
    text = README.read_text(encoding="utf-8")
    begin, end = text.find(FIGURES_BEGIN), text.find(FIGURES_END)
    if begin < 0 or end < begin:
        return
    text = text[: begin + len(FIGURES_BEGIN)] + "\n" + figures + text[end:]
    README.write_text(text, encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes, fewer repeats")
    parser.add_argument(
        "--only", default=",".join(SECTIONS), help=f"comma-separated subset of {SECTIONS}"
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=int(os.environ.get("TORCH2TF_BENCH_THREADS", "1")),
        help="torch and TensorFlow threads in the timed sections (0: framework defaults)",
    )
    parser.add_argument("--out", help="JSON output (default results/latest.json or quick.json)")
    args = parser.parse_args(argv)
    chosen = [s.strip() for s in args.only.split(",") if s.strip()]
    unknown = set(chosen) - set(SECTIONS)
    if unknown:
        parser.error(f"unknown sections {sorted(unknown)}; choose from {SECTIONS}")
    out = Path(args.out) if args.out else RESULTS / ("quick.json" if args.quick else "latest.json")

    meta = machine()
    command = ["python benchmarks/run.py"]
    if args.quick:
        command.append("--quick")
    if chosen != list(SECTIONS):
        command.append(f"--only {','.join(chosen)}")
    if args.threads != 1:
        command.append(f"--threads {args.threads}")
    command = " ".join(command)
    print(f"torch2tf benchmarks{' (quick)' if args.quick else ''}: {machine_line(meta)}")
    started = datetime.now(timezone.utc)
    start = time.perf_counter()
    sections: dict[str, Any] = {}
    for name in chosen:
        print(f"\n== {name} ...", flush=True)
        sections[name] = run_section(name, args.quick, args.threads)
        for title, _, headers, rows in TABLES[name](sections[name]):
            print(f"\n{title}\n{table(headers, rows)}")
        print(f"({sections[name]['section_seconds']:.0f} s)", flush=True)
    found = targets(sections)
    meta["load_average_at_end"] = load_average()
    result = {
        "command": command,
        "quick": args.quick,
        "commit": git_commit(),
        "started": started.isoformat(timespec="seconds"),
        "finished": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "duration_s": time.perf_counter() - start,
        "machine": meta,
        "targets": found,
        "sections": sections,
    }
    write_json(out, result)
    figures = markdown(result)
    out.with_suffix(".md").write_text(figures, encoding="utf-8")
    if out == RESULTS / "latest.json" and chosen == list(SECTIONS):
        update_readme(figures)
    print(f"\n== targets\n{table(*target_table(found))}")
    print(f"\nwrote {out} and {out.with_suffix('.md')} ({result['duration_s']:.0f} s)")
    failed = [t["target"] for t in found if t["hard"] and not t["met"]]
    if failed:
        print("FAILED: " + "; ".join(failed), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
