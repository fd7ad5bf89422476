"""The coverage table in docs/coverage.md, generated from the rule registry.

Regenerate with ``python -m torch2tf.coverage > docs/coverage.md``; a test keeps the two equal.
"""

from __future__ import annotations

import ast
import inspect

from torch2tf import rules
from torch2tf.rules.registry import examples_of
from torch2tf.tensor_facts import CHANNELS_LAST_LAYERS, MAP_FUNCTIONS

_SNIPPET = """\
import math

import torch
import torch.nn.functional as F
from torch import nn


class M(nn.Module):
    def __init__(self):
        super().__init__()
        {stem}
        self.layer = {layer}
        {init}

    def forward(self, x, y):
        {prelude}
        return {forward}
"""


_EINOPS_IMPORTS = (
    "from einops import rearrange, reduce, repeat\n"
    "from einops.layers.torch import Rearrange, Reduce\n"
)

_SCRIPT = """\
import torch
import torch.nn.functional as F
from torch import nn

model = nn.Linear(4, 3)
{before}
"""


def translated_example(kind: str, before: str, torch_name: str = "") -> str:
    """The Keras source torch2tf makes of one rule example (see ``registry.Example``).

    ``kind`` is ``layer``, ``function``, ``method`` or ``initializer``. For a layer, the
    constructor it becomes without its ``name=``; for a function or method, the expression
    ``forward`` returns; for an initialiser, the Keras initializer it gives ``self.layer``.
    A layer that exists only on feature maps (``torch_name`` says which) gets a conv's, and
    so does ``x`` in a function example that needs a map (``F.max_pool2d``). A function
    example that is a statement is read as a line of a training script.
    """
    from torch2tf.translate import translate_source

    if kind in ("function", "method") and not isinstance(ast.parse(before).body[0], ast.Expr):
        return _script_example(before)
    layer, init, forward, stem = "nn.Linear(4, 3)", "pass", "self.layer(x)", "pass"
    if torch_name in CHANNELS_LAST_LAYERS and "Conv" not in torch_name:
        dims = torch_name[-2:] if torch_name[-2:] in ("1d", "2d", "3d") else "2d"
        stem = f"self.stem = nn.Conv{dims}(16, 16, 1)"  # e.g. MaxPool2d -> Conv2d
        forward = "self.layer(self.stem(x))"
    prelude = "pass"
    if kind == "function" and torch_name in MAP_FUNCTIONS:  # x is a feature map: a conv's
        dims = {3: "1d", 4: "2d", 5: "3d"}.get(MAP_FUNCTIONS[torch_name] or 4)
        stem, prelude = f"self.stem = nn.Conv{dims}(16, 16, 1)", "x = self.stem(x)"
    if kind == "layer":
        layer = before
    elif kind == "initializer":
        init = before
    else:
        forward = before
    snippet = _SNIPPET
    if torch_name.startswith("einops."):  # another package's names, imported as usual
        snippet = _EINOPS_IMPORTS + snippet
    code = translate_source(
        snippet.format(stem=stem, layer=layer, init=init, prelude=prelude, forward=forward)
    )
    if kind in ("function", "method"):
        returned = next(n for n in ast.walk(_method(code, "call")) if isinstance(n, ast.Return))
        return ast.unparse(returned.value)
    built = _built_layer(code)
    if kind == "layer":
        return ast.unparse(built)
    plain = _built_layer(
        translate_source(
            _SNIPPET.format(stem=stem, layer=layer, init="pass", prelude=prelude, forward=forward)
        )
    )
    defaults = {ast.unparse(k) for k in plain.keywords}
    made = [k for k in built.keywords if ast.unparse(k) not in defaults]
    return "; ".join(ast.unparse(k) for k in made)


def _script_example(before: str) -> str:
    """A statement of a training script (``opt = torch.optim.Adam(...)``) after
    ``model = nn.Linear(4, 3)``: the statements it becomes, helpers left out."""
    from torch2tf.translate import translate_source

    code = translate_source(_SCRIPT.format(before=before))
    kept = [
        node
        for node in ast.parse(code).body
        if not isinstance(node, (ast.Import, ast.ImportFrom, ast.ClassDef, ast.FunctionDef))
    ]
    return "\n".join(ast.unparse(node) for node in kept[1:])  # after the model


def _method(code: str, name: str) -> ast.FunctionDef:
    model = next(n for n in ast.parse(code).body if isinstance(n, ast.ClassDef) and n.name == "M")
    return next(f for f in model.body if isinstance(f, ast.FunctionDef) and f.name == name)


def _built_layer(code: str) -> ast.expr:
    """What ``self.layer`` is built as in the generated ``__init__``, without its ``name=``."""
    built = next(
        n.value
        for n in ast.walk(_method(code, "__init__"))
        if isinstance(n, ast.Assign) and ast.unparse(n.targets[0]) == "self.layer"
    )
    if isinstance(built, ast.Call):
        built.keywords = [k for k in built.keywords if k.arg != "name"]
    return built


def _example_cell(rule: object) -> str:
    found = examples_of(rule)
    if not found:
        return ""
    before, after = found[0]
    if "\n" in before or "\n" in after:  # a training step: shown whole, after the tables
        return "[a training step](#training-steps)"
    return f"`{before}` → `{after}`".replace("|", "\\|")


def _training_steps(names: list[tuple[str, object]]) -> list[str]:
    """The examples too long for a table cell (training loops), as code blocks."""
    lines = ["## Training steps", ""]
    for name, rule in names:
        for before, after in examples_of(rule):
            if "\n" in before or "\n" in after:
                lines += [f"`{name}`:", "", "```python", before, "```", "", "becomes", ""]
                lines += ["```python", after, "```", ""]
    return lines


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
        lines += [
            f"## {title} ({len(registry)})",
            "",
            "| torch | translation | example |",
            "|---|---|---|",
        ]
        for name in sorted(registry):
            text = _first_line(registry[name]).replace("|", "\\|")
            lines.append(f"| `{name}` | {text} | {_example_cell(registry[name])} |")
        lines.append("")
    lines += _training_steps(sorted(rules.FUNCTIONS.items()))
    return "\n".join(lines)


if __name__ == "__main__":
    print(markdown(), end="")
