"""Fuzzing: bad input gives a string or a TranslationError, never any other exception.

Inputs are mutations of the bundled example (lines deleted, duplicated or dedented; tokens
swapped or inserted; stretches cut out; random text spliced in) and plain random text.
Bounded: a few hundred examples in all, well under a minute.
"""

import io
import tokenize

from conftest import EXAMPLES
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from torch2tf import TranslationError, translate_source
from torch2tf.diagnostics import translate_partial

SEED = (EXAMPLES / "seed_mlps.py").read_text()
LINES = SEED.splitlines(keepends=True)
TOKENS = sorted(
    {t.string for t in tokenize.generate_tokens(io.StringIO(SEED).readline) if t.string.strip()}
)
PRINTABLE = st.characters(min_codepoint=32, max_codepoint=126) | st.sampled_from("\n\t")
FUZZ = settings(
    max_examples=100,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@st.composite
def mutated(draw) -> str:
    lines = list(LINES)
    for _ in range(draw(st.integers(1, 4))):
        if not lines:
            lines = [""]
        i = draw(st.integers(0, len(lines) - 1))
        kind = draw(
            st.sampled_from(["delete", "duplicate", "swap", "insert", "dedent", "cut", "text"])
        )
        if kind == "delete":
            del lines[i]
        elif kind == "duplicate":
            lines.insert(draw(st.integers(0, len(lines))), lines[i])
        elif kind == "swap":
            old, new = draw(st.sampled_from(TOKENS)), draw(st.sampled_from(TOKENS))
            lines[i] = lines[i].replace(old, new, 1)
        elif kind == "insert":
            at = draw(st.integers(0, len(lines[i])))
            lines[i] = lines[i][:at] + draw(st.sampled_from(TOKENS)) + lines[i][at:]
        elif kind == "dedent":
            lines[i] = lines[i].replace("    ", "", 1)
        else:
            text = "".join(lines)
            at = draw(st.integers(0, len(text)))
            if kind == "cut":
                text = text[:at] + text[at + draw(st.integers(1, 40)) :]
            else:
                text = text[:at] + draw(st.text(PRINTABLE, max_size=30)) + text[at:]
            lines = text.splitlines(keepends=True)
    return "".join(lines)


def translates_or_reports(translate, source: str) -> None:
    try:
        result = translate(source, "fuzz.py")
    except TranslationError as err:
        assert err.diagnostics, "a TranslationError lists at least one diagnostic"
        for diagnostic in err.diagnostics:
            assert diagnostic.path == "fuzz.py" and diagnostic.line >= 1
        return
    code = result[0] if isinstance(result, tuple) else result
    assert isinstance(code, str)
    compile(code, "generated.py", "exec")  # what is written is Python


@FUZZ
@given(mutated())
def test_mutated_example(source):
    translates_or_reports(translate_source, source)


@settings(FUZZ, max_examples=40)
@given(mutated())
def test_mutated_example_partial(source):
    translates_or_reports(translate_partial, source)


@settings(FUZZ, max_examples=60)
@given(st.text(PRINTABLE, max_size=200) | st.text(max_size=50))
def test_random_text(source):
    translates_or_reports(translate_source, source)
    translates_or_reports(translate_partial, source)
