"""What :mod:`torch2tf.reach` knows of one file: its top-level statements, what each defines
and needs (names, dotted chains, attributes), its imports, and each class's methods.

Python's ``ast`` and ``symtable``, which scope names exactly: a method's parameter ``device`` is
not the module's ``device``.
"""

from __future__ import annotations

import ast
import symtable
from dataclasses import dataclass, field
from pathlib import Path

DEFINITIONS = (ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)


@dataclass
class Member:
    """A method (or property) of a top-level class: kept only when something reaches it."""

    name: str
    first: int  # first line, decorators included
    last: int
    always: bool  # kept whenever its class is (__init__, forward, what Keras calls)
    uses: set[str] = field(default_factory=set)
    chains: set[tuple[str, ...]] = field(default_factory=set)
    attrs: set[str] = field(default_factory=set)  # attribute names it loads: methods it calls


@dataclass
class Statement:
    """A top-level statement: its lines, the names it binds, what it needs."""

    node: ast.stmt
    first: int  # first line, decorators included
    last: int
    defines: set[str]
    uses: set[str] = field(default_factory=set)  # module-level names it needs
    chains: set[tuple[str, ...]] = field(default_factory=set)  # a.b.c loaded, for modules
    members: list[Member] = field(default_factory=list)  # a class's methods
    attrs: set[str] = field(default_factory=set)  # a class body's own attribute loads


@dataclass
class FileFacts:
    """One file as reach sees it, and what it keeps of it."""

    name: str | None
    relative: Path
    text: str
    statements: list[Statement]
    defined: dict[str, list[int]]  # name -> statements binding it
    imports: dict[str, tuple[str, str | None]]  # bound name -> (module, attribute or None)
    stars: dict[int, str]  # statement -> module star-imported
    parsed: bool = True
    kept: set[int] = field(default_factory=set)
    kept_aliases: dict[int, set[str]] = field(default_factory=dict)  # import -> names kept
    kept_members: dict[int, set[int]] = field(default_factory=dict)  # class -> members kept


def analyse_file(name: str | None, relative: Path, text: str) -> FileFacts:
    try:
        tree = ast.parse(text)
        table = symtable.symtable(text, str(relative), "exec")
    except (SyntaxError, ValueError):
        return FileFacts(name, relative, text, [], {}, {}, {}, parsed=False)
    is_package = relative.name == "__init__.py"
    package = None if name is None else (name if is_package else name.rpartition(".")[0])
    if is_package and name is not None and name.endswith(".__init__"):
        package = name.removesuffix(".__init__")
    statements: list[Statement] = []
    defined: dict[str, list[int]] = {}
    imports: dict[str, tuple[str, str | None]] = {}
    stars: dict[int, str] = {}
    for index, node in enumerate(tree.body):
        first = min([node.lineno] + [d.lineno for d in getattr(node, "decorator_list", [])])
        stmt = Statement(node, first, node.end_lineno or node.lineno, _bound(node))
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            for alias in node.names:
                if alias.name == "*":
                    target = _import_base(node, package)
                    if target is not None:
                        stars[index] = target
                    continue
                bound, target = _import_target(node, alias, package)
                if target is not None:
                    imports[bound] = target
        for bound in stmt.defines:
            defined.setdefault(bound, []).append(index)
        statements.append(stmt)
    scopes = table.get_children()
    for stmt in statements:
        node = stmt.node
        if isinstance(node, ast.ClassDef):
            _analyse_class(stmt, node, scopes)
        elif isinstance(node, DEFINITIONS):
            outer: list[ast.AST] = list(node.decorator_list)
            if isinstance(node, ast.ClassDef):
                outer += node.bases + node.keywords
            else:
                outer += node.args.defaults + [d for d in node.args.kw_defaults if d]
                outer += [a.annotation for a in _arguments(node.args) if a.annotation]
                outer += [node.returns] if node.returns else []
            for part in outer:
                _loads(part, stmt)
            stmt.attrs |= _attributes(node)  # methods it may call on its values
            for scope in scopes:
                if stmt.first <= scope.get_lineno() <= stmt.last:
                    stmt.uses |= _globals(scope)
            for part in ast.walk(node):  # attribute chains, for names of project modules
                if isinstance(part, ast.Attribute):
                    chain = _chain(part)
                    if chain and chain[0] in stmt.uses:
                        stmt.chains.add(chain)
        elif not isinstance(node, (ast.Import, ast.ImportFrom)):
            _loads(node, stmt)
            stmt.attrs |= _attributes(node)
    return FileFacts(name, relative, text, statements, defined, imports, stars)


