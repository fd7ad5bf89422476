"""docs/coverage.md is generated from the rule registry and must stay in step with it."""

from conftest import ROOT

from torch2tf.coverage import markdown


def test_coverage_table_is_up_to_date():
    committed = (ROOT / "docs" / "coverage.md").read_text(encoding="utf-8")
    assert committed == markdown(), "regenerate: python -m torch2tf.coverage > docs/coverage.md"


def test_every_rule_explains_itself():
    rows = [line for line in markdown().splitlines() if line.startswith("| `")]
    assert len(rows) > 50
    silent = [r for r in rows if r.split(" | ")[1].strip() == ""]  # the translation column
    assert not silent, silent
