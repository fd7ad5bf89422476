"""An init loop over ``self.modules()`` that reaches layers built outside ``__init__`` (by
methods, functions or nested module classes): kept as a loop, run on the Keras layers where
torch runs it, before they are built. A local of the loop reads the layer's constructor
arguments from its Keras twin, or data the file sets on its layers (``float(m.stddev) if
hasattr(m, "stddev") else 0.1``, see data_attributes.py) as it is.

    for m in self.modules():                      for m in torch_modules(self):
        if isinstance(m, nn.Conv2d):          ->      if isinstance(m, tf.keras.layers.Conv2D):
            nn.init.kaiming_normal_(m.weight)             torch_init(m, "kernel", <initializer>)

``isinstance`` is translated only for torch layers whose Keras class no other translated layer
shares (and for classes of the file, translated under their own names); an init that restates
torch's default of every type it reaches (BatchNorm's weight 1, bias 0) is dropped.
``if hasattr(m, "zero_init_last"): m.zero_init_last()`` is kept as it is for a method a class
of the file defines (kept on its Keras twin, init_code/methods.py) and no torch module or
Keras layer has, so that the test holds for the same modules on both sides.
"""

from __future__ import annotations

import libcst as cst

from torch2tf import rules
from torch2tf.init_code.base import Refused, Scope
from torch2tf.init_code.data_attributes import data_names, keras_source, padding_wrapped
from torch2tf.keras_api import KERAS_MODEL_ATTRIBUTES
from torch2tf.names import code_of, dotted, installed_torch_object
from torch2tf.rules import Arg, Unsupported, bind

# torch layers whose Keras classes only they translate to (isinstance then means the same);
# a depthwise Conv1d/Conv2d is Keras's DepthwiseConv1D/2D.
KERAS_CLASSES = {
    "torch.nn.Conv1d": "tf.keras.layers.Conv1D, tf.keras.layers.DepthwiseConv1D",
    "torch.nn.Conv2d": "tf.keras.layers.Conv2D, tf.keras.layers.DepthwiseConv2D",
    "torch.nn.GroupNorm": "tf.keras.layers.GroupNormalization",
    "torch.nn.Linear": "tf.keras.layers.Dense",  # MultiheadAttention's out_proj is both
}
# torch layers sharing a Keras class: isinstance reaches more layers than torch's does.
SHARED_CLASSES = {f"torch.nn.BatchNorm{n}d": "TorchBatchNorm" for n in (1, 2, 3)}
_NORMS = ("BatchNorm1d", "BatchNorm2d", "BatchNorm3d", "GroupNorm", "LayerNorm")
# torch's default value of a parameter, by layer (an init setting it again changes nothing).
DEFAULTS = {
    **{(f"torch.nn.{n}", "weight"): 1.0 for n in _NORMS},
    **{(f"torch.nn.{n}", "bias"): 0.0 for n in _NORMS},
}

_FILLS = {"torch.nn.init.ones_": 1.0, "torch.nn.init.zeros_": 0.0}