# Methods kept whenever their class is: what torch and Keras call by themselves.
ALWAYS_KEPT = frozenset(
    {"__init__", "forward", "call", "build", "get_config", "from_config", "compute_output_shape"}
)
# Dunders that only torch's or Python's printing and pickling call, never a forward pass.
UNNEEDED_DUNDERS = frozenset(
    {"__repr__", "__str__", "__getstate__", "__setstate__", "__reduce__", "__reduce_ex__"}
)


def _analyse_class(stmt: Statement, node: ast.ClassDef, scopes: list) -> None:
    """A class's own needs (bases, decorators, class-level statements) and its methods'."""
    for part in [*node.decorator_list, *node.bases, *node.keywords]:
        _loads(part, stmt)
    scope = next(
        (s for s in scopes if s.get_type() == "class" and s.get_lineno() == node.lineno), None
    )
    methods = [m for m in node.body if isinstance(m, (ast.FunctionDef, ast.AsyncFunctionDef))]
    children = scope.get_children() if scope is not None else []
    for method in methods:
        first = min([method.lineno] + [d.lineno for d in method.decorator_list])
        name = method.name
        dunder = name.startswith("__") and name.endswith("__")
        always = name in ALWAYS_KEPT or (dunder and name not in UNNEEDED_DUNDERS)
        always = always or any(_is_property(d) for d in method.decorator_list)
        always = always or (name == "backward" and _autograd_function(node))  # autograd's
        member = Member(name, first, method.end_lineno or method.lineno, always)
        probe = Statement(method, first, member.last, set())
        outer = list(method.decorator_list) + method.args.defaults
        outer += [d for d in method.args.kw_defaults if d]
        outer += [a.annotation for a in _arguments(method.args) if a.annotation]
        outer += [method.returns] if method.returns else []
        for part in outer:
            _loads(part, probe)
        for child in children:
            if first <= child.get_lineno() <= member.last:
                probe.uses |= _globals(child)
        member.uses = probe.uses
        member.chains = {c for c in _all_chains(method) if c[0] in probe.uses} | probe.chains
        member.attrs = _attributes(method)
        stmt.members.append(member)
    spans = [(m.first, m.last) for m in stmt.members]
    if scope is not None:  # the class body's own names (not its methods' decorators)
        body = ast.Module([p for p in node.body if not isinstance(p, DEFINITIONS[1:])], [])
        loaded = {n.id for n in ast.walk(body) if isinstance(n, ast.Name)}
        stmt.uses |= {
            s.get_name()
            for s in scope.get_symbols()
            if s.is_global() and s.is_referenced() and s.get_name() in loaded
        }
        for child in children:  # nested classes, lambdas, comprehensions of the class body
            if not any(a <= child.get_lineno() <= b for a, b in spans):
                stmt.uses |= _globals(child)
    for part in node.body:
        if not isinstance(part, (ast.FunctionDef, ast.AsyncFunctionDef)):
            stmt.chains |= {c for c in _all_chains(part) if c[0] in stmt.uses}
            stmt.attrs |= _attributes(part)
            stmt.attrs |= {n.id for n in ast.walk(part) if isinstance(n, ast.Name)}


def _autograd_function(node: ast.ClassDef) -> bool:
    """Whether the class derives from torch.autograd.Function (by its name: ``Function``)."""
    return any(ast.unparse(base).split(".")[-1] == "Function" for base in node.bases)


def _is_property(decorator: ast.expr) -> bool:
    """``@property``, ``@functools.cached_property``, ``@x.setter``: part of the class's API."""
    name = decorator.attr if isinstance(decorator, ast.Attribute) else getattr(decorator, "id", "")
    return name in ("property", "cached_property", "setter", "getter", "deleter")


