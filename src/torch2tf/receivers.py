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
    qualify: Callable[..., str | None],
    method_names: Collection[str],
    module_classes: Collection[str],
    project_objects: Collection[str] = (),
) -> dict[Key, Receiver]:
    """Receivers of ``<receiver>.<method>(...)`` calls in methods of this file's classes and
    in the functions they call (where
    ``method`` is a tensor method's name) that are not known to be tensors, by source range.
    ``project_objects``: qualified names of other files' functions returning Python objects."""
    lines = source.splitlines()
    functions = {n.name: n for n in tree.body if isinstance(n, ast.FunctionDef)}
    plain_classes = {
        n.name for n in tree.body if isinstance(n, ast.ClassDef) and n.name not in module_classes
    }
    found: dict[Key, Receiver] = {}
    classes = [n for n in tree.body if isinstance(n, ast.ClassDef)]
    methods = [n for cls in classes for n in cls.body if isinstance(n, ast.FunctionDef)]
    helpers = tensor_functions(tree, module_classes)
    for method in methods + [functions[name] for name in sorted(helpers)]:
        origins = _Origins(method, functions, plain_classes, qualify, project_objects)
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


AUTOGRAD_FUNCTION = ("torch.autograd.Function", "torch.autograd.function.Function")


def autograd_classes(tree: ast.Module, qualify: Callable[[str], str | None]) -> set[str]:
    """The file's classes deriving from torch.autograd.Function: their static forward and
    backward take and give tensors."""
    return {
        node.name
        for node in tree.body
        if isinstance(node, ast.ClassDef)
        and any(qualify(ast.unparse(base)) in AUTOGRAD_FUNCTION for base in node.bases)
    }


# torch's ctx API that TorchFunctionContext does not have (it has save_for_backward and
# saved_tensors; attributes set in forward are plain ones).
CTX_UNTRANSLATED = frozenset(
    {
        "needs_input_grad",
        "mark_dirty",
        "mark_non_differentiable",
        "set_materialize_grads",
        "saved_variables",
        "save_for_forward",
    }
)


def autograd_problems(tree: ast.Module, names: set[str]) -> list[tuple[ast.AST, str]]:
    """What of the autograd functions ``names`` TorchFunction does not do as torch does: a
    ``setup_context`` (forward then takes no ctx), forward-mode ``jvp``, ctx's other API."""
    found: list[tuple[ast.AST, str]] = []
    for cls in (n for n in tree.body if isinstance(n, ast.ClassDef) and n.name in names):
        for method in (n for n in cls.body if isinstance(n, ast.FunctionDef)):
            if method.name in ("setup_context", "jvp", "vmap"):
                found.append((method, f"an autograd.Function's {method.name} is not translated"))
            for node in ast.walk(method):
                if isinstance(node, ast.Attribute) and node.attr in CTX_UNTRANSLATED:
                    found.append((node, f"ctx.{node.attr} is not translated"))
        decorators = [
            d for m in cls.body if isinstance(m, ast.FunctionDef) for d in m.decorator_list
        ]
        for decorator in decorators:
            if ast.unparse(decorator).split(".")[-1] == "once_differentiable":
                found.append((decorator, "@once_differentiable is not translated"))
    return found


def number_shapes(
    tree: ast.Module, source: str, qualify: Callable[[str], str | None]
) -> dict[Key, str]:
    """``x.shape`` read inside ``int(...)``, ``float(...)``, ``range(...)`` or a ``math``/NumPy
    call (``int(np.ceil(x.shape[0] / n))``): position -> ``file line:column`` text of it."""
    lines = source.splitlines()
    found: dict[Key, str] = {}
    for call in ast.walk(tree):
        if not isinstance(call, ast.Call):
            continue
        name = ast.unparse(call.func)
        qualified = qualify(name) or name
        if qualified not in ("int", "float", "range") and not qualified.startswith(
            ("math.", "numpy.")
        ):
            continue
        for node in ast.walk(call):
            if isinstance(node, ast.Attribute) and node.attr == "shape":
                found[key_of(node, lines)] = f"{node.lineno}:{node.col_offset + 1}"
    return found


def tensor_functions(tree: ast.Module, module_classes: Collection[str]) -> set[str]:
    """The file's top-level functions that its module classes call (``rotate_half(q)`` in
    forward) or hold as values to call later (``self.f = staticmethod(apply_rotary_emb)``),
    directly or through each other: their tensor methods are translated as the classes' are."""
    functions = {n.name: n for n in tree.body if isinstance(n, ast.FunctionDef)}

    def called(node: ast.AST) -> set[str]:
        return {
            n.id
            for n in ast.walk(node)
            if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load) and n.id in functions
        }

    classes = [n for n in tree.body if isinstance(n, ast.ClassDef) and n.name in module_classes]
    found: set[str] = set().union(*(called(c) for c in classes))
    frontier = set(found)
    while frontier:
        new = set().union(*(called(functions[name]) for name in frontier)) - found
        found |= new
        frontier = new
    return found


def object_functions(
    tree: ast.Module, qualify: Callable[..., str | None], module_classes: Collection[str]
) -> set[str]:
    """This file's functions returning only Python objects (never tensors), by name: another
    file of the project calling one may leave tensor-named methods of its result as written
    (torchtuples' ``tuplefy(...)``, a tuple tree, then ``.flatten()``)."""
    functions = {n.name: n for n in tree.body if isinstance(n, ast.FunctionDef)}
    plain_classes = {
        n.name for n in tree.body if isinstance(n, ast.ClassDef) and n.name not in module_classes
    }
    found = set()
    for name, func in functions.items():
        origins = _Origins(func, functions, plain_classes, qualify)
        kind = origins._function(func, name, None)
        if kind is not None and kind.kind == OBJECT:
            found.add(name)
    return found


