"""--allow-partial in the engine: the constructs of a file's problems are stubbed in its one
translation (see :mod:`torch2tf.translation.stubs`), the training rewrite runs around the stubs,
and what a translation of the stubbed source would leave out is left out."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

import libcst as cst

from torch2tf import training_script
from torch2tf.errors import Diagnostic
from torch2tf.names import code_of, dotted
from torch2tf.parsed import ParsedSource
from torch2tf.translation.patterns import positional_params, self_attr
from torch2tf.translation.stubs import stub_source, stub_translation, targets


def stub_problems(
    translator: Any,
    facts: training_script.FileFacts,
    result: cst.Module,
    problems: list[Diagnostic],
) -> cst.Module | None:
    """``result`` with the construct of each problem stubbed, training code rewritten around
    the stubs; None where only translating a stubbed source can do."""
    found = targets(problems, translator.positions, translator.parents)
    if not found:
        return None
    builds = _builds_calling_stubs(translator, found)
    if builds is None:
        return None
    stubbed = stub_translation(translator.module, result, translator.translated, found, builds)
    if stubbed is None or not training_script.involved(facts):
        return stubbed
    # The training rewrite needs a file without problems: it reads the source as stubbed,
    # whose statements align with the stubbed translation.
    source, became = stub_source(translator.module, found)
    stubbed_facts = dataclasses.replace(
        facts,
        source=source.code,
        parsed=ParsedSource.of(source),
        init_code=frozenset(became.get(node, node) for node in facts.init_code),
        diagnostics=[],
    )
    stubbed = training_script.rewrite(stubbed_facts, stubbed)
    return None if stubbed_facts.diagnostics else stubbed


def _builds_calling_stubs(
    translator: Any, found: Mapping[cst.CSTNode, Diagnostic]
) -> list[cst.CSTNode] | None:
    """The build-at-construction statements of classes whose first layer call in forward()
    is stubbed: a translation of the stubbed source builds those at their first call. None if
    one is not where it was put."""

    def span(node: cst.CSTNode) -> tuple[tuple[int, int], tuple[int, int]]:
        where = translator.positions[node]
        return (where.start.line, where.start.column), (where.end.line, where.end.column)

    builds: list[cst.CSTNode] = []
    for info in translator.classes.values():
        first = _first_layer_call(info.method("forward")) if info.build_input else None
        if first is None or not any(
            span(node)[0] <= span(first)[0] and span(first)[1] <= span(node)[1] for node in found
        ):
            continue
        cls = translator.translated.get(info.node)
        init = next(
            (
                s
                for s in getattr(getattr(cls, "body", None), "body", ())
                if isinstance(s, cst.FunctionDef) and s.name.value == "__init__"
            ),
            None,
        )
        last = init.body.body[-1] if init is not None and init.body.body else None
        if last is None or f"tf.keras.Input(shape=({info.build_input},))" not in code_of(last):
            return None
        builds.append(last)
    return builds


def _first_layer_call(forward: cst.FunctionDef | None) -> cst.Call | None:
    """The first ``self.layer(x, ...)`` of ``forward(self, x)``: what builds at construction."""
    params = positional_params(forward)[1:] if forward is not None else []
    if not params:
        return None
    name = params[0].name.value
    first: list[cst.Call] = []

    class FirstCall(cst.CSTVisitor):
        def visit_Call(self, node: cst.Call) -> bool:
            if not first and self_attr(node.func) and node.args:
                if dotted(node.args[0].value) == name:
                    first.append(node)
            return not first

    forward.body.visit(FirstCall())
    return first[0] if first else None