def _all_chains(node: ast.AST) -> set[tuple[str, ...]]:
    found = set()
    for part in ast.walk(node):
        if isinstance(part, ast.Attribute):
            chain = _chain(part)
            if chain:
                found.add(chain)
    return found


def _attributes(node: ast.AST) -> set[str]:
    """Attribute names ``node`` loads, and names given to ``getattr``/``hasattr`` as strings."""
    found = set()
    for part in ast.walk(node):
        if isinstance(part, ast.Attribute) and not isinstance(part.ctx, ast.Store):
            found.add(part.attr)
        elif (
            isinstance(part, ast.Call)
            and isinstance(part.func, ast.Name)
            and part.func.id in ("getattr", "hasattr")
            and len(part.args) >= 2
            and isinstance(part.args[1], ast.Constant)
            and isinstance(part.args[1].value, str)
        ):
            found.add(part.args[1].value)
    return found


def _arguments(args: ast.arguments) -> list[ast.arg]:
    found = args.posonlyargs + args.args + args.kwonlyargs
    return found + [a for a in (args.vararg, args.kwarg) if a is not None]


def _loads(node: ast.AST, stmt: Statement) -> None:
    """Every name ``node`` loads (over-approximated: nested scopes' locals too)."""
    for part in ast.walk(node):
        if isinstance(part, ast.Name) and not isinstance(part.ctx, ast.Store):
            stmt.uses.add(part.id)
        elif isinstance(part, ast.Attribute):
            chain = _chain(part)
            if chain:
                stmt.chains.add(chain)


def _chain(node: ast.Attribute) -> tuple[str, ...] | None:
    parts = [node.attr]
    value = node.value
    while isinstance(value, ast.Attribute):
        parts.append(value.attr)
        value = value.value
    if not isinstance(value, ast.Name):
        return None
    return (value.id, *reversed(parts))


def _globals(table: symtable.SymbolTable) -> set[str]:
    """Module-level names a scope (and the scopes inside it) refers to."""
    names = {s.get_name() for s in table.get_symbols() if s.is_global() and s.is_referenced()}
    for child in table.get_children():
        names |= _globals(child)
    return names


def _bound(node: ast.stmt) -> set[str]:
    """Names a top-level statement binds at module level (inside if/try/with/for too)."""
    found: set[str] = set()
    stack: list[ast.AST] = [node]
    while stack:
        part = stack.pop()
        if isinstance(part, DEFINITIONS):
            found.add(part.name)
            continue
        if isinstance(part, (ast.Import, ast.ImportFrom)):
            for alias in part.names:
                if alias.name != "*":
                    found.add(alias.asname or alias.name.split(".")[0])
            continue
        if isinstance(part, (ast.Lambda, ast.ListComp, ast.SetComp, ast.DictComp)):
            continue
        if isinstance(part, ast.Name) and isinstance(part.ctx, ast.Store):
            found.add(part.id)
        stack.extend(ast.iter_child_nodes(part))
    return found


def _import_base(node: ast.Import | ast.ImportFrom, package: str | None) -> str | None:
    if isinstance(node, ast.Import):
        return None
    if not node.level:
        return node.module
    if package is None:
        return None
    parts = package.split(".") if package else []
    up = node.level - 1
    if up > len(parts):
        return None
    anchor = parts[: len(parts) - up]
    return ".".join([*anchor, *([node.module] if node.module else [])])


def _import_target(
    node: ast.Import | ast.ImportFrom, alias: ast.alias, package: str | None
) -> tuple[str, tuple[str, str | None] | None]:
    """(bound name, (module, attribute)) of one imported name; attribute None: a module."""
    if isinstance(node, ast.Import):
        if alias.asname:
            return alias.asname, (alias.name, None)
        top = alias.name.split(".")[0]
        return top, (top, None)
    bound = alias.asname or alias.name
    base = _import_base(node, package)
    if base is None:
        return bound, None
    return bound, (base, alias.name)
