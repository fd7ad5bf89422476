"""The coverage table in docs/coverage.md, generated from the rule registry.

Regenerate with ``python -m torch2tf.coverage > docs/coverage.md``; a test keeps the two equal.
"""

from __future__ import annotations

import inspect

from torch2tf import rules


def _first_line(obj: object) -> str:
    doc = inspect.getdoc(obj) or ""
    return doc.splitlines()[0] if doc else ""


def markdown() -> str:
    """Every translated torch name with the one line saying how, as Markdown tables."""
    lines = [
        "# What torch2tf translates",
        "",
        "Generated from the rule registry by `python -m torch2tf.coverage`; anything else that",
        "refers to torch is reported as a diagnostic with its position, never guessed.",
        "",
    ]
    sections = [
        ("Layers", rules.LAYERS),
        ("Initialisers (`torch.nn.init`)", rules.INITIALIZERS),
        ("Functions", rules.FUNCTIONS),
        ("Tensor methods", {f"Tensor.{k}": v for k, v in rules.METHODS.items()}),
    ]
    for title, registry in sections:
        if not registry:
            continue
        lines += [f"## {title} ({len(registry)})", "", "| torch | translation |", "|---|---|"]
        for name in sorted(registry):
            text = _first_line(registry[name]).replace("|", "\\|")
            lines.append(f"| `{name}` | {text} |")
        lines.append("")
    return "\n".join(lines)


if __name__ == "__main__":
    print(markdown(), end="")