class _Origins:
    """Classifies expressions of one function, following its local names to their values."""

    def __init__(
        self,
        func: ast.FunctionDef,
        functions: dict[str, ast.FunctionDef],
        plain_classes: set[str],
        qualify: Callable[..., str | None],
        project_objects: Collection[str] = (),
    ) -> None:
        self.functions = functions
        self.plain_classes = plain_classes
        self.qualify = qualify
        self.project_objects = project_objects
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
        qualified = self.qualify(written, func)
        if qualified is not None:
            if qualified.startswith("torch.") or qualified.startswith(_TENSOR_FUNCTIONS):
                return None
            if qualified in self.project_objects:
                return Receiver(OBJECT, origin)
            return Receiver(UNKNOWN, origin)
        if isinstance(func, ast.Attribute):  # a method of a value: as that value
            return self.of(func.value)
        if written in self.plain_classes or written in _PYTHON_OBJECTS:
            return Receiver(OBJECT, origin)
        if written in self.functions:
            return self._function(self.functions[written], origin, call)
        return Receiver(UNKNOWN, origin)

    def _function(
        self, func: ast.FunctionDef, origin: str, call: ast.Call | None
    ) -> Receiver | None:
        """A function of this file (or one nested in the function read): a Python object when
        every value it returns is one. A parameter it returns unchanged is the argument
        ``call`` passes for it (torchtuples' ``_tuplefy(data, first=True)``)."""
        if func.name in self.visiting:
            return Receiver(UNKNOWN, origin)  # recursion: not followed
        if func.decorator_list:
            return Receiver(UNKNOWN, origin)  # a decorator may return anything
        nested = {
            n.name: n for n in ast.walk(func) if isinstance(n, ast.FunctionDef) and n is not func
        }
        inner = _Origins(
            func,
            {**self.functions, **nested},
            self.plain_classes,
            self.qualify,
            self.project_objects,
        )
        inner.visiting = self.visiting | {func.name}
        returns = [r.value for r in _own_returns(func) if r.value]
        kinds = [self._passed(func, v, call) or inner.of(v) for v in returns]
        if returns and all(k is not None and k.kind == OBJECT for k in kinds):
            return Receiver(OBJECT, origin)
        return None

    def _passed(self, func: ast.FunctionDef, value: ast.expr, call: ast.Call | None):
        """The kind of the argument ``call`` passes for ``value``, when ``value`` is a
        parameter of ``func`` that it never reassigns; else None."""
        args = func.args
        if call is None or not isinstance(value, ast.Name) or value.id in _bindings(func):
            return None
        if args.posonlyargs or any(isinstance(a, ast.Starred) for a in call.args):
            return None
        names = [a.arg for a in args.args]
        if value.id not in names and value.id not in [a.arg for a in args.kwonlyargs]:
            return None
        given = {k.arg: k.value for k in call.keywords if k.arg is not None}
        given.update(dict(zip(names, call.args, strict=False)))
        if value.id not in given:
            return None  # its default: not followed
        return self.of(given[value.id])


def _own_returns(func: ast.FunctionDef) -> list[ast.Return]:
    """The function's return statements, not those of functions nested in it."""
    found: list[ast.Return] = []
    stack: list[ast.AST] = list(func.body)
    while stack:
        node = stack.pop()
        if isinstance(node, ast.Return):
            found.append(node)
        if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            stack.extend(ast.iter_child_nodes(node))
    return found


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


def tensor_item_assignments(
    tree: ast.Module, source: str, qualify: Callable[..., str | None]
) -> list[tuple[Key, str]]:
    """``x[i] = v`` (or ``x[i] += v``) in a method of this file's classes where ``x`` was last
    made by a torch function: TensorFlow tensors cannot be assigned into, so each is reported
    (positional-encoding tables filled slice by slice are the common case)."""
    lines = source.splitlines()
    found: list[tuple[Key, str]] = []
    for cls in (n for n in tree.body if isinstance(n, ast.ClassDef)):
        for method in (n for n in cls.body if isinstance(n, ast.FunctionDef)):
            bindings = _bindings(method)
            for node in ast.walk(method):
                targets = node.targets if isinstance(node, ast.Assign) else []
                targets = [node.target] if isinstance(node, ast.AugAssign) else targets
                for target in targets:
                    root = target
                    while isinstance(root, ast.Subscript):
                        root = root.value
                    if root is target or not isinstance(root, ast.Name):
                        continue
                    where = (root.lineno, root.col_offset)
                    values = [v for at, v in bindings.get(root.id, []) if at < where]
                    made = _torch_made(values[-1] if values else None, qualify)
                    if made is not None:
                        found.append((key_of(target, lines), f"{root.id} = {made}"))
    return found


def _torch_made(value: ast.expr | None, qualify: Callable[..., str | None]) -> str | None:
    """``torch.zeros(...)`` when ``value`` is a torch function's result (or a tensor method's
    of one), else None."""
    while isinstance(value, ast.Call) and isinstance(value.func, ast.Attribute):
        qualified = qualify(ast.unparse(value.func), value.func)
        if qualified is not None:
            return f"{ast.unparse(value.func)}(...)" if qualified.startswith("torch.") else None
        value = value.func.value  # torch.zeros(n).float(): the receiver made it
    if isinstance(value, ast.Call):
        qualified = qualify(ast.unparse(value.func), value.func)
        if qualified is not None and qualified.startswith("torch."):
            return f"{ast.unparse(value.func)}(...)"
    return None
