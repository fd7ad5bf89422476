"""The translation engine's entry points: parse -> class facts -> tensor facts -> rewrite ->
training-script rewrite -> emit.

Static by design: the input is parsed with LibCST (comments and docstrings survive) and is never
imported or executed, and neither TensorFlow nor torch is imported here. Per-construct knowledge
lives in ``torch2tf.rules``; the passes live in ``torch2tf.translation`` (class facts in
``class_analysis``, the rewrite's parts in ``structure``, ``references``, ``calls`` and
``weights``, output in ``emission``). This module runs them on a file or a project and reports
anything it cannot translate exactly as a diagnostic.
"""

from __future__ import annotations

import ast
import gc
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path

import libcst as cst
from libcst.metadata import MetadataWrapper

from torch2tf import training_script
from torch2tf.errors import Diagnostic, TranslationError
from torch2tf.foreign import foreign_layers
from torch2tf.names import ImportTable, drop_imports
from torch2tf.parsed import code_reusing
from torch2tf.project import local_imports, project_of
from torch2tf.reach import reach
from torch2tf.receivers import object_functions
from torch2tf.rules import LAYERS
from torch2tf.serializable import package_name
from torch2tf.tensor_facts import ClassFacts
from torch2tf.tensor_facts.analysis import file_analysis
from torch2tf.tensor_facts.project import (
    consumed,
    consumed_functions,
    fully_consumed,
    project_files,
)
from torch2tf.translation.class_analysis import module_class_defs
from torch2tf.translation.emission import emit, emit_module, names_in, used_names
from torch2tf.translation.partial import stub_problems
from torch2tf.translation.scans import defined_names, dunder_all
from torch2tf.translation.translator import Translator

# emit is public here too: conversion emits code it writes itself.
__all__ = [
    "emit",
    "translate_file",
    "translate_project",
    "translate_source",
    "translate_stubbed",
    "translate_with_facts",
    "translations_reused",
]
_Result = tuple[str, dict[str, ClassFacts], dict[str, int]]  # + project functions consumed
_reused: ContextVar[dict[tuple, _Result] | None] = ContextVar("translations", default=None)


@contextmanager
def translations_reused() -> Iterator[None]:
    """Within this block, a source translated once is not translated again: ``convert`` from
    the command line reuses the translation that checked the file before it was run. Per
    block, so nothing outlives it."""
    token = _reused.set({})
    try:
        yield
    finally:
        _reused.reset(token)


def translate_source(
    source: str,
    path: str = "<string>",
    *,
    module_name: str | None = None,
    project_classes: frozenset[str] = frozenset(),
    project_objects: frozenset[str] = frozenset(),
) -> str:
    """Translate PyTorch source code into TensorFlow source code.

    Args:
        source: the content of a Python file defining ``nn.Module`` classes.
        path: the file name used in diagnostics.
        module_name: the file's dotted module name within its project, which resolves its
            relative imports (see :func:`translate_project`).
        project_classes: qualified names of ``nn.Module`` classes defined in other files of
            the project, so that subclasses and submodules of them are recognised.
        project_objects: qualified names of functions of other files of the project that
            return Python objects only (methods named like tensor methods stay as written).

    Returns:
        Formatted TensorFlow source that depends on TensorFlow alone.

    Raises:
        TranslationError: listing every construct that cannot be translated exactly.
    """
    return translate_with_facts(
        source,
        path,
        module_name=module_name,
        project_classes=project_classes,
        project_objects=project_objects,
    )[0]


def translate_with_facts(
    source: str,
    path: str = "<string>",
    *,
    module_name: str | None = None,
    project_classes: frozenset[str] = frozenset(),
    project_objects: frozenset[str] = frozenset(),
    starred: tuple[tuple[str, str], ...] = (),
    dropped: frozenset[str] = frozenset(),
    parsed: cst.Module | None = None,
) -> tuple[str, dict[str, ClassFacts]]:
    """:func:`translate_source`, plus the tensor facts of each class (by name), which
    conversion consumes: layouts of inputs, outputs and layers, and weight-layout notes.
    ``starred``: what the file's star imports of project files bind (see ImportTable.of).
    ``dropped``: top-level functions left out, every use of them read as init code elsewhere.
    ``parsed``: ``source`` parsed by LibCST already (not parsed again)."""
    reused = _reused.get()
    # The path only names the file in diagnostics and, without a module name, the package.
    package = package_name(module_name, path)
    key = (source, module_name, project_classes, project_objects, package, starred, dropped)
    if reused is not None and key in reused:
        code, facts, used = reused[key]
        for qualified, count in used.items():
            consumed(qualified, count)  # as translating it again would
        return code, facts
    before = consumed_functions()
    # Syntax trees are millions of small objects without cycles: the cyclic garbage collector
    # only rescans them, which makes translation superlinear in file size. Paused meanwhile.
    enabled = gc.isenabled()
    gc.disable()
    try:
        code, facts, _ = _translate(
            source,
            path,
            module_name,
            project_classes,
            project_objects,
            starred,
            dropped,
            parsed=parsed,
        )
    finally:
        if enabled:
            gc.enable()
    if reused is not None:
        after = consumed_functions()
        used = {q: n - before.get(q, 0) for q, n in after.items() if n != before.get(q, 0)}
        reused[key] = (code, facts, used)
    return code, facts


