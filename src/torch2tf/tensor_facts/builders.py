"""What an attribute of ``__init__`` holds when it is not a layer constructed in place:
a layer a project function returns (``conv3x3(...)``), a layer class held by a name
(``norm_layer = nn.BatchNorm2d; norm_layer(planes)``), or a Sequential a method builds from
a list (``nn.Sequential(*layers)`` of ``block(...)``, ``block`` a project class)."""

from __future__ import annotations

import ast
from dataclasses import dataclass, field

from torch2tf.tensor_facts.syntax import _dotted, _self_attr


@dataclass
class _Layer:
    """A layer (``qualified``, built by ``call``) or, for ``qualified == MODULE``, an instance
    of one of ``classes`` (project classes of the file)."""

    qualified: str
    call: ast.AST  # the constructor call; for a module passed in, the value assigned
    elements: list[_Layer | None] = field(default_factory=list)  # a Sequential's, in order
    classes: tuple[str, ...] = ()
    repeated: bool = False  # a Sequential of ``elements`` repeated a number of times


MODULE = "module"


def _returned(func: ast.FunctionDef) -> list[ast.expr]:
    return [n.value for n in ast.walk(func) if isinstance(n, ast.Return) and n.value is not None]


def _assigned(func: ast.FunctionDef, target: str) -> list[ast.expr]:
    """The values ``func`` assigns to ``target`` (a local name or ``self.x``)."""
    values = []
    for node in ast.walk(func):
        if isinstance(node, (ast.Assign, ast.AnnAssign)) and node.value is not None:
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            if any(_dotted(t) == target for t in targets):
                values.append(node.value)
    return values


