"""Whole-file golden cases: tests/cases/NAME.py holds torch source, a `# output` line, and
the expected TensorFlow source. Regenerate with TORCH2TF_UPDATE_GOLDEN=1 and review the diff."""

import os
from pathlib import Path

import pytest

from torch2tf import translate_source

CASES = sorted((Path(__file__).parent / "cases").glob("*.py"))
MARKER = "\n# output\n"


@pytest.mark.parametrize("case", CASES, ids=[c.stem for c in CASES])
def test_golden(case: Path) -> None:
    text = case.read_text(encoding="utf-8")
    source, _, expected = text.partition(MARKER)
    actual = translate_source(source, case.name)
    if os.environ.get("TORCH2TF_UPDATE_GOLDEN"):
        case.write_text(source + MARKER + actual, encoding="utf-8")
        expected = actual
    assert actual == expected


def test_cases_exist() -> None:
    assert len(CASES) >= 3