def translate_stubbed(source: str, path: str = "<string>") -> tuple[str | None, list[Diagnostic]]:
    """``--allow-partial``'s one translation: each construct reported is replaced by a stub
    (see :mod:`torch2tf.translation.stubs`).

    Returns:
        ``(code, [])`` when the input translates exactly; ``(code, problems)`` with the stubs
        in ``code``; ``(None, problems)`` when some construct has no translation of its own
        to replace (init code moved into initializers), a stub would stand where Python takes
        no call, or the training rewrite around the stubs reports a problem: then stub the
        source and translate that.

    Raises:
        TranslationError: the input has a syntax error.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        code, _, problems = _translate(source, path, None, frozenset(), partial=True)
    except TranslationError as err:
        if any(d.message.startswith("syntax error") for d in err.diagnostics):
            raise
        return None, err.diagnostics
    finally:
        if enabled:
            gc.enable()
    return code, TranslationError(problems).diagnostics  # sorted, each once, as when raised


def _translate(
    source: str,
    path: str,
    module_name: str | None,
    project_classes: frozenset[str],
    project_objects: frozenset[str] = frozenset(),
    starred: tuple[tuple[str, str], ...] = (),
    dropped: frozenset[str] = frozenset(),
    *,
    partial: bool = False,
    parsed: cst.Module | None = None,
) -> tuple[str, dict[str, ClassFacts], list[Diagnostic]]:
    try:  # compiled, never run: Python words errors best, and finds `return` outside def too
        tree = ast.parse(source, path)
        compile(tree, path, "exec", dont_inherit=True)
    except (SyntaxError, ValueError) as err:
        line = getattr(err, "lineno", None) or 1
        column = getattr(err, "offset", None) or 1
        message = getattr(err, "msg", None) or str(err)
        raise TranslationError(
            [Diagnostic(path, line, column, f"syntax error: {message}")]
        ) from None
    try:
        module = cst.parse_module(source) if parsed is None else parsed
    except cst.ParserSyntaxError as err:
        message = str(err).splitlines()[0]
        raise TranslationError(
            [Diagnostic(path, err.raw_line, err.raw_column + 1, f"syntax error: {message}")]
        ) from None
    wrapper = MetadataWrapper(module, unsafe_skip_copy=True)  # `module` is ours alone
    translator = Translator(
        wrapper, tree, path, _package(module_name), project_classes, starred=starred, source=source
    )
    translator.project_objects = project_objects
    translator.dropped_functions |= dropped  # init functions of this file read where called
    translator.keras_package = package_name(module_name, path)
    if partial:
        translator.translated = {}  # what each node became, to stub those reported
    result = wrapper.visit(translator)
    facts = training_script.FileFacts(
        path=path,
        source=source,
        parsed=translator.parsed,
        imports=translator.imports,
        model_classes=frozenset(translator.classes),
        project_classes=frozenset(project_classes),
        dropped_functions=frozenset(translator.dropped_functions),
        init_code=frozenset(translator.analysis.init_code()),
        diagnostics=translator.diagnostics,
    )
    result = training_script.rewrite(facts, result)  # optimizers, training loops
    # other packages' layers are named from the imports as written (relative ones are the
    # project's), read scope by scope as the rewrite read them
    imports = ImportTable.of(module)
    imports.scoped, imports.scoped_at = translator.imports.scoped, translator.imports.scoped_at
    problems = translator.diagnostics + foreign_layers(source, path, translator.parsed, imports)
    if problems:
        stubbed = stub_problems(translator, facts, result, problems) if partial else None
        if stubbed is None:
            raise TranslationError(problems)
        result = stubbed
    code = result.code
    used = used_names(code)
    stale = names_in(tree) - used
    nested_torch = translator.imports.nested_torch  # imports of torch in functions: dropped
    if stale & set(translator.imports.aliases) or nested_torch:
        dropped_from = result
        result = drop_imports(result, stale, nested_torch)  # functools, after partial(nn.X)
        code = code_reusing(dropped_from, code, result)
    return (
        emit_module(result, code, used, translator.imports_inserted, translator.generated),
        translator.facts,
        problems,
    )


def translate_file(path: str | Path, classes: Sequence[str] | None = None) -> str:
    """Translate one file; see :func:`translate_source`.

    A file that imports other files of its project (relative imports, sibling modules) is
    translated together with them, so their base classes and modules are recognised; only
    this file's output is returned. With ``classes``, only those classes and what they reach
    are translated (see :mod:`torch2tf.reach`): problems in the rest do not matter.
    """
    path = Path(path)
    if classes is not None:
        reached = reach(path, classes)
        if len(reached.sources) > 1:
            return translate_project(reached.root, sources=reached.sources)[reached.main]
        text = reached.sources[reached.main]
        return translate_source(text, str(path), module_name=reached.module_name)
    root, name = project_of(path)
    text = path.read_text(encoding="utf-8")
    try:  # parsed once: for the imports of project files, then translated
        module: cst.Module | None = cst.parse_module(text)
    except cst.ParserSyntaxError:
        module = None  # reported by the translation, at its line and column
    files = local_imports(path, root, module)
    if len(files) > 1:
        return translate_project(root, files)[path.resolve().relative_to(root)]
    return translate_with_facts(text, str(path), module_name=name, parsed=module)[0]


def translate_project(
    root: str | Path,
    files: list[Path] | None = None,
    *,
    sources: Mapping[Path, str] | None = None,
    facts: dict[Path, dict[str, ClassFacts]] | None = None,
) -> dict[Path, str]:
    """Translate several files of one project, resolving imports between them.

    Args:
        root: the folder that module names are relative to (``root/pkg/mod.py`` is
            ``pkg.mod``); its ``.py`` files are translated when ``files`` is None.
        files: the files to translate, under ``root``.
        sources: relative path -> text, translated instead of files read from ``root``.
        facts: when given, filled with each file's tensor facts by class name (as
            :func:`translate_with_facts` returns them), for conversion.

    Returns:
        Each file's path relative to ``root`` -> its generated source.

    Raises:
        TranslationError: listing the problems of every file at once.
    """
    root = Path(root)
    if sources is not None:
        files = [root / relative for relative in sources]
    files = sorted(root.rglob("*.py")) if files is None else [Path(f) for f in files]
    parsed: dict[Path, tuple[str, str, cst.Module]] = {}
    problems: list[Diagnostic] = []
    for file in files:
        relative = file.relative_to(root)
        name = ".".join(relative.with_suffix("").parts).removesuffix(".__init__")
        if relative.name == "__init__.py":
            name = ".".join(relative.parent.parts)
        text = sources[relative] if sources is not None else file.read_text(encoding="utf-8")
        try:
            parsed[relative] = (name, text, cst.parse_module(text))
        except cst.ParserSyntaxError:
            parsed[relative] = (name, text, cst.Module(body=[]))  # reported by translate_source
    starred = _starred(parsed)
    tables = {  # read once: the loop below may pass over every file several times
        relative: ImportTable.of(
            module, _package(name, relative.name == "__init__.py"), starred[relative]
        )
        for relative, (name, _, module) in parsed.items()
    }
    known: set[str] = set()
    changed = True
    while changed:  # a class may derive from one defined in a file read later
        changed = False
        for relative, (name, _, module) in parsed.items():
            imports = tables[relative]
            for node in module_class_defs(module, imports, frozenset(known)):
                qualified = f"{name}.{node.name.value}"
                if qualified not in known:
                    known.add(qualified)
                    changed = True
    objects = _object_functions(parsed, frozenset(known), starred)
    results: dict[Path, str] = {}
    sources = {
        name: (text, _package(name, relative.name == "__init__.py"))
        for relative, (name, text, _) in parsed.items()
    }

    def analyse(tree, source, qualify, names):
        return file_analysis(tree, source, qualify, set(LAYERS), names)

    with project_files(sources, frozenset(known), analyse):
        _translate_files(root, parsed, known, objects, starred, facts, results, problems)
    if problems:
        raise TranslationError(problems)
    return results


def _translate_files(root, parsed, known, objects, starred, facts, results, problems) -> None:
    found = {
        relative: _translate_file(root, relative, parsed, known, objects, starred)
        for relative in parsed
    }
    # a function of one file read as init code where another file calls it (each of its uses):
    # its effect is in initializers, so that file is translated again without it
    for module, names in fully_consumed().items():
        for relative, (name, _, _) in parsed.items():
            if name == module:
                found[relative] = _translate_file(
                    root, relative, parsed, known, objects, starred, names
                )
    for relative, (code, file_facts, file_problems) in found.items():
        if code is not None:
            results[relative] = code
            if facts is not None:
                facts[relative] = file_facts
        problems += file_problems


def _translate_file(root, relative, parsed, known, objects, starred, dropped=frozenset()):
    """(code, facts, []) or (None, None, problems) for one file of a project."""
    name, text, _ = parsed[relative]
    try:
        code, file_facts = translate_with_facts(
            text,
            str(root / relative),
            module_name=name if relative.name != "__init__.py" else f"{name}.__init__",
            project_classes=frozenset(known),
            project_objects=objects,
            starred=starred[relative],
            dropped=dropped,
        )
    except TranslationError as err:
        return None, None, err.diagnostics
    return code, file_facts, []


def _starred(
    parsed: Mapping[Path, tuple[str, str, cst.Module]],
) -> dict[Path, tuple[tuple[str, str], ...]]:
    """Per file, what its ``from X import *`` of project files binds: X's public names (its
    ``__all__``, else those without a leading underscore), each X's own definition or import,
    through X's own star imports too; never a name the file binds itself."""
    by_name = {name: (relative, module) for relative, (name, _, module) in parsed.items()}
    tables = {
        relative: ImportTable.of(module, _package(name, relative.name == "__init__.py"))
        for relative, (name, _, module) in parsed.items()
    }

    def exported(name: str, seen: frozenset[str]) -> dict[str, str]:
        relative, module = by_name[name]
        bound: dict[str, str] = {}
        for star in tables[relative].stars:
            if star in by_name and star not in seen:
                for local, qualified in exported(star, seen | {star}).items():
                    bound.setdefault(local, qualified)
        bound.update(tables[relative].aliases)
        bound.update({local: f"{name}.{local}" for local in defined_names(module)})
        listed = dunder_all(module)
        if listed is not None:
            return {k: v for k, v in bound.items() if k in listed}
        return {k: v for k, v in bound.items() if not k.startswith("_")}

    result = {}
    for relative, (name, _, module) in parsed.items():
        own = set(tables[relative].aliases) | defined_names(module)
        found: dict[str, str] = {}
        for star in tables[relative].stars:
            if star in by_name:
                for local, qualified in exported(star, frozenset({name, star})).items():
                    if local not in own:
                        found.setdefault(local, qualified)
        result[relative] = tuple(sorted(found.items()))
    return result


