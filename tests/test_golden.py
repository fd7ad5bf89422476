"""Whole-file golden cases, regenerated with TORCH2TF_UPDATE_GOLDEN=1 (then review the diff).

- ``tests/cases/NAME.py``: torch source, a ``# output`` line, and what torch2tf makes of it: the
  TensorFlow source or, when the source cannot be translated, its diagnostics as ``# `` lines.
  A source whose first line is ``# torch2tf: --allow-partial`` is translated as that option
  does: the partial output, then its problems as ``# `` lines.
- ``tests/golden/<folder>/NAME.py``: the TensorFlow source of ``tests/models/NAME.py`` and
  ``examples/NAME.py``, the files the other tests convert and the README shows.
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from torch2tf import TranslationError, translate_file, translate_source
from torch2tf.diagnostics import translate_partial

HERE = Path(__file__).parent
CASES = sorted((HERE / "cases").glob("*.py"))
FILES = sorted((HERE / "models").glob("*.py")) + sorted((HERE.parent / "examples").glob("*.py"))
GOLDEN = HERE / "golden"
MARKER = "\n# output\n"
PARTIAL = "# torch2tf: --allow-partial\n"
UPDATE = bool(os.environ.get("TORCH2TF_UPDATE_GOLDEN"))


def _as_comments(text: str) -> str:
    return "".join(f"# {line}".rstrip() + "\n" for line in text.splitlines())


def _case_output(source: str, name: str) -> str:
    if source.startswith(PARTIAL):
        code, problems = translate_partial(source, name)
        return code + "\n" + _as_comments("\n".join(map(str, problems)))
    try:
        return translate_source(source, name)
    except TranslationError as err:
        return _as_comments(str(err))


@pytest.mark.parametrize("case", CASES, ids=[c.stem for c in CASES])
def test_golden_case(case: Path) -> None:
    source, found, expected = case.read_text(encoding="utf-8").partition(MARKER)
    assert found, f"{case}: no `# output` line"
    actual = _case_output(source, case.name)
    if UPDATE:
        case.write_text(source + MARKER + actual, encoding="utf-8")
        expected = actual
    assert actual == expected


@pytest.mark.parametrize("path", FILES, ids=[f"{f.parent.name}/{f.stem}" for f in FILES])
def test_golden_file(path: Path) -> None:
    golden = GOLDEN / path.parent.name / path.name
    actual = translate_file(path)
    if UPDATE:
        golden.parent.mkdir(parents=True, exist_ok=True)
        golden.write_text(actual, encoding="utf-8")
    assert golden.exists(), f"no golden output {golden}: run with TORCH2TF_UPDATE_GOLDEN=1"
    assert actual == golden.read_text(encoding="utf-8")


def test_every_kind_of_case_exists() -> None:
    texts = [c.read_text(encoding="utf-8").partition(MARKER) for c in CASES]
    assert any(source.startswith(PARTIAL) for source, _, _ in texts)
    assert any(output.startswith("# ") and "error:" in output for _, _, output in texts)
    assert len(CASES) + len(FILES) >= 25
    assert not [g for g in GOLDEN.rglob("*.py") if not _has_source(g)], "stale golden files"


def _has_source(golden: Path) -> bool:
    folder = HERE / "models" if golden.parent.name == "models" else HERE.parent / "examples"
    return (folder / golden.name).exists()


def test_golden_outputs_pass_ruff(tmp_path: Path) -> None:
    """Generated code passes ruff's default rules and import sorting. Partial output is left
    out: a stubbed statement can leave the value it used unread."""
    for case in CASES:
        source, _, output = case.read_text(encoding="utf-8").partition(MARKER)
        if not source.startswith(PARTIAL):
            (tmp_path / case.name).write_text(output)
    for golden in GOLDEN.rglob("*.py"):
        (tmp_path / f"{golden.parent.name}_{golden.name}").write_text(golden.read_text())
    command = [sys.executable, "-m", "ruff", "check", "--isolated", "--select", "E4,E7,E9,F,I", "."]
    done = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout
