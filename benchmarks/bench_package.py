"""One class of a ~900-line model module sitting in site-packages, next to the real torch.

The module (``generate.package_file``) holds 24 block classes, a model using four of them, and
what installed modules carry besides (a logger, a device check, an optimizer factory, classes
with convolution and LSTM layers, a ``main``). It is placed as ``shop/models.py`` in a
temporary site-packages folder that also holds a link to the installed torch package, so that
a translator treating site-packages as the project would read all of torch.

Fresh process: wall and CPU time of ``translate_file(path, classes=["Model"])`` (what
``translate --class Model`` and the static half of ``convert`` do) against a bare
``python -c "import torch"``; the child also reports how many files it opened outside ``shop``
(audit hook) and whether it imported torch or TensorFlow.
"""

from __future__ import annotations

import importlib.util
import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

from bench_translate import HEAVY, _wall
from common import median, section_main
from generate import package_file

FRESH = f"""
import json, sys
opened = []
sys.addaudithook(lambda e, a: e == "open" and opened.append(str(a[0])))
from torch2tf.translate import translate_file
out = translate_file(sys.argv[1], classes=["Model"])
site = sys.argv[2]
outside = sorted({{f for f in opened if f.startswith(site) and "/shop/" not in f}})
imported = sorted(m for m in {HEAVY!r} if m in sys.modules)
print(json.dumps({{"lines_out": len(out.splitlines()), "outside": outside, "imported": imported}}))
"""


def run(quick: bool) -> dict[str, Any]:
    repeats = 2 if quick else 5
    python = sys.executable
    torch_dir = Path(importlib.util.find_spec("torch").origin).parent  # found, not imported
    with tempfile.TemporaryDirectory() as tmp:
        site = Path(tmp) / "site-packages"
        (site / "shop").mkdir(parents=True)
        os.symlink(torch_dir, site / "torch")
        (site / "shop" / "__init__.py").write_text('"""shop."""\n', encoding="utf-8")
        source = package_file()
        path = site / "shop" / "models.py"
        path.write_text(source, encoding="utf-8")
        commands = {
            "import torch": [python, "-c", "import torch"],
            "translate --class Model": [python, "-c", FRESH, str(path), str(site)],
        }
        for argv in commands.values():  # warm the page cache
            _wall(argv)
        times: dict[str, list[float]] = {k: [] for k in commands}
        cpu: dict[str, list[float]] = {k: [] for k in commands}
        report: dict[str, Any] = {}
        for i in range(repeats):
            keys = list(commands)
            keys = keys[i % len(keys) :] + keys[: i % len(keys)]  # rotate: fair under load
            for key in keys:
                elapsed, cpu_s, stdout = _wall(commands[key])
                times[key].append(elapsed)
                cpu[key].append(cpu_s)
                if key != "import torch":
                    report = json.loads(stdout.strip().splitlines()[-1])
    med = {k: median(v) for k, v in times.items()}
    cpu_med = {k: median(v) for k, v in cpu.items()}
    key = "translate --class Model"
    return {
        "lines_in": len(source.splitlines()),
        "lines_out": report["lines_out"],
        "repeats": repeats,
        "seconds": med,
        "cpu_seconds": cpu_med,
        "all_seconds": times,
        "ratio_vs_import_torch": med[key] / med["import torch"],
        "cpu_ratio_vs_import_torch": cpu_med[key] / cpu_med["import torch"],
        "files_read_outside_package": report["outside"],
        "heavy_modules_after_translate": report["imported"],
    }


if __name__ == "__main__":
    section_main(run)
