"""Every rule's before/after examples (``examples`` beside the rule) translate as they say, and
every layer and initializer rule has one; docs/coverage.md shows them."""

import ast
import inspect

import pytest

from torch2tf import rules
from torch2tf.coverage import translated_example
from torch2tf.rules.registry import examples_of

KINDS = {
    "layer": rules.LAYERS,
    "initializer": rules.INITIALIZERS,
    "function": rules.FUNCTIONS,
    "method": rules.METHODS,
}
EXAMPLES = [
    (kind, name, before, after)
    for kind, registry in KINDS.items()
    for name, rule in sorted(registry.items())
    for before, after in examples_of(rule)
]


def _normal(source: str) -> str:
    """One spelling per statement: quotes and line breaks as ``ast.unparse`` writes them."""
    try:
        return "\n".join(ast.unparse(node) for node in ast.parse(source).body)
    except SyntaxError:  # keyword arguments of an initializer example, "; "-separated
        return "; ".join(ast.unparse(ast.parse(part)) for part in source.split("; "))


@pytest.mark.parametrize(
    ("kind", "name", "before", "after"), EXAMPLES, ids=[f"{e[1]}:{e[2]}" for e in EXAMPLES]
)
def test_example_translates_as_it_says(kind: str, name: str, before: str, after: str) -> None:
    assert _normal(translated_example(kind, before, name)) == _normal(after)


# Rules for torch classes no source names: built inside another layer, met only in live models.
LIVE_ONLY = {"torch.nn.modules.linear.NonDynamicallyQuantizableLinear"}  # MultiheadAttention's


@pytest.mark.parametrize("kind", list(KINDS))
def test_every_rule_has_an_example(kind: str) -> None:
    rules_ = KINDS[kind].items()
    missing = [name for name, rule in rules_ if not examples_of(rule) and name not in LIVE_ONLY]
    assert not missing, f"{kind} rules without examples: {missing}"


def test_readme_worked_example_is_the_rule_as_it_is() -> None:
    from conftest import ROOT

    from torch2tf.rules.activations import ReLU6

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("### Adding a layer rule", 1)[1]
    shown = section.split("```python\n", 1)[1].split("```", 1)[0]
    assert ast.dump(ast.parse(shown)) == ast.dump(ast.parse(inspect.getsource(ReLU6)))
