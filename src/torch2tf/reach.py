"""What a model class reaches: the top-level statements its definition needs.

``translate --class``, ``translate_file(path, classes=...)`` and ``convert`` translate a class
and what it reaches (its base classes, the classes of its submodules, the module-level
functions and constants its methods use, the same through the project files it imports) and
leave the rest out, listed, so that an unrelated helper (an optimizer factory, a device check,
a sibling class with a layer not translated) never blocks it. Inside a kept class the same holds
per method: ``__init__``, ``forward``, properties (the class's API), the methods Keras or
Python call by themselves (``call``, ``get_config``, dunders) and every method their code names
(``self.helper(...)``, ``super().helper``, ``block.helper``, ``getattr(self, "helper")``) are
kept; the rest (``fit``, ``save``, ``predict``, a shape helper using ``torch.Size``) is left
out, listed as a method.

Static and fast: Python's ``ast`` and ``symtable`` (which scopes names exactly: a method's
parameter ``device`` is not the module's ``device``); only files the class reaches are read.
The filtered sources keep every kept line where it was (dropped lines become blank lines), so
diagnostics on them still point at the input's file:line:col.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path

from torch2tf.project import module_file, project_of, project_tops
from torch2tf.reach_analysis import FileFacts, Member, Statement, analyse_file

MAIN_MODULE = ""  # in ``extra``: the file itself, whatever its module is called at run time


class UnknownName(ValueError):
    """A requested class is not defined at the top level of the file."""


@dataclass(frozen=True)
class LeftOut:
    """A top-level statement not translated because nothing requested reaches it."""

    name: str
    kind: str  # "class", "function", "method" (``Class.name``), "constant" or "statement"
    file: str
    line: int
    reason: str

    def to_dict(self) -> dict[str, object]:
        return asdict(self)

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.kind} {self.name}"


@dataclass
class Reached:
    """The filtered sources of the files a class reaches, and what was left out."""

    root: Path
    main: Path  # relative to root
    module_name: str | None
    sources: dict[Path, str]  # relative path -> source with only the reached statements
    left_out: list[LeftOut]


def reach(
    path: str | Path,
    classes: Iterable[str],
    *,
    source: str | None = None,
    extra: Mapping[str, Iterable[str]] | None = None,
) -> Reached:
    """The statements of ``path`` (and of its project's files) that ``classes`` reach.

    Args:
        path: the file defining the classes (a name only, e.g. ``<ipython-input-3>``, when
            ``source`` is given and there is no such file: then it has no project).
        classes: top-level classes (or functions) to translate.
        source: the file's text, when it is not read from ``path``.
        extra: more roots by dotted module name (e.g. classes of a live model's submodules;
            ``MAIN_MODULE`` is the file itself); modules that are not project files, and
            names not defined at their top level, are ignored.

    Raises:
        UnknownName: a requested class is not defined at the top level of the file.
    """
    path = Path(path)
    classes = list(classes)
    is_file = path.is_file()
    if is_file:
        root, name = project_of(path)
        tops = project_tops(path)
        relative = path.resolve().relative_to(root)
        text = source if source is not None else path.read_text(encoding="utf-8")
    else:
        root, name, tops, relative = Path("."), None, frozenset(), Path(path.name)
        text = source if source is not None else ""
    modules: dict[str | None, FileFacts] = {}
    main = analyse_file(name, relative, text)
    modules[name] = main
    display = str(path)

    def load(module_name: str) -> FileFacts | None:
        if module_name in modules:
            return modules[module_name]
        file = module_file(root, module_name, tops) if is_file else None
        if file is None:
            return None
        found = analyse_file(module_name, file.relative_to(root), file.read_text(encoding="utf-8"))
        modules[module_name] = found
        return found

    if not main.parsed:  # a syntax error: the engine reports it with its position
        return Reached(root, relative, name, {relative: text}, [])
    for cls in classes:
        if cls not in main.defined:
            found = sorted(s.node.name for s in main.statements if isinstance(s.node, ast.ClassDef))
            raise UnknownName(
                f"--class {cls}: expected a class defined at the top level of {display}, "
                f"received nothing by that name; classes found: {', '.join(found) or 'none'}"
            )
    queue: list[tuple[FileFacts, str]] = [(main, c) for c in classes]
    for module_name, names in (extra or {}).items():
        other = main if module_name in (name, MAIN_MODULE) else load(module_name)
        if other is not None:
            queue += [(other, n) for n in names if n in other.defined]
    attrs: set[str] = set()  # attribute names the kept code loads: the methods it may call
    while queue:
        while queue:
            module, wanted = queue.pop()
            queue += _need(module, wanted, load)
        queue = _members_needed(list(modules.values()), attrs, load)
        queue += _mutations_needed(list(modules.values()), load)
    used = [m for m in modules.values() if m is main or m.kept or m.kept_aliases]
    packages = {  # their packages' __init__ files come along: the output is a package tree
        ".".join(m.name.split(".")[:end])
        for m in used
        if m.name is not None
        for end in range(1, m.name.count(".") + (m.relative.name != "__init__.py"))
    }
    used += [p for p in map(load, sorted(packages)) if p is not None and p not in used]
    reason = f"not reached from {', '.join(classes)}"
    sources: dict[Path, str] = {}
    left_out: list[LeftOut] = []
    for module in used:
        sources[module.relative] = _filtered(module)
        shown = display if module is main else str(root / module.relative)
        left_out += _left_out(module, shown, reason)
    return Reached(root, relative, name, sources, left_out)


def _need(module: FileFacts, wanted: str, load) -> list[tuple[FileFacts, str]]:
    """Keep what binds ``wanted`` in ``module``; returns the further (module, name) needed."""
    more: list[tuple[FileFacts, str]] = []
    for index in module.defined.get(wanted, []):
        stmt = module.statements[index]
        if isinstance(stmt.node, (ast.Import, ast.ImportFrom)):
            aliases = module.kept_aliases.setdefault(index, set())
            if wanted in aliases:
                continue
            aliases.add(wanted)
            target, attribute = module.imports[wanted]
            other = load(target)
            if other is not None and attribute is not None:
                more.append((other, attribute))
            continue
        if index in module.kept:
            continue
        module.kept.add(index)
        more += _uses_needed(module, stmt.uses, stmt.chains, load)
    if wanted not in module.defined:  # from a star import, perhaps (through its own stars)
        for index, target in module.stars.items():
            other = load(target)
            if other is not None and _provides(other, wanted, load, {module.name}):
                module.kept.add(index)
                more.append((other, wanted))
    return more


def _provides(module: FileFacts, wanted: str, load, seen: set) -> bool:
    """Whether ``module`` binds ``wanted``, itself or through its star imports."""
    if wanted in module.defined:
        return True
    seen.add(module.name)
    for target in module.stars.values():
        other = load(target)
        if other is not None and other.name not in seen and _provides(other, wanted, load, seen):
            return True
    return False


def _uses_needed(
    module: FileFacts, uses: set[str], chains: set[tuple[str, ...]], load
) -> list[tuple[FileFacts, str]]:
    """The (module, name) pairs that module-level names and ``a.b.c`` chains refer to."""
    more = [(module, n) for n in uses]
    for chain in chains:  # pkg.layers.Block through a module import
        target = _module_alias(module, chain[0], load)
        if target is None:
            continue
        parts = target.split(".") + list(chain[1:])
        for end in range(len(parts), 0, -1):
            other = load(".".join(parts[:end]))
            if other is None:
                continue
            if end < len(parts):
                more.append((other, parts[end]))
            else:  # the module itself is used as a value: all of it
                more += [(other, n) for n in other.defined]
            break
    return more


def _members_needed(modules: list[FileFacts], attrs: set[str], load) -> list[tuple[FileFacts, str]]:
    """Keep the methods of kept classes that are always kept or that kept code names (``attrs``
    grows as they are kept); returns the further (module, name) they need."""
    more: list[tuple[FileFacts, str]] = []
    changed = True
    while changed:
        changed = False
        for module in modules:  # every kept statement's, also those after a class
            attrs.update(*(module.statements[index].attrs for index in module.kept))
        for module in modules:
            for index in sorted(module.kept):
                stmt = module.statements[index]
                kept = module.kept_members.setdefault(index, set())
                for number, member in enumerate(stmt.members):
                    if number in kept or not (member.always or member.name in attrs):
                        continue
                    kept.add(number)
                    changed = True
                    attrs |= member.attrs
                    more += _uses_needed(module, member.uses, member.chains, load)
    return more


def _mutations_needed(modules: list[FileFacts], load) -> list[tuple[FileFacts, str]]:
    """Keep the statements that change a kept object (``Act.add_factory_class(...)``, a
    function registered by ``@Act.factory_function(...)``): without them the object would
    silently differ from torch's. Returns the further (module, name) they need."""
    more: list[tuple[FileFacts, str]] = []
    for module in modules:
        bound = {
            name
            for name, indexes in module.defined.items()
            if any(i in module.kept or name in module.kept_aliases.get(i, ()) for i in indexes)
            and not _foreign_import(module, name, load)  # @torch.no_grad() changes no torch
        }
        for index, stmt in enumerate(module.statements):
            if index in module.kept or not bound & _changed_roots(stmt.node):
                continue
            module.kept.add(index)
            more += _uses_needed(module, stmt.uses, stmt.chains, load)
    return more


def _foreign_import(module: FileFacts, name: str, load) -> bool:
    """Whether ``name`` is imported from outside the project (``torch``, ``torch.nn``)."""
    if name not in module.imports:
        return False
    target, attribute = module.imports[name]
    return load(target) is None and (attribute is None or load(f"{target}.{attribute}") is None)


def _changed_roots(node: ast.stmt) -> set[str]:
    """The names a top-level statement changes the object of: ``a`` of ``a.f(...)``,
    ``a.x = ...``, ``a[k] = ...``, or of a definition's decorator ``@a.register(...)``."""
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        changed = [d.func if isinstance(d, ast.Call) else d for d in node.decorator_list]
        changed = [c.value for c in changed if isinstance(c, ast.Attribute)]
    elif isinstance(node, ast.Expr) and isinstance(node.value, ast.Call):
        func = node.value.func
        changed = [func.value] if isinstance(func, ast.Attribute) else []
    elif isinstance(node, (ast.Assign, ast.AugAssign)):
        targets = node.targets if isinstance(node, ast.Assign) else [node.target]
        changed = [t.value for t in targets if isinstance(t, (ast.Attribute, ast.Subscript))]
    else:
        return set()
    roots = set()
    for value in changed:
        while isinstance(value, (ast.Attribute, ast.Subscript, ast.Call)):
            value = value.func if isinstance(value, ast.Call) else value.value
        if isinstance(value, ast.Name):
            roots.add(value.id)
    return roots


def _module_alias(module: FileFacts, name: str, load) -> str | None:
    """The project module ``name`` is bound to by an import in ``module``, if any."""
    if name not in module.imports:
        return None
    target, attribute = module.imports[name]
    if attribute is None:
        return target if load(target) is not None else None
    owner = load(target)
    submodule = f"{target}.{attribute}"
    # a name defined in that module, not a submodule (unless it is the submodule's own import:
    # `from . import utils` in the package's __init__)
    if owner is not None and attribute in owner.defined:
        if owner.imports.get(attribute) not in ((owner.name, attribute), (submodule, None)):
            return None
    return submodule if load(submodule) is not None else None


# --------------------------------------------------------------------------- output


def _filtered(module: FileFacts) -> str:
    """The module's text with only its kept statements, every kept line where it was."""
    lines = module.text.splitlines(keepends=True)
    keep_line = [True] * len(lines)
    owner_kept = [False] * len(lines)
    rewrites: dict[int, tuple[int, str]] = {}  # first line -> (last line, replacement)
    dropped_members: list[Member] = []
    for index, stmt in enumerate(module.statements):
        if _kept(module, index, stmt):
            for line in range(stmt.first, stmt.last + 1):
                owner_kept[line - 1] = True
            kept_members = module.kept_members.get(index, set())
            gone = [m for n, m in enumerate(stmt.members) if n not in kept_members]
            dropped_members += gone
            if gone and _body_empty_without(stmt, gone):  # a class body cannot be empty
                first = gone[0]
                indent = lines[first.first - 1][: -len(lines[first.first - 1].lstrip())]
                rewrites[first.first] = (first.last, f"{indent}pass")
            aliases = module.kept_aliases.get(index)
            if aliases is not None and isinstance(stmt.node, (ast.Import, ast.ImportFrom)):
                names = [a for a in stmt.node.names if _alias_bound(a) in aliases]
                if len(names) != len(stmt.node.names):
                    node = type(stmt.node)(**{**vars(stmt.node), "names": names})
                    rewrites[stmt.first] = (stmt.last, ast.unparse(node))
            continue
        _drop(lines, keep_line, stmt.first, stmt.last)
    for member in dropped_members:
        _drop(lines, keep_line, member.first, member.last)
        _drop(lines, owner_kept, member.first, member.last)
    out: list[tuple[str, bool]] = []  # (line, whether it is a dropped line)
    skip_to = 0
    for number, text in enumerate(lines, start=1):
        if number <= skip_to:
            out.append(("\n", True))
            continue
        if number in rewrites and not _shared(module, number):
            last, replacement = rewrites[number]
            out.append((replacement + "\n", False))
            skip_to = last
            continue
        kept = keep_line[number - 1] or owner_kept[number - 1]
        out.append((text, False) if kept else ("\n", True))
    # In the leading block of imports, dropped lines move below it: isort's groups stay intact
    # (only the imports' own positions change, and imports are never what a diagnostic is on).
    start, end = _import_block(module)
    block = out[start:end]
    out[start:end] = [x for x in block if not x[1]] + [x for x in block if x[1]]
    return "".join(text for text, _ in out)


def _drop(lines: list[str], keep: list[bool], first: int, last: int) -> None:
    """Mark lines ``first``..``last`` dropped, and the comments written just above them."""
    for line in range(first, last + 1):
        keep[line - 1] = False
    line = first - 1
    while line >= 1 and lines[line - 1].lstrip().startswith("#"):
        keep[line - 1] = False
        line -= 1


def _body_empty_without(stmt: Statement, gone: list[Member]) -> bool:
    lines = {m.first for m in gone}
    body = stmt.node.body
    return all(getattr(p, "lineno", 0) in lines or _first_line(p) in lines for p in body)


def _first_line(node: ast.stmt) -> int:
    return min([node.lineno] + [d.lineno for d in getattr(node, "decorator_list", [])])


def _import_block(module: FileFacts) -> tuple[int, int]:
    """Line indices [start, end) of the imports at the top of the module."""
    body = module.statements
    index = 1 if body and _kept(module, 0, body[0]) and isinstance(body[0].node, ast.Expr) else 0
    if index >= len(body) or not isinstance(body[index].node, (ast.Import, ast.ImportFrom)):
        return 0, 0
    start = body[index].first - 1
    while index < len(body) and isinstance(body[index].node, (ast.Import, ast.ImportFrom)):
        end = body[index].last
        index += 1
    return start, end


def _shared(module: FileFacts, line: int) -> bool:
    """Whether two statements share a line (``import a; import b``)."""
    return sum(s.first <= line <= s.last for s in module.statements) > 1


def _alias_bound(alias: ast.alias) -> str:
    return alias.asname or alias.name.split(".")[0]


def _kept(module: FileFacts, index: int, stmt: Statement) -> bool:
    node = stmt.node
    if index in module.kept or module.kept_aliases.get(index):
        return True
    if index == 0 and isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant):
        return isinstance(node.value.value, str)  # the module docstring
    return isinstance(node, ast.ImportFrom) and node.module == "__future__"


def _left_out(module: FileFacts, file: str, reason: str) -> list[LeftOut]:
    found = []
    for index, stmt in enumerate(module.statements):
        node = stmt.node
        if _kept(module, index, stmt) and isinstance(node, ast.ClassDef):
            kept = module.kept_members.get(index, set())
            found += [
                LeftOut(f"{node.name}.{m.name}", "method", file, m.first, reason)
                for n, m in enumerate(stmt.members)
                if n not in kept
            ]
        if _kept(module, index, stmt) or isinstance(node, (ast.Import, ast.ImportFrom)):
            continue
        if isinstance(node, ast.ClassDef):
            name, kind = node.name, "class"
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            name, kind = node.name, "function"
        elif isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign)) and stmt.defines:
            name, kind = ", ".join(sorted(stmt.defines)), "constant"
        else:
            first = module.text.splitlines()[stmt.first - 1].strip()
            name, kind = first if len(first) <= 60 else first[:57] + "...", "statement"
        found.append(LeftOut(name, kind, file, stmt.first, reason))
    return found
