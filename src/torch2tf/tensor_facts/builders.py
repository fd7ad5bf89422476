"""What an attribute of ``__init__`` holds when it is not a layer constructed in place:
a layer a project function returns (``conv3x3(...)``), a layer class held by a name
(``norm_layer = nn.BatchNorm2d; norm_layer(planes)``), or a Sequential a method builds from
a list (``nn.Sequential(*layers)`` of ``block(...)``, ``block`` a project class)."""

from __future__ import annotations

import ast

from torch2tf.rules.weight_norm import NAMES as WEIGHT_NORMS
from torch2tf.tensor_facts.added_modules import (
    _assigned,
    _default,
    _init_of,
    _keyed,
    _super_init,
    held_in_order,
)
from torch2tf.tensor_facts.built_layer import ALTERNATIVES, MODULE, _Layer
from torch2tf.tensor_facts.listed import calls_a_local, filtered_variants, is_none, spliced
from torch2tf.tensor_facts.live import never_holds
from torch2tf.tensor_facts.live_built import live_element
from torch2tf.tensor_facts.project import is_project_class, project_function_node
from torch2tf.tensor_facts.syntax import _dotted, _self_attr


def _returned(func: ast.FunctionDef) -> list[ast.expr]:
    return [n.value for n in ast.walk(func) if isinstance(n, ast.Return) and n.value is not None]


