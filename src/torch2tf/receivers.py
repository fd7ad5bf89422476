"""Which receivers of tensor-method-named calls are not known to be tensors.

``x.flatten()`` becomes ``tf.reshape(x, [-1])`` only when ``x`` is a tensor. Real code calls
methods of the same names on other objects: torchtuples' ``tuplefy(a, b).flatten()`` is a tuple
tree, ``"a,b".split(",")`` a string. Rewriting those would change what the code computes, so
each receiver of a method call inside a module class is classified here, on Python's ``ast``:

- a **Python object** (a literal, a display, a builtin such as ``list()``, an instance of a class
  of this file that is not a module, a function of this file returning only such values): the
  call is left as written, which is exact;
- **unknown** (the result of a function that is neither torch's nor analysable here: another
  package's, another file's): the call is reported, never guessed;
- anything else (parameters, torch results, layers' outputs, arithmetic): a tensor, as before.
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Collection
from dataclasses import dataclass

from torch2tf.tensor_facts import Key, key_of

OBJECT, UNKNOWN = "object", "unknown"

# Builtins whose result is never a tensor.
_PYTHON_OBJECTS = frozenset(
    "list tuple dict set frozenset range len int float str bool sorted zip enumerate reversed "
    "map filter iter type repr format vars dir".split()
)
# Functions outside torch known to return a tensor of their (tensor) input.
_TENSOR_FUNCTIONS = ("einops.",)


@dataclass(frozen=True)
class Receiver:
    """A receiver that is not known to be a tensor: ``kind`` is ``object`` or ``unknown``;
    ``origin`` is the call or value it comes from, as written."""

    kind: str
    origin: str


def classify_receivers(
    tree: ast.Module,
    source: str,
    qualify: Callable[[str], str | None],
    method_names: Collection[str],
    module_classes: Collection[str],
) -> dict[Key, Receiver]:
    """Receivers of ``<receiver>.<method>(...)`` calls in methods of this file's classes (where
    ``method`` is a tensor method's name) that are not known to be tensors, by source range."""
    lines = source.splitlines()
    functions = {n.name: n for n in tree.body if isinstance(n, ast.FunctionDef)}
    plain_classes = {
        n.name for n in tree.body if isinstance(n, ast.ClassDef) and n.name not in module_classes
    }
    found: dict[Key, Receiver] = {}
    for cls in (n for n in tree.body if isinstance(n, ast.ClassDef)):
        for method in (n for n in cls.body if isinstance(n, ast.FunctionDef)):
            origins = _Origins(method, functions, plain_classes, qualify)
            for node in ast.walk(method):
                if (
                    isinstance(node, ast.Call)
                    and isinstance(node.func, ast.Attribute)
                    and node.func.attr in method_names
                ):
                    receiver = origins.of(node.func.value)
                    if receiver is not None:
                        found[key_of(node.func.value, lines)] = receiver
    return found


class _Origins:
    """Classifies expressions of one function, following its local names to their values."""

    def __init__(
        self,
        func: ast.FunctionDef,
        functions: dict[str, ast.FunctionDef],
        plain_classes: set[str],
        qualify: Callable[[str], str | None],
    ) -> None:
        self.functions = functions
        self.plain_classes = plain_classes
        self.qualify = qualify
        self.bindings = _bindings(func)
        self.visiting: set[str] = set()

    def of(self, node: ast.AST) -> Receiver | None:
        if isinstance(node, ast.Constant):
            return Receiver(OBJECT, ast.unparse(node))
        if isinstance(node, (ast.List, ast.Tuple, ast.Dict, ast.Set, ast.JoinedStr)):
            return Receiver(OBJECT, ast.unparse(node))
        if isinstance(node, (ast.ListComp, ast.DictComp, ast.SetComp, ast.GeneratorExp)):
            return Receiver(OBJECT, ast.unparse(node))
        if isinstance(node, ast.Name):
            return self._name(node)
        if isinstance(node, ast.Call):
            return self._call(node)
        return None

    def _name(self, node: ast.Name) -> Receiver | None:
        """The kind of the last value assigned to the name above its use (a loop's later
        assignments are not followed: ``h = layer(h)`` keeps ``h`` a tensor)."""
        where = (node.lineno, node.col_offset)
        values = [v for at, v in self.bindings.get(node.id, []) if at < where]
        if not values or values[-1] is None or node.id in self.visiting:
            return None  # a parameter, a loop variable, an unpacked value: as before
        self.visiting.add(node.id)
        try:
            return self.of(values[-1])
        finally:
            self.visiting.discard(node.id)

    def _call(self, call: ast.Call) -> Receiver | None:
        func = call.func
        written = ast.unparse(func)
        origin = f"{written}(...)"
        if written.startswith("self.") or written in ("super", "getattr"):
            return None  # a layer, a method of the class: translated as such
        qualified = self.qualify(written)
        if qualified is not None:
            if qualified.startswith("torch.") or qualified.startswith(_TENSOR_FUNCTIONS):
                return None
            return Receiver(UNKNOWN, origin)
        if isinstance(func, ast.Attribute):  # a method of a value: as that value
            return self.of(func.value)
        if written in self.plain_classes or written in _PYTHON_OBJECTS:
            return Receiver(OBJECT, origin)
        if written in self.functions:
            return self._function(self.functions[written], origin)
        return Receiver(UNKNOWN, origin)

    def _function(self, func: ast.FunctionDef, origin: str) -> Receiver | None:
        """A function of this file: a Python object when every value it returns is one."""
        if func.name in self.visiting:
            return Receiver(UNKNOWN, origin)  # recursion: not followed
        inner = _Origins(func, self.functions, self.plain_classes, self.qualify)
        inner.visiting = self.visiting | {func.name}
        returns = [r.value for r in ast.walk(func) if isinstance(r, ast.Return) and r.value]
        kinds = [inner.of(v) for v in returns]
        if returns and all(k is not None and k.kind == OBJECT for k in kinds):
            return Receiver(OBJECT, origin)
        return None


def _bindings(func: ast.FunctionDef) -> dict[str, list[tuple[tuple[int, int], ast.expr | None]]]:
    """Each local name's assigned values with their positions, in source order."""
    found: dict[str, list[tuple[tuple[int, int], ast.expr | None]]] = {}
    for node in ast.walk(func):
        if isinstance(node, ast.Assign):
            targets, value = node.targets, node.value
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            targets, value = [node.target], node.value
        else:
            continue
        at = (node.end_lineno or node.lineno, node.end_col_offset or 0)  # bound after it
        for target in targets:
            if isinstance(target, ast.Name):
                found.setdefault(target.id, []).append((at, value))
            else:  # unpacked: the elements' kinds are not followed (tensors, as before)
                for name in ast.walk(target):
                    if isinstance(name, ast.Name):
                        found.setdefault(name.id, []).append((at, None))
    for values in found.values():
        values.sort(key=lambda pair: pair[0])
    return found