class RuntimeLoop:
    """Translates one loop; ``reader`` is the init reader of the class (errors, imports)."""

    def __init__(self, reader, classes: set[str], attribute_layers) -> None:
        self.reader = reader
        self.imports = reader.t.imports
        self.classes = classes  # nn.Module classes of the file
        self.attribute_layers = attribute_layers  # class -> attribute -> torch layer

    def translate(self, loop: cst.For, first: bool) -> str:
        """Keras source for ``loop``; ``first``: no init code ran before it (defaults hold)."""
        self.first = first
        var = _module_of_pair(loop) or loop.target  # for _, m in self.named_modules()
        if not isinstance(var, cst.Name):
            self.reader._refuse(loop.target, "unsupported loop target in init code")
        self.var = var.value
        lines = [f"for {self.var} in torch_modules(self):"]
        for stmt in loop.body.body:
            if not isinstance(stmt, cst.If):
                self.reader._refuse(stmt, "unsupported statement in an init loop", "use isinstance")
            lines += ["    " + line for line in self._if(stmt, "if")]
        return "\n".join(lines) + "\n"

    def _if(self, stmt: cst.If, keyword: str) -> list[str]:
        method = self._has_method(stmt.test)
        if method is not None:  # if hasattr(m, "zero_init_last"): m.zero_init_last()
            if stmt.orelse is not None:
                self.reader._refuse(stmt.orelse, "an else branch in an init loop is not translated")
            lines = [f"{keyword} hasattr({self.var}, {method!r}):"]
            return lines + ["    " + self._method_call(child, method) for child in stmt.body.body]
        test, types, guards = self._test(stmt.test)
        body: list[str] = []
        for child in stmt.body.body:
            body += self._statement(child, types)
        if body and all(line.startswith("pass") for line in body):
            restated = ", ".join(line.split("# ", 1)[1] for line in body)
            body = [f"pass  # torch's defaults already: {restated}"]
        else:
            body = [line for line in body if not line.startswith("pass")]
        lines = [f"{keyword} {test}:"] + ["    " + line for line in body or ["pass"]]
        if isinstance(stmt.orelse, cst.If):
            lines += self._if(stmt.orelse, "elif")
        elif stmt.orelse is not None:
            self.reader._refuse(stmt.orelse, "an else branch in an init loop is not translated")
        return lines

    def _has_method(self, test: cst.BaseExpression) -> str | None:
        """``name`` of ``hasattr(m, "name")``, a method some class of the file defines (kept
        on its Keras twin, see init_code/methods.py) that neither torch's modules nor Keras's
        layers have: then the test holds for the same modules on both sides."""
        if not (
            isinstance(test, cst.Call)
            and dotted(test.func) == "hasattr"
            and len(test.args) == 2
            and dotted(test.args[0].value) == self.var
        ):
            return None
        name = test.args[1].value
        name = name.evaluated_value if isinstance(name, cst.SimpleString) else None
        classes = getattr(self.reader.t, "classes", {})
        if not any(info.method(name) is not None for info in classes.values()):
            self.reader._refuse(test, f"hasattr of {name!r}, which no class of this file defines")
        if name in KERAS_MODEL_ATTRIBUTES or _torch_has(name):
            self.reader._refuse(
                test, f"hasattr of {name!r}: a name torch's modules or Keras's layers have"
            )
        return name

    def _method_call(self, stmt: cst.BaseStatement, method: str) -> str:
        """``m.<method>()`` (constant arguments) under ``hasattr(m, "<method>")``: kept."""
        small = stmt.body[0] if isinstance(stmt, cst.SimpleStatementLine) else None
        call = small.value if isinstance(small, cst.Expr) and len(stmt.body) == 1 else None
        if not (
            isinstance(call, cst.Call)
            and dotted(call.func) == f"{self.var}.{method}"
            and all(rules.const(Arg(code_of(a.value)), None) is not None for a in call.args)
        ):
            self.reader._refuse(stmt, f"only {self.var}.{method}(...) is translated here")
        return code_of(call)

    def _test(self, test: cst.BaseExpression) -> tuple[str, set[str], list[str]]:
        """``isinstance(m, T)`` (``and <attr>.weight is not None``) -> Keras test, torch types."""
        parts = [test]
        if isinstance(test, cst.BooleanOperation) and isinstance(test.operator, cst.And):
            parts = [test.left, test.right]
        elements = []
        for call in either(parts[0]):  # isinstance(m, A) or isinstance(m, B): (A, B)
            if not (
                isinstance(call, cst.Call)
                and dotted(call.func) == "isinstance"
                and len(call.args) == 2
                and dotted(call.args[0].value) == self.var
            ):
                self.reader._refuse(test, "unsupported condition in init code", "use isinstance")
            spec = call.args[1].value
            elements += [e.value for e in spec.elements] if isinstance(spec, cst.Tuple) else [spec]
        types, keras = set(), []
        self.shared: list[str] = []
        for element in elements:
            name = dotted(element) or ""
            qualified = self.imports.qualify(element) or name
            if name in self.classes:
                types.add(name)
                keras.append(name)
            elif qualified in KERAS_CLASSES:
                types.add(qualified)
                keras.append(KERAS_CLASSES[qualified])
            elif qualified in SHARED_CLASSES:
                types.add(qualified)
                keras.append(SHARED_CLASSES[qualified])
                self.shared.append(qualified)
            else:
                self.reader._refuse(element, f"isinstance of {code_of(element)} in an init loop")
        self.reader._refuse_subclassed(test, types)
        keras = list(dict.fromkeys(k for text in keras for k in text.split(", ")))
        spec_text = keras[0] if len(keras) == 1 else f"({', '.join(keras)})"
        source = f"isinstance({self.var}, {spec_text})"
        guards = []
        for extra in parts[1:]:
            guards.append(self._not_none(extra, types))
        return " and ".join([source, *guards]), types, guards

    def _not_none(self, test: cst.BaseExpression, types: set[str]) -> str:
        """``m.bn3.weight is not None`` -> ``torch_has(m.bn3, "gamma")``."""
        if not (
            isinstance(test, cst.Comparison)
            and len(test.comparisons) == 1
            and isinstance(test.comparisons[0].operator, cst.IsNot)
            and dotted(test.comparisons[0].comparator) == "None"
        ):
            self.reader._refuse(test, "unsupported condition in init code", "use isinstance")
        owner, variable = self._tensor(test.left, types)
        return f"torch_has({owner}, {variable!r})"

    def _tensor(self, tensor: cst.BaseExpression, types: set[str]) -> tuple[str, str]:
        """(Keras layer source, variable name) of ``m.weight`` / ``m.<attr>.weight``."""
        name = dotted(tensor) or ""
        parts = name.split(".")
        if parts[0] != self.var or len(parts) not in (2, 3):
            self.reader._refuse(tensor, f"init of {name} in a loop over modules")
        owners = types
        if len(parts) == 3:
            owners = {self.attribute_layers.get(t, {}).get(parts[1]) for t in types}
            if None in owners:
                self.reader._refuse(tensor, f"the layer {'.'.join(parts[:2])} is not known here")
        variables = set()
        for owner in owners:
            rule = rules.LAYERS.get(owner)
            param = rule.initializers.get(parts[-1]) if rule is not None else None
            if param is None:
                self.reader._refuse(tensor, f"init of {owner}.{parts[-1]} is not translated")
            variables.add(param.removesuffix("_initializer"))
        if len(variables) != 1:
            self.reader._refuse(tensor, f"{name} is another Keras variable for each type here")
        self.owners = owners
        return ".".join(parts[:-1]), variables.pop()

    def _statement(self, stmt: cst.BaseStatement, types: set[str]) -> list[str]:
        identity = self._identity(stmt.test) if isinstance(stmt, cst.If) else None
        if identity is not None:  # if m is final_conv: ... else: ...
            lines = [f"if {identity}:"]
            for child in stmt.body.body:
                lines += ["    " + line for line in self._statement(child, types)]
            if isinstance(stmt.orelse, cst.If):
                self.reader._refuse(stmt.orelse, "an elif after an identity test in an init loop")
            if stmt.orelse is not None:
                lines.append("else:")
                for child in stmt.orelse.body.body:
                    lines += ["    " + line for line in self._statement(child, types)]
            return lines
        local = self._local(stmt, types)
        if local is not None:
            return local
        if isinstance(stmt, cst.If) and stmt.orelse is None:  # if m.bias is not None:
            test = self._not_none(stmt.test, types)
            body: list[str] = []
            for child in stmt.body.body:
                body += self._statement(child, types)
            return [f"if {test}:"] + ["    " + line for line in body]
        call = None
        if isinstance(stmt, cst.SimpleStatementLine) and len(stmt.body) == 1:
            expr = stmt.body[0]
            call = expr.value if isinstance(expr, cst.Expr) else None
        qualified = self.imports.qualify(call.func) if isinstance(call, cst.Call) else None
        if qualified not in rules.INITIALIZERS or not call.args:
            return self._read(stmt, types)
        owner, variable = self._tensor(call.args[0].value, types)
        param = (dotted(call.args[0].value) or "").rsplit(".", 1)[1]
        value = _literal(call.args[1].value) if len(call.args) == 2 else None
        if len(call.args) == 1 and qualified in _FILLS:  # ones_(m.weight), zeros_(m.bias)
            value = _FILLS[qualified]
        restated = qualified in ("torch.nn.init.constant_", *_FILLS) and all(
            DEFAULTS.get((owner_type, param)) == value for owner_type in self.owners
        )
        if restated and self.first:
            return [f"pass  # {code_of(call).removeprefix('nn.init.')}"]
        if self.shared and owner == self.var:
            self.reader._refuse(
                call,
                f"init of {', '.join(self.shared)} in a loop over modules is translated only "
                "where it restates torch's default before any other init",
                "TorchBatchNorm is the Keras class of every torch BatchNorm",
            )
        try:
            positional = [Arg(code_of(a.value)) for a in call.args if a.keyword is None]
            keywords = {a.keyword.value: Arg(code_of(a.value)) for a in call.args if a.keyword}
            bound = bind(rules.INITIALIZERS[qualified], positional, keywords)
            initializer = rules.INITIALIZERS[qualified](*bound.args, **bound.kwargs)
        except TypeError as err:
            self.reader._refuse(call, f"cannot translate this init call: {err}")
        except Unsupported as err:
            self.reader._refuse(call, err.message, err.hint)
        return [f"torch_init({owner}, {variable!r}, {initializer})"]

    def _read(self, stmt: cst.BaseStatement, types: set[str]) -> list[str]:
        """Any other init statement (a call of a project init function, in-place ops after an
        init): read as the static reader reads it for the torch types this branch reaches,
        each effect set on the Keras layer (``torch_init``)."""
        if not types <= set(rules.LAYERS):
            self.reader._refuse(stmt, "unsupported statement in an init loop")
        info = self.reader.info
        saved, info.init_steps = info.init_steps, []
        try:
            self.reader._statement(stmt, 0, Scope(var=self.var, types=frozenset(types)))
            steps = info.init_steps
        finally:
            info.init_steps = saved
        if not steps:
            self.reader._refuse(stmt, "unsupported statement in an init loop")
        lines = []
        for step in steps:
            rule = rules.LAYERS[step.key]
            for weight, source in step.params.items():
                variable = rule.initializers[weight].removesuffix("_initializer")
                initializer = rule({weight: source}).initializer(weight, None)
                lines.append(f"torch_init({self.var}, {variable!r}, {initializer})")
        return lines

    def _local(self, stmt: cst.BaseStatement, types: set[str]) -> list[str] | None:
        """``bound = 1.0 / math.sqrt(m.out_features)``: a local name of the loop, the layer's
        constructor arguments read from its Keras twin (``m.units``)."""
        small = stmt.body[0] if isinstance(stmt, cst.SimpleStatementLine) else None
        if not (isinstance(small, cst.Assign) and len(stmt.body) == 1):
            return None
        if len(small.targets) != 1 or not isinstance(small.targets[0].target, cst.Name):
            self.reader._refuse(stmt, "init loops assign only plain local names")
        var, reader = self.var, self.reader
        data = data_names(
            getattr(reader.t, "classes", {}), self.attribute_layers
        )  # self.fc.stddev = 0.001 elsewhere

        class Attributes(cst.CSTTransformer):
            def leave_Call(self, original: cst.Call, updated: cst.Call):
                """``hasattr(m, "stddev")``: only of data the file sets (the same on Keras)."""
                if dotted(original.func) in ("hasattr", "getattr") and any(
                    dotted(a.value) == var for a in original.args[:1]
                ):
                    name = original.args[1].value if len(original.args) > 1 else None
                    text = name.evaluated_value if isinstance(name, cst.SimpleString) else None
                    if text not in data:
                        reader._refuse(original, f"{code_of(original)} of {', '.join(types)}")
                return updated

            def leave_Attribute(self, original: cst.Attribute, updated: cst.Attribute):
                if dotted(original.value) != var:
                    return updated
                if original.attr.value in data:  # set by the file as data: kept as it is
                    return updated
                found = {KERAS_ATTRIBUTES.get((t, original.attr.value)) for t in types}
                if len(found) != 1 or None in found:
                    reader._refuse(original, f"{code_of(original)} of {', '.join(sorted(types))}")
                return updated.with_changes(attr=cst.Name(found.pop()))

            def leave_Name(self, original: cst.Name, updated: cst.Name):
                if reader.t.imports.is_torch_reference(original):
                    reader._refuse(original, "a value of init code computed with torch")
                return updated

        value = small.value.visit(Attributes())
        return [f"{code_of(small.targets[0].target)} = {code_of(value)}"]

    def _identity(self, test: cst.BaseExpression) -> str | None:
        """``m is final_conv`` (``is not``; a local layer of __init__ or ``self.<layer>``) ->
        the test on the Keras layer that torch's layer became: the layer itself, or the one a
        padding wrapper holds (``tf.keras.Sequential([ZeroPadding2D(p), Conv2D(...)])``)."""
        if not (
            isinstance(test, cst.Comparison)
            and len(test.comparisons) == 1
            and isinstance(test.comparisons[0].operator, (cst.Is, cst.IsNot))
            and dotted(test.left) == self.var
        ):
            return None
        other = test.comparisons[0].comparator
        name = dotted(other) or ""
        if name == "None":
            return None
        call = self._made(name)
        if call is None:
            self.reader._refuse(
                other, f"{code_of(other)} is not a layer __init__ builds once, by name"
            )
        qualified = self.imports.qualify(call.func)
        source = keras_source(call, qualified)
        wrapped = padding_wrapped(source)
        if wrapped is None:
            self.reader._refuse(
                other, f"which Keras layer {code_of(other)} is in the loop is not known"
            )
        keyword = "is" if isinstance(test.comparisons[0].operator, cst.Is) else "is not"
        return f"{self.var} {keyword} {name}{'.layers[-1]' if wrapped else ''}"

    def _made(self, name: str) -> cst.Call | None:
        """The torch layer construction a local name or ``self.<attr>`` of __init__ holds,
        when it is assigned once."""
        init = self.reader.info.method("__init__")
        values: list[cst.BaseExpression] = []

        class Finder(cst.CSTVisitor):
            def visit_Assign(self, node: cst.Assign) -> None:
                if any(dotted(t.target) == name for t in node.targets):
                    values.append(node.value)

        if init is not None:
            init.visit(Finder())
        if len(values) != 1 or not isinstance(values[0], cst.Call):
            return None
        return values[0] if self.imports.qualify(values[0].func) in rules.LAYERS else None