class Builders:
    """Methods of the file analysis (:mod:`torch2tf.tensor_facts.analysis`)."""

    classes: dict[str, ast.ClassDef]
    functions: dict[str, ast.FunctionDef]
    layer_names: set[str]
    given: dict[tuple[str, str], dict[int, _Layer]]  # (class, parameter) -> layers passed
    given_held: dict[tuple[str, str], set]  # (class, parameter) -> project classes passed
    bound: dict[str, object] = {}  # while reading a Sequential subclass: see _bindings
    held_classes: dict[str, set[str]] = {}  # name -> module classes of the file assigned to it

    def qualify(self, name: str, node: ast.AST | None = None) -> str | None:
        raise NotImplementedError

    def built(self, node: ast.AST, func: ast.FunctionDef | None, cls: ast.ClassDef, depth=0):
        """The layer or module ``node`` (an expression of ``func``, a method of ``cls``) builds;
        None when it is not known statically."""
        if isinstance(node, ast.Name) and func is not None and depth <= 8:
            # a layer held by a local name (``final_conv = nn.Conv2d(...)``), assigned once
            values = _assigned(func, node.id)
            return self.built(values[0], func, cls, depth + 1) if len(values) == 1 else None
        if isinstance(node, ast.IfExp) and depth <= 8:
            return self._either(node, func, cls, depth)
        if not isinstance(node, ast.Call) or depth > 8:
            return None
        name = _dotted(node.func) or ""
        qualified = self.qualify(name, node.func)
        if qualified in WEIGHT_NORMS and node.args:  # the layer it wraps, as it is
            inner = node.args[0]
            attr = _self_attr(inner)
            if attr is not None and func is not None:
                made = [v for v in _assigned(func, f"self.{attr}") if v is not node]
                inner = made[0] if len(made) == 1 else inner
            return self.built(inner, func, cls, depth + 1)
        if qualified in self.layer_names:
            found = _Layer(qualified, node)
            if qualified == "torch.nn.Sequential":
                variants = filtered_variants(node)  # nn.Sequential(*filter(None, [...]))
                if variants is not None:
                    made = [self.built(v, func, cls, depth + 1) for v in variants]
                    if None in made:
                        return None
                    return made[0] if len(made) == 1 else _Layer(ALTERNATIVES, node, made)
                node = spliced(node)  # nn.Sequential(*[a, b]) is nn.Sequential(a, b)
                found = _Layer(qualified, node)
                if any(isinstance(a, ast.Starred) for a in node.args):
                    return self._with_lists(node, func, cls, depth)
                found.elements = [self._element(a, func, cls, depth + 1) for a in node.args]
                pairs = self._ordered_dict(node.args[0], func) if len(node.args) == 1 else None
                if pairs is not None:  # nn.Sequential(OrderedDict([(key, layer), ...]))
                    found.elements = []
                    for key, value in pairs:
                        found.add(key, self.added(value, func, cls, depth + 1))
            return found
        if name in self.classes:
            self._arguments(node, (name,), func, cls, depth)
            return _Layer(MODULE, node, classes=(name,))
        if is_project_class(qualified):  # of another file: its facts are that file's
            return _Layer(MODULE, node, classes=(qualified,))
        if name in self.functions:  # a project function returning one layer
            results = [
                self.built(r, self.functions[name], cls, depth + 1)
                for r in _returned(self.functions[name])
            ]
            if len(results) == 1:
                return results[0]
            return self._factory(node, self.functions[name], cls, depth)
        other = project_function_node(qualified) if qualified else None
        if other is not None:  # a factory of another file: what it returns, as below
            return self._factory(node, other, cls, depth, own=False)
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

    def added(self, node: ast.AST, func, cls: ast.ClassDef, depth: int = 0) -> _Layer | None:
        """The layer ``node`` builds, or the one layer a local name of ``func`` is assigned."""
        if isinstance(node, ast.Name) and func is not None:
            made = [self._element(v, func, cls, depth + 1) for v in _assigned(func, node.id)]
            return made[0] if len(made) == 1 else None
        return self._element(node, func, cls, depth)

    def _ordered_dict(self, node: ast.AST, func) -> list[tuple[str, ast.expr]] | None:
        """The (key, layer) pairs of ``OrderedDict([...])`` (or of a local list of pairs,
        appended to in a loop): literal keys, else ``*`` (computed at run time)."""
        if not (isinstance(node, ast.Call) and len(node.args) == 1):
            return None
        if (self.qualify(_dotted(node.func) or "", node.func) or _dotted(node.func)) not in (
            "collections.OrderedDict",
            "OrderedDict",
        ):
            return None
        items: list[ast.expr] = []
        source = node.args[0]
        if isinstance(source, (ast.List, ast.Tuple)):
            items = list(source.elts)
        elif isinstance(source, ast.Name) and func is not None:
            starts = _assigned(func, source.id)
            if len(starts) != 1 or not isinstance(starts[0], ast.List):
                return None
            items = list(starts[0].elts)
            for call in ast.walk(func):
                if (
                    isinstance(call, ast.Call)
                    and isinstance(call.func, ast.Attribute)
                    and call.func.attr == "append"
                    and _dotted(call.func.value) == source.id
                    and len(call.args) == 1
                ):
                    items.append(call.args[0])
        pairs = []
        for item in items:
            if not (isinstance(item, ast.Tuple) and len(item.elts) == 2):
                return None
            key = item.elts[0]
            literal = key.value if isinstance(key, ast.Constant) else None
            pairs.append((literal if isinstance(literal, str) else "*", item.elts[1]))
        return pairs

    def _arguments(self, call: ast.Call, classes, func, cls: ast.ClassDef, depth) -> None:
        """Layers built by the caller and passed to a project class (``downsample``, a local
        ``nn.Sequential``), noted under the class's parameter for its own facts."""
        for name in classes:
            if name not in self.classes:  # of another file: its facts are that file's
                continue
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
                held = self._held(value, func, cls, depth + 1)
                if isinstance(held, tuple):  # a project class passed as block=Block
                    self.given_held.setdefault((name, param), set()).add(held)
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
        if node.id in self.bound:  # a layer class a subclass passes to super().__init__
            return self.bound[node.id]
        passed = self.given_held.get((cls.name, node.id), set())
        if len(passed) == 1 and func.name == "__init__":  # the classes every caller passes
            return next(iter(passed))
        args = func.args
        params = {a.arg: a for a in [*args.posonlyargs, *args.args, *args.kwonlyargs]}
        values = _assigned(func, node.id)
        found = {self._value(v, func, cls, depth + 1) for v in values}
        if node.id in params:
            annotated = self._annotated(params[node.id].annotation)
            if annotated:
                found.add(annotated)
            elif not values:
                passed = self._passed(node.id, func, cls, depth)
                default = _default(func, node.id)
                if passed is None and default is not None:
                    # its default (``inverted_residual=InvertedResidual``): another class
                    # passed in is checked per layer by verification, as for any module
                    return self._value(default, func, cls, depth + 1)
                return passed
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
        if isinstance(node, ast.Call) and node.args and not isinstance(node.args[0], ast.Starred):
            if self.qualify(_dotted(node.func) or "", node.func) == "functools.partial":
                # partial(LayerNorm2d, eps=1e-6): its class's layout (arguments change none)
                return self._value(node.args[0], func, cls, depth + 1)
        if isinstance(node, ast.Subscript) and isinstance(node.value, ast.Name):
            # ``conv_block = blocks[0]``, ``blocks = [BasicConv2d, Inception, ...]`` (GoogLeNet)
            index = node.slice.value if isinstance(node.slice, ast.Constant) else None
            lists = _assigned(func, node.value.id)
            found = {
                self._value(v.elts[index], func, cls, depth + 1)
                for v in lists
                if isinstance(v, (ast.List, ast.Tuple))
                and isinstance(index, int)
                and not isinstance(index, bool)
                and -len(v.elts) <= index < len(v.elts)
            }
            return found.pop() if len(found) == 1 and len(lists) == 1 else None
        if isinstance(node, (ast.Name, ast.Attribute)):
            qualified = self.qualify(_dotted(node) or "", node)
            if qualified in self.layer_names:
                return qualified
            if _dotted(node) in self.classes:
                return (_dotted(node),)
            if is_project_class(qualified):
                return (qualified,)
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
        """``nn.Sequential(*layers)``: the layers the local list starts with, then those
        appended, extended or added to it, in a loop or not; one Sequential repeating them
        when they all build the same thing."""
        if not isinstance(items, ast.Name) or func is None:
            return None
        starts = _assigned(func, items.id)
        if not starts or any(not isinstance(v, ast.List) for v in starts):
            return None
        made = [e for v in starts for e in v.elts]
        for call in ast.walk(func):
            if (
                isinstance(call, ast.Call)
                and isinstance(call.func, ast.Attribute)
                and call.func.attr in ("append", "extend")
                and _dotted(call.func.value) == items.id
                and len(call.args) == 1
            ):
                added = call.args[0]
                if call.func.attr == "append":
                    made.append(added)
                elif isinstance(added, (ast.List, ast.Tuple)):
                    made.extend(added.elts)
                else:
                    return None
            elif isinstance(call, ast.AugAssign) and _dotted(call.target) == items.id:
                if not isinstance(call.value, (ast.List, ast.Tuple)):
                    return None
                made.extend(call.value.elts)
        elements = [self._element(m, func, cls, depth + 1) for m in made]
        if not elements or None in elements:
            return None
        return _Layer("torch.nn.Sequential", node, elements, repeated=True)

    def _with_lists(self, node: ast.Call, func, cls, depth) -> _Layer | None:
        """``nn.Sequential(first, *remaining)``: layers and starred lists, taken as one
        Sequential repeating them (each under ``<path>.*``, each keeping the layout)."""
        elements: list[_Layer | None] = []
        for arg in node.args:
            if isinstance(arg, ast.Starred):
                listed = self._from_list(node, arg.value, func, cls, depth)
                if listed is None:
                    return None
                elements.extend(listed.elements)
            else:
                elements.append(self._element(arg, func, cls, depth + 1))
        if not elements or None in elements:
            return None
        return _Layer("torch.nn.Sequential", node, elements, repeated=True)

    def _either(self, node: ast.IfExp, func, cls, depth: int) -> _Layer | None:
        """``drop_block() if drop_block is not None else nn.Identity()``: each branch's
        layer (one branch may be None: nothing is applied then), as for an attribute assigned
        in each branch of an ``if``; a layer class passed in is taken as :meth:`_element`
        takes it."""
        branches = [b for b in (node.body, node.orelse) if not is_none(b)]
        found = [self._element(b, func, cls, depth + 1) for b in branches]
        if not found or None in found:
            return None
        return found[0] if len(found) == 1 else _Layer(ALTERNATIVES, node, found)

    def _factory(self, call: ast.Call, func: ast.FunctionDef, cls, depth: int, own=True):
        """A function returning a layer in several places (timm's ``create_aa``: ``noop()``
        or ``aa_layer(...)``, a class passed in, or None): each layer it can return, as the
        branches of an ``if``. A call of a parameter or a local (``module_cls(channels)``) is
        a class the caller chose, taken as :meth:`_element` takes it; of another file (``own``
        False), only those and None are read."""
        returned = [r for r in _returned(func) if not is_none(r)]
        found = []
        for value in returned:
            branches = [value]
            if isinstance(value, ast.IfExp):
                branches = [b for b in (value.body, value.orelse) if not is_none(b)]
            for branch in branches:
                made = self._element(branch, func, cls, depth + 1) if own else None
                if made is None and calls_a_local(branch, func):
                    made = _Layer(MODULE, call)
                found.append(made)
        if not found or None in found:
            return None
        return found[0] if len(found) == 1 else _Layer(ALTERNATIVES, call, found)

    def _element(self, node: ast.AST, func, cls, depth) -> _Layer | None:
        """A layer of a list: built as :meth:`built` knows, or by a layer class the caller
        passes in (``norm_layer(channels)``), then taken like a module passed in: to keep a
        map's layout, which verification checks per layer."""
        found = self.built(node, func, cls, depth)
        if found is not None or not isinstance(node, ast.Call) or func is None:
            return found
        callee = node.func
        args = func.args
        params = {a.arg for a in [*args.posonlyargs, *args.args, *args.kwonlyargs]}
        if isinstance(callee, ast.Name) and callee.id in params:
            return _Layer(MODULE, node)
        if isinstance(callee, ast.Attribute) and isinstance(callee.value, ast.Name):
            if callee.value.id != "self":  # ``cnf.block(cnf, ...)``: a class an object holds
                held = tuple(sorted(self.held_classes.get(callee.attr, ())))
                if held:
                    self._arguments(node, held, func, cls, depth)
                return _Layer(MODULE, node, classes=held)
        return None

    def sequential_base(self, cls: ast.ClassDef, depth: int = 0) -> ast.ClassDef | None:
        """The class of the file deriving from nn.Sequential itself that ``cls`` is (or
        derives from), when none of them defines ``forward``."""
        if depth > 8 or any(getattr(f, "name", "") == "forward" for f in cls.body):
            return None
        for base in cls.bases:
            if self.qualify(_dotted(base) or "", base) == "torch.nn.Sequential":
                return cls
            if _dotted(base) in self.classes:
                return self.sequential_base(self.classes[_dotted(base)], depth + 1)
        return None

    def sequential_layers(self, cls: ast.ClassDef) -> _Layer | None:
        """The layers a Sequential subclass holds: the arguments of its ``super().__init__``
        (in the class deriving from nn.Sequential), the layer classes its subclasses pass
        bound (``Conv2dNormActivation`` passing ``torch.nn.Conv2d`` as ``conv_layer``)."""
        base = self.sequential_base(cls)
        init = _init_of(base) if base is not None else None
        call = _super_init(init) if init is not None else None
        if base is None or init is None or call is None:
            return None
        self.bound = self._bindings(cls, base)
        try:
            args = call.args
            if not args and not call.keywords:  # layers assigned or added after it, in order
                found = _Layer("torch.nn.Sequential", call)
                held = held_in_order(init)
                for key, value, module in held:
                    element = self.added(value, init, base, 1)
                    if module and never_holds(cls.name, key):
                        continue  # added in a branch the live model did not take
                    if element is None and module:  # Conv[...](...): the live model's
                        keys = [k for k, _, _ in held]
                        element = live_element(cls.name, key, keys, value, frozenset(self.classes))
                    if element is not None or module:
                        found.add(key, element)
                return found
            if len(args) == 1 and isinstance(args[0], ast.Starred):
                return self._from_list(call, args[0].value, init, base, 0)
            pairs = _keyed(init, args[0]) if len(args) == 1 else None
            if pairs is not None:  # super().__init__(layers), layers["a"] = ... before
                found = _Layer("torch.nn.Sequential", call)
                for key, value in pairs:
                    found.add(key, self.added(value, init, base, 1))
                return found
            elements = [self._element(a, init, base, 1) for a in args]
            if None in elements or any(isinstance(a, ast.Starred) for a in args):
                return None
            return _Layer("torch.nn.Sequential", call, elements)
        finally:
            self.bound = {}

    def _bindings(self, cls: ast.ClassDef, base: ast.ClassDef) -> dict[str, object]:
        """Parameters of ``base.__init__`` -> the layer class ``cls``'s chain of
        ``super().__init__`` calls passes them (when one is known)."""
        bound: dict[str, object] = {}
        while cls is not base:
            parent = self.classes[next(_dotted(b) for b in cls.bases if _dotted(b) in self.classes)]
            init, parent_init = _init_of(cls), _init_of(parent)
            call = _super_init(init) if init is not None else None
            if call is None or parent_init is None:
                return {}
            params = [a.arg for a in parent_init.args.args][1:]
            pairs = list(zip(params, call.args, strict=False))
            pairs += [(k.arg, k.value) for k in call.keywords if k.arg in params]
            outer = bound
            bound = {}
            for param, value in pairs:
                if isinstance(value, ast.Starred):
                    break
                if isinstance(value, ast.Name) and value.id in outer:
                    bound[param] = outer[value.id]
                else:
                    self.bound = {}
                    held = self._value(value, init, cls, 1)
                    if held is not None:
                        bound[param] = held
            cls = parent
        return bound
