"""Diagnostics: what could not be translated exactly, and where; partial output on request.

Everything here is static, like the engine: the input is parsed, never imported or executed.

``foreign_layers`` (from :mod:`torch2tf.foreign`) names layers imported from third-party
packages, which nothing translates. ``translate_partial`` is what
``torch2tf translate --allow-partial`` writes: each construct that cannot be translated is
replaced by a call to ``torch2tf_untranslated(code, problem)``, a stub defined in the output
that raises ``NotImplementedError`` when it runs, so the rest of the file is still translated.
"""

from __future__ import annotations

import ast

import libcst as cst
from libcst.metadata import MetadataWrapper, ParentNodeProvider, PositionProvider

from torch2tf.errors import Diagnostic, TranslationError
from torch2tf.foreign import foreign_layers
from torch2tf.names import drop_imports
from torch2tf.translate import translate_source, translate_stubbed
from torch2tf.translation.stubs import STUB, stub_source, targets

__all__ = ["STUB", "Diagnostic", "TranslationError", "foreign_layers", "translate_partial"]


# --------------------------------------------------------------------------- partial output

_MAX_ROUNDS = 30


def translate_partial(source: str, path: str = "<string>") -> tuple[str, list[Diagnostic]]:
    """Translate, replacing each construct that cannot be translated by a raising stub.

    One translation stubs every problem (see :func:`torch2tf.translate.translate_stubbed`).
    Where that cannot be done (a problem in init code that became initializers, a stub where
    Python takes no call, a training loop whose rewrite still reports a problem), the source
    is stubbed instead and translated again, widening a stub to the statement around it when
    a problem comes back at it.

    Returns:
        The TensorFlow source and the diagnostics of the input (empty when it translated
        exactly, and then the source is exactly what ``translate_source`` returns).

    Raises:
        TranslationError: the input has a syntax error, or a problem could not be stubbed.
    """
    code, problems = translate_stubbed(source, path)
    if not problems:
        return code, []
    if code is not None:
        return _with_header(code), problems
    current, diagnostics = source, problems
    for _ in range(_MAX_ROUNDS):
        stubbed = _stub(current, diagnostics)
        if stubbed is None:
            break
        current = stubbed
        try:
            code = translate_source(current, path)
        except TranslationError as err:
            diagnostics = err.diagnostics
            continue
        return _with_header(code), problems
    raise TranslationError(problems)


def _with_header(code: str) -> str:
    count = code.count(f"{STUB}(") - 1
    header = (
        f"# PARTIAL TRANSLATION by torch2tf --allow-partial: {count} construct"
        f"{'s' * (count != 1)} could not be translated.\n"
        f"# Each is a call to {STUB}(...), which raises NotImplementedError when it runs.\n"
    )
    lines = code.splitlines(keepends=True)
    keep = 0
    while keep < len(lines) and keep < 2 and lines[keep].startswith("#!"):
        keep += 1
    return "".join(lines[:keep]) + header + "".join(lines[keep:])


def _stub(source: str, diagnostics: list[Diagnostic]) -> str | None:
    """``source`` with the construct of each diagnostic replaced by a stub, or None if stuck."""
    try:
        wrapper = MetadataWrapper(cst.parse_module(source))
    except Exception:  # noqa: BLE001
        return None
    module = wrapper.module
    found = targets(
        diagnostics, wrapper.resolve(PositionProvider), wrapper.resolve(ParentNodeProvider)
    )
    if not found:
        return None

    try:
        stubbed, _ = stub_source(module, found)
        code = _drop_unused_imports(module, stubbed).code
        ast.parse(code)
    except Exception:  # noqa: BLE001 - a stub where Python accepts no call: give up
        return None
    return code


def _names(module: cst.Module) -> set[str]:
    """Names referenced outside import statements."""
    used: set[str] = set()

    class Names(cst.CSTVisitor):
        def visit_Import(self, node: cst.Import) -> bool:
            return False

        def visit_ImportFrom(self, node: cst.ImportFrom) -> bool:
            return False

        def visit_Name(self, node: cst.Name) -> None:
            used.add(node.value)

    module.visit(Names())
    return used


def _drop_unused_imports(before: cst.Module, after: cst.Module) -> cst.Module:
    """Remove the imports only stubbed code used, so the output imports without them."""
    return drop_imports(after, _names(before) - _names(after))