def _object_functions(
    parsed: Mapping[Path, tuple[str, str, cst.Module]],
    known: frozenset[str],
    starred: Mapping[Path, tuple[tuple[str, str], ...]],
) -> frozenset[str]:
    """Qualified names of the project's functions that return Python objects only, also
    under the names other files of the project import them as (a package's re-exports)."""
    found: set[str] = set()
    tables = []
    for relative, (name, text, module) in parsed.items():
        package = _package(name, relative.name == "__init__.py")
        imports = ImportTable.of(module, package, starred[relative])
        tables.append((name, imports))
        try:
            tree = ast.parse(text)
        except SyntaxError:
            continue  # reported where the file is translated
        classes = {c.rsplit(".", 1)[1] for c in known if c.rsplit(".", 1)[0] == name}
        found |= {f"{name}.{f}" for f in object_functions(tree, imports.qualify_name, classes)}
    changed = True
    while changed:
        changed = False
        for name, imports in tables:
            for local, target in imports.aliases.items():
                if target in found and f"{name}.{local}" not in found:
                    found.add(f"{name}.{local}")
                    changed = True
    return frozenset(found)


def _package(module_name: str | None, is_package: bool = False) -> str | None:
    """The package a module's relative imports start from."""
    if module_name is None:
        return None
    return module_name if is_package else module_name.rpartition(".")[0]