# torch layer attributes (constructor arguments) -> the Keras twin's, where the same value.
KERAS_ATTRIBUTES = {
    ("torch.nn.Linear", "out_features"): "units",
    **{(f"torch.nn.Conv{n}d", "out_channels"): "filters" for n in (1, 2)},
    **{(f"torch.nn.Conv{n}d", "groups"): "groups" for n in (1, 2)},
    ("torch.nn.GroupNorm", "num_groups"): "groups",
    **{(f"torch.nn.Conv{n}d", "kernel_size"): "kernel_size" for n in (1, 2)},
    **{(f"torch.nn.Conv{n}d", "dilation"): "dilation_rate" for n in (1, 2)},
}


def _torch_has(name: str) -> bool:
    """Whether torch's nn.Module or a torch layer translated has ``name`` (a method)."""
    classes = ["torch.nn.Module", *rules.LAYERS]
    return any(hasattr(installed_torch_object(q), name) for q in classes)


def _literal(node: cst.BaseExpression) -> float | None:
    try:
        return float(code_of(node))
    except ValueError:
        return None


def is_modules_loop(stmt: cst.CSTNode) -> bool:
    """``for m in self.modules():``, or ``for n, m in self.named_modules():`` whose body does
    not read the name ``n``."""
    it = stmt.iter if isinstance(stmt, cst.For) else None
    if not (
        isinstance(it, cst.Call)
        and not it.args
        and isinstance(it.func, cst.Attribute)
        and dotted(it.func.value) == "self"
    ):
        return False
    if it.func.attr.value == "modules":
        return True
    return it.func.attr.value == "named_modules" and _module_of_pair(stmt) is not None


def _module_of_pair(loop: cst.For) -> cst.Name | None:
    """``m`` of ``for n, m in ...`` when the body does not read ``n``."""
    target = loop.target
    if not (isinstance(target, cst.Tuple) and len(target.elements) == 2):
        return None
    name, module = (e.value for e in target.elements)
    if not (isinstance(name, cst.Name) and isinstance(module, cst.Name)):
        return None
    read = {n.value for n in _names(loop.body)}
    return None if name.value in read else module


def _names(node: cst.CSTNode) -> list[cst.Name]:
    found: list[cst.Name] = []

    class Names(cst.CSTVisitor):
        def visit_Name(self, name: cst.Name) -> None:
            found.append(name)

    node.visit(Names())
    return found


__all__ = ["RuntimeLoop", "is_modules_loop", "Refused"]


def either(test: cst.BaseExpression) -> list[cst.BaseExpression]:
    """The operands of ``a or b or ...`` (``[test]`` for any other expression)."""
    if isinstance(test, cst.BooleanOperation) and isinstance(test.operator, cst.Or):
        return [*either(test.left), *either(test.right)]
    return [test]