class Builders:
    """Methods of the file analysis (:mod:`torch2tf.tensor_facts.analysis`)."""

    classes: dict[str, ast.ClassDef]
    functions: dict[str, ast.FunctionDef]
    layer_names: set[str]
    given: dict[tuple[str, str], dict[int, _Layer]]  # (class, parameter) -> layers passed

    def qualify(self, name: str) -> str | None:
        raise NotImplementedError

    def built(self, node: ast.AST, func: ast.FunctionDef | None, cls: ast.ClassDef, depth=0):
        """The layer or module ``node`` (an expression of ``func``, a method of ``cls``) builds;
        None when it is not known statically."""
        if not isinstance(node, ast.Call) or depth > 8:
            return None
        name = _dotted(node.func) or ""
        qualified = self.qualify(name)
        if qualified in self.layer_names:
            found = _Layer(qualified, node)
            if qualified == "torch.nn.Sequential":
                found.elements = [self.built(a, func, cls, depth + 1) for a in node.args]
                if len(node.args) == 1 and isinstance(node.args[0], ast.Starred):
                    return self._from_list(node, node.args[0].value, func, cls, depth)
            return found
        if name in self.classes:
            self._arguments(node, (name,), func, cls, depth)
            return _Layer(MODULE, node, classes=(name,))
        if name in self.functions:  # a project function returning one layer
            results = [
                self.built(r, self.functions[name], cls, depth + 1)
                for r in _returned(self.functions[name])
            ]
            if len(results) == 1:
                return results[0]
            return None
        method = _self_attr(node.func)
        methods = {f.name: f for f in cls.body if isinstance(f, ast.FunctionDef)}
        if method in methods:
            results = [
                self.built(r, methods[method], cls, depth + 1) for r in _returned(methods[method])
            ]
            return results[0] if len(results) == 1 else None
        held = self._held(node.func, func, cls, depth)
        if held in self.layer_names:  # norm_layer(planes), norm_layer = nn.BatchNorm2d
            return _Layer(held, node)
        if isinstance(held, tuple):
            self._arguments(node, held, func, cls, depth)
            return _Layer(MODULE, node, classes=held)
        return None

    def _arguments(self, call: ast.Call, classes, func, cls: ast.ClassDef, depth) -> None:
        """Layers built by the caller and passed to a project class (``downsample``, a local
        ``nn.Sequential``), noted under the class's parameter for its own facts."""
        for name in classes:
            init = next(
                (f for f in self.classes[name].body if getattr(f, "name", "") == "__init__"), None
            )
            if init is None or func is None:
                continue
            params = [a.arg for a in init.args.args][1:]
            pairs = list(zip(params, call.args, strict=False))
            pairs += [(k.arg, k.value) for k in call.keywords if k.arg in params]
            for param, value in pairs:
                if not isinstance(value, ast.Name):
                    continue
                made = [self.built(v, func, cls, depth + 1) for v in _assigned(func, value.id)]
                made = [m for m in made if m is not None and m.qualified != MODULE]
                if len(made) == 1:
                    self.given.setdefault((name, param), {})[id(made[0].call)] = made[0]

    def _held(self, node: ast.AST, func: ast.FunctionDef | None, cls: ast.ClassDef, depth):
        """The layer class (qualified name) or project classes (a tuple) a name holds:
        assigned one (``norm_layer = nn.BatchNorm2d``, its ``None`` default replaced), or a
        parameter annotated with classes of this file (``block: type[Union[A, B]]``)."""
        if depth > 8:
            return None
        attr = _self_attr(node)
        if attr is not None:
            init = next((f for f in cls.body if getattr(f, "name", "") == "__init__"), None)
            values = _assigned(init, f"self.{attr}") if init is not None else []
            found = {self._value(v, init, cls, depth + 1) for v in values}
            return found.pop() if len(found) == 1 else None
        if not isinstance(node, ast.Name) or func is None:
            return None
        args = func.args
        params = {a.arg: a for a in [*args.posonlyargs, *args.args, *args.kwonlyargs]}
        values = _assigned(func, node.id)
        found = {self._value(v, func, cls, depth + 1) for v in values}
        if node.id in params:
            annotated = self._annotated(params[node.id].annotation)
            if annotated:
                found.add(annotated)
            elif not values:
                return self._passed(node.id, func, cls, depth)
            # a None default replaced by a layer class: ``if norm_layer is None: ...``
        return found.pop() if len(found) == 1 else None

    def _passed(self, name: str, func: ast.FunctionDef, cls: ast.ClassDef, depth):
        """What every call of the method ``func`` passes as its parameter ``name``
        (``self._make_layer(block, ...)`` with ``block`` a parameter of __init__)."""
        params = [a.arg for a in func.args.args]
        if name not in params or params[0] != "self":
            return None
        index = params.index(name) - 1
        found = set()
        for caller in (f for f in cls.body if isinstance(f, ast.FunctionDef)):
            for call in ast.walk(caller):
                if not (isinstance(call, ast.Call) and _self_attr(call.func) == func.name):
                    continue
                given = [k.value for k in call.keywords if k.arg == name]
                if not given and index < len(call.args):
                    given = [call.args[index]]
                if not given or isinstance(given[0], ast.Starred):
                    return None
                found.add(self._value(given[0], caller, cls, depth + 1))
        return found.pop() if len(found) == 1 else None

    def _value(self, node: ast.expr, func: ast.FunctionDef, cls: ast.ClassDef, depth):
        if isinstance(node, (ast.Name, ast.Attribute)):
            qualified = self.qualify(_dotted(node) or "")
            if qualified in self.layer_names:
                return qualified
            if _dotted(node) in self.classes:
                return (_dotted(node),)
            if _self_attr(node) is not None or isinstance(node, ast.Name):
                return self._held(node, func, cls, depth)
        return None

    def _annotated(self, annotation: ast.AST | None) -> tuple[str, ...] | None:
        """Project classes named in ``type[Union[A, B]]`` / ``type[A]`` / ``type[A | B]``."""
        if annotation is None:
            return None
        text = ast.unparse(annotation)
        if not text.startswith(("type[", "Type[")):
            return None
        names = [n.id for n in ast.walk(annotation) if isinstance(n, ast.Name)]
        found = tuple(n for n in names if n in self.classes)
        return found or None

    def _from_list(self, node: ast.Call, items: ast.AST, func, cls, depth) -> _Layer | None:
        """``nn.Sequential(*layers)``: the layers appended to the local list, in a loop or not;
        one Sequential repeating them when they all build the same thing."""
        if not isinstance(items, ast.Name) or func is None:
            return None
        elements = []
        for call in ast.walk(func):
            if (
                isinstance(call, ast.Call)
                and isinstance(call.func, ast.Attribute)
                and call.func.attr == "append"
                and _dotted(call.func.value) == items.id
                and len(call.args) == 1
            ):
                elements.append(self.built(call.args[0], func, cls, depth + 1))
        starts = _assigned(func, items.id)
        if any(not (isinstance(v, ast.List) and not v.elts) for v in starts) or not elements:
            return None
        if None in elements:
            return None
        return _Layer("torch.nn.Sequential", node, elements, repeated=True)
