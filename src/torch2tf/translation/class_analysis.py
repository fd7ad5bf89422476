"""Class facts: the file's ``nn.Module`` classes and, for each, a :class:`ClassInfo` record.

Reads each class's ``__init__`` (layers, parameters and containers assigned to ``self``), hands
its init code to :class:`InitReader` (-> initializer arguments), decides whether the class is
built at construction and which methods depend on training. Runs on the original tree before
the rewrite, which only reads the records; problems go to the engine's reporter.
"""

from __future__ import annotations

import ast
import re

import libcst as cst

from torch2tf import rules
from torch2tf.class_facts import ClassInfo
from torch2tf.initializers import InitReader
from torch2tf.keras_api import KERAS_MODEL_ATTRIBUTES
from torch2tf.names import ImportTable, code_of, dotted
from torch2tf.parsed import descendants
from torch2tf.rules import LAYERS
from torch2tf.rules.weight_norm import NAMES as WEIGHT_NORMS
from torch2tf.translation.build import (
    build_input,
    constructed_classes,
    drop_orphaned_builds,
    inherit_build_inputs,
    needs_static_batch,
)
from torch2tf.translation.class_helpers import (
    removed_or_asserts,
    renamed_by_bases,
    training_methods,
)
from torch2tf.translation.local_parameters import check_local_parameters, local_parameters
from torch2tf.translation.patterns import (
    MODULE_BASE,
    MODULE_DICT_BASE,
    PARAMETER,
    SEQUENTIAL_BASE,
    SUBCLASSED_LAYERS,
    UNTRANSLATED_MODULE_API,
    expression_call,
    init_default_call,
    nested_statements,
    param_default,
    positional_params,
    registered_parameter,
    reregistered_parameter,
    self_attr,
    tied_parameter,
)
from torch2tf.translation.reporting import Reporter
from torch2tf.translation.scans import (
    assigned_self_attributes,
    dotted_ast,
    function_attributes,
    local_names,
    name_uses,
)


class ClassAnalysis:
    """The class facts of one file; ``error`` makes it the engine :class:`InitReader` needs."""

    def __init__(
        self,
        module: cst.Module,
        tree: ast.Module,
        imports: ImportTable,
        reporter: Reporter,
        project_classes: frozenset[str] = frozenset(),
    ) -> None:
        self.tree = tree
        self.imports = imports
        self.reporter = reporter
        self.project_classes = project_classes
        self.classes: dict[str, ClassInfo] = {}
        self.facts: dict = {}  # the tensor facts of each class, set before run()
        self.functions = {s.name.value: s for s in module.body if isinstance(s, cst.FunctionDef)}
        self.dropped_functions: set[str] = set()  # init functions used by self.apply only
        self.init_function_calls: dict[str, int] = {}  # init function -> calls taken over
        trees = [n for n in self.tree.body if isinstance(n, ast.ClassDef)]
        twins = dict(
            zip([n for n in module.body if isinstance(n, cst.ClassDef)], trees, strict=True)
        )
        for node in module_class_defs(module, self.imports, self.project_classes):
            self.classes[node.name.value] = ClassInfo(node, twins[node])

    def run(self) -> None:
        """Analyse every class up-front: an init function defined above the class that applies
        it must be known before the rewrite reaches it."""
        for info in self.classes.values():
            self.analyse_class(info)
        inherited = inherit_build_inputs(self.classes, self.imports)
        changed = True
        while changed:  # a default forwarded through a chain of blocks
            changed = any([self._forwarded_defaults(info) for info in self.classes.values()])
        self._no_symbolic_build()
        drop_orphaned_builds(self.classes, inherited)

    def _no_symbolic_build(self) -> None:
        """A class that needs a concrete batch size, or builds one that does (at any depth),
        is built by its first call: a symbolic build input has an open batch size."""
        names = set(self.classes)
        static = {n for n, info in self.classes.items() if needs_static_batch(info, self.imports)}
        made = {n: constructed_classes(info, names) for n, info in self.classes.items()}
        changed = True
        while changed:
            grown = {n for n in names - static if made[n] & static}
            static |= grown
            changed = bool(grown)
        for name in static:
            self.classes[name].build_input = None

    def error(self, node: cst.CSTNode, message: str, hint: str = "") -> None:
        self.reporter.error(node, message, hint)

    def init_code(self) -> set[cst.CSTNode]:
        """Init methods and statements whose effect became initializer arguments."""
        found: set[cst.CSTNode] = set()
        for info in self.classes.values():
            found |= info.removed | {info.method(m) for m in info.init_methods}
        return found

    def _is_function(self, value: ast.expr) -> bool:
        """A module-level function of this file or a translated torch function, as a value."""
        name = dotted_ast(value)
        return name is not None and (
            name in self.functions or self.imports.qualify_name(name, value) in rules.FUNCTIONS
        )

    def is_module_class(self, expr: cst.BaseExpression) -> bool:
        """Whether ``expr`` names an nn.Module class of this file or of the project."""
        return dotted(expr) in self.classes or self.imports.qualify(expr) in self.project_classes

    def analyse_class(self, info: ClassInfo) -> None:
        """Fill ``info``: layers, parameters, init code, build input, training methods."""
        assigned = assigned_self_attributes(info.tree)
        info.renamed = assigned & KERAS_MODEL_ATTRIBUTES
        info.renamed |= renamed_by_bases(
            info.node, self.classes, self.imports
        )  # self.layers of a base: layers_
        info.shadowed = assigned & UNTRANSLATED_MODULE_API
        info.shadowed_by_module = {
            t.attr
            for node in ast.walk(info.tree)
            if isinstance(node, ast.Assign) and isinstance(node.value, ast.Call)
            for t in node.targets
            if isinstance(t, ast.Attribute)
            and t.attr in info.shadowed
            and isinstance(t.value, ast.Name)
            and t.value.id == "self"
            and (self.imports.qualify_name(dotted_ast(node.value.func) or "") or "").startswith(
                "torch.nn."
            )
        }
        info.functions = function_attributes(info.tree, self._is_function)
        init = info.method("__init__")
        if init is None:
            return
        outer = self

        class Finder:  # run over each node by a plain walk: a LibCST visit costs several times more
            position = 0

            def visit_Call(self, node: cst.Call) -> None:
                if outer.imports.qualify(node.func) in LAYERS:
                    info.call_position[node] = Finder.position  # dicts keep source order

            def visit_SimpleStatementLine(self, node: cst.SimpleStatementLine) -> None:
                again = reregistered_parameter(node)
                if again in info.params:  # made just before: the statement changes nothing
                    info.removed.add(node)
                    return
                tie = tied_parameter(node)
                if tie is not None and tie[1] in info.params:
                    if not siblings:  # computed for weight ties only
                        siblings.update(_earlier_siblings(init))
                    made = _replaced_parameter(node, tie[0], info, siblings.get(node, []))
                    if made is not None:  # self.b = self.a: the first b is never used
                        info.removed.add(made)
                        info.registered[node] = tie[0]
                    return
                found = registered_parameter(node, outer.imports)
                if found is not None:  # self.register_parameter("w", nn.Parameter(...) or None)
                    name, call = found
                    info.registered[node] = name
                    if call is not None:
                        info.call_attr[call] = name
                        info.params[name] = (Finder.position, call)

            def visit_Assign(self, node: cst.Assign) -> None:
                value = node.value
                if isinstance(value, cst.IfExp):  # self.bias = nn.Parameter(...) if bias else None
                    value = _optional_parameter(value, outer.imports)
                if len(node.targets) != 1 or not isinstance(value, cst.Call):
                    return
                attr = self_attr(node.targets[0].target)
                if attr is None:
                    return
                call = value
                qualified = outer.imports.qualify(call.func)
                if qualified in WEIGHT_NORMS and call.args:  # the layer it wraps is the layer
                    inner = call.args[0].value
                    info.wrapped[attr] = (call, Finder.position)
                    if self_attr(inner) == attr and attr in info.layers:
                        return  # self.fc = weight_norm(self.fc)
                    if not isinstance(inner, cst.Call):
                        return
                    call, qualified = inner, outer.imports.qualify(inner.func)
                if qualified in LAYERS:
                    info.layers[attr] = qualified
                    info.direct_calls.add(call)
                    info.call_attr[call] = attr
                elif outer.is_module_class(call.func):
                    info.modules[attr] = dotted(call.func)
                elif qualified == PARAMETER:
                    info.call_attr[call] = attr
                    info.params[attr] = (Finder.position, call)
                elif not (qualified or "").startswith("torch."):
                    info.opaque_builders.append(call)

        siblings: dict[cst.CSTNode, list[cst.CSTNode]] = {}
        finder = Finder()
        visits = {
            cst.Call: finder.visit_Call,
            cst.SimpleStatementLine: finder.visit_SimpleStatementLine,
            cst.Assign: finder.visit_Assign,
        }
        for position, stmt in enumerate(init.body.body):
            Finder.position = position
            for node in descendants(stmt):
                visit = visits.get(type(node))
                if visit is not None:
                    visit(node)
        assigned = {c for c in info.call_attr if c not in info.direct_calls}
        assigned |= set(info.direct_calls)
        for call in _calls(init.body):  # layers.append(Block(...)): modules an init loop reaches
            if call not in assigned and self.is_module_class(call.func):
                if not any(call is c for c in info.opaque_builders):
                    info.opaque_builders.append(call)
        local_parameters(info, init, self.imports)
        reader = InitReader(self, info)
        for position, stmt in enumerate(init.body.body):
            call = expression_call(stmt)
            method = self_attr(call.func) if call is not None else None
            if method == "apply" and len(call.args) == 1:
                if self._init_apply(info, reader, call.args[0].value, position, stmt):
                    info.removed.add(stmt)
            elif (
                method is not None
                and info.method(method) is not None
                and reader.runtime_method(info.method(method))
            ):
                pass  # the method and its call stay, its loops run on the Keras layers
            elif method is not None and not call.args and info.method(method) is not None:
                if reader.method(info.method(method), position):
                    info.init_methods.add(method)
                    removed_or_asserts(info, reader, stmt)
                    info.init_note = (
                        f"# {method}() is applied through the layers' initializer arguments."
                    )
            elif method is not None and info.method(method) is not None:
                if reader.function(info.method(method), call, position, method=True):
                    info.init_methods.add(method)
                    if not reader.function_late:
                        info.init_note = (
                            f"# {method}(...) is applied through the layers' initializer arguments."
                        )
                    reader.replace_call(stmt)
            elif self._init_function(info, reader, stmt, call, position):
                reader.replace_call(stmt)
            elif reader.statement(stmt, position):
                info.removed.add(stmt)
            else:
                for child in nested_statements(stmt):  # init functions called under if/for
                    if self._init_function(info, reader, child, expression_call(child), position):
                        reader.replace_call(child)
        for func in info.node.body.body:  # init methods __init__ does not call: kept
            if not isinstance(func, cst.FunctionDef) or func.name.value in (
                "__init__",
                "forward",
                *info.init_methods,
                *reader.runtime_methods,
            ):
                continue
            if reader.is_init_code(func.body, functions=False):
                reader.late_method(func)
        check_local_parameters(info, init, self.error)
        info.build_input = build_input(info, self.imports)
        info.training = training_methods(info)

    def _init_function(
        self, info: ClassInfo, reader: InitReader, stmt, call: cst.Call | None, position: int
    ) -> bool:
        """``init_fn(self.fc, ...)`` with a module-level init function, or ``if w_init_:
        w_init_(self.fc.weight)`` with an init function as the default of a parameter. A
        call nested in an ``if`` or a loop runs where it stands (``torch_init``)."""
        nested = stmt not in info.method("__init__").body.body
        default_param = None if nested else init_default_call(stmt, info.tree)
        default = (
            param_default(info.method("__init__"), default_param[0]) if default_param else None
        )
        if default_param is not None and isinstance(default, cst.Lambda):
            name, tensor = default_param
            if reader.default_function(default, tensor, position):
                info.fixed_defaults[name] = default
                info.init_note = (
                    f"# The default of {name} is applied through the layers' initializer arguments."
                )
                return True
            return False
        if call is None or not isinstance(call.func, cst.Name):
            return False
        name = call.func.value
        func = self.functions.get(name)
        if func is None or name in local_names(info.tree):
            return False
        if not reader.function(func, call, position, late=nested):
            return False
        self.init_function_calls[name] = self.init_function_calls.get(name, 0) + 1
        if self.init_function_calls[name] == name_uses(self.tree, name):
            self.dropped_functions.add(name)  # every use became initializers
        if not reader.function_late:
            info.init_note = f"# {name}() is applied through the layers' initializer arguments."
        return True

    def _forwarded_defaults(self, info: ClassInfo) -> bool:
        """An init-function default of ``__init__`` used only as an argument to blocks of this
        file whose same parameter, with the same default, became initializers (torchtuples'
        ``MLPVanilla(w_init_=...)`` -> ``DenseVanillaBlock(..., w_init_)``): fixed the same way,
        so the block receives its own default. Returns whether one was added."""
        init = info.method("__init__")
        if init is None:
            return False
        added = False
        params = [*init.params.posonly_params, *init.params.params, *init.params.kwonly_params]
        for param in params:
            name = param.name.value
            if name in info.fixed_defaults or not isinstance(param.default, cst.Lambda):
                continue
            if name in local_names(info.tree):
                continue  # reassigned: not the parameter's value any more
            uses = _NameUses(name)
            init.body.visit(uses)
            if uses.names and all(
                self._takes_default(call, arg, param.default) for call, arg in uses.names
            ):
                info.fixed_defaults[name] = param.default
                added = True
        return added

    def _takes_default(self, call: cst.Call | None, arg: cst.Arg | None, default) -> bool:
        """Whether ``arg`` of ``call`` binds to a parameter of a block of this file whose
        default, written the same as ``default``, became initializers."""
        if call is None or arg is None or arg.star:
            return False
        target = self.classes.get(dotted(call.func) or "")
        init = target.method("__init__") if target is not None else None
        if init is None or init.params.star_arg not in (None, cst.MaybeSentinel.DEFAULT):
            return False
        if arg.keyword is not None:
            bound = arg.keyword.value
        else:
            index = call.args.index(arg) + 1  # after self
            if any(a.star or a.keyword for a in call.args[:index]):
                return False
            params = positional_params(init)
            if index >= len(params):
                return False
            bound = params[index].name.value
        fixed = target.fixed_defaults.get(bound)
        return fixed is not None and code_of(fixed) == code_of(default)

    def _init_apply(
        self,
        info: ClassInfo,
        reader: InitReader,
        target: cst.BaseExpression,
        position: int,
        stmt: cst.CSTNode,
    ) -> bool:
        """``self.apply(self._init)`` or ``self.apply(init_fn)``: like a loop over modules()."""
        method = self_attr(target)
        func = info.method(method) if method else self.functions.get(dotted(target) or "")
        if func is None:
            self.error(target, "self.apply() is translated only for a method or a function here")
            return False
        params = positional_params(func)[1 if method else 0 :]
        if len(params) != 1:
            self.error(func, "an init function for self.apply() takes exactly one module")
            return False
        at_runtime = reader.apply_at_runtime(func, params[0].name.value, stmt)
        if not at_runtime:
            reader.apply(func, params[0].name.value, position, "self.apply()")
        if method:
            info.init_methods.add(method)
        else:
            self.dropped_functions.add(func.name.value)
        if at_runtime:
            return False  # replaced by the loop over the Keras layers (or reported)
        info.init_note = f"# apply({code_of(target)}) is applied through initializer arguments."
        return True


class _NameUses(cst.CSTVisitor):
    """Each use of a name: ``(call, arg)`` when it is a call's whole argument, else
    ``(None, None)``."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.names: list[tuple[cst.Call | None, cst.Arg | None]] = []

    def visit_Call(self, node: cst.Call) -> None:
        for arg in node.args:
            if isinstance(arg.value, cst.Name) and arg.value.value == self.name:
                self.names.append((node, arg))

    def visit_Arg(self, node: cst.Arg) -> bool:
        return not (isinstance(node.value, cst.Name) and node.value.value == self.name)

    def visit_Name(self, node: cst.Name) -> None:
        if node.value == self.name:
            self.names.append((None, None))


def module_class_defs(
    module: cst.Module, imports: ImportTable, project_classes: frozenset[str]
) -> list[cst.ClassDef]:
    """The file's classes deriving, directly or not, from nn.Module (or nn.Sequential)."""
    class_defs = [s for s in module.body if isinstance(s, cst.ClassDef)]
    found: dict[str, cst.ClassDef] = {}
    changed = True
    while changed:  # a class deriving from a module class defined later is still a module
        changed = False
        for node in class_defs:
            if node.name.value in found:
                continue
            for base in node.bases:
                qualified = imports.qualify(base.value)
                if (
                    qualified in (MODULE_BASE, SEQUENTIAL_BASE, MODULE_DICT_BASE)
                    or qualified in SUBCLASSED_LAYERS
                    or qualified in project_classes
                    or dotted(base.value) in found
                ):
                    found[node.name.value] = node
                    changed = True
                    break
    return list(found.values())


def _optional_parameter(choice: cst.IfExp, imports) -> cst.Call | None:
    """The ``nn.Parameter(...)`` of ``nn.Parameter(...) if cond else None`` (either way round)."""
    for made, other in ((choice.body, choice.orelse), (choice.orelse, choice.body)):
        if (
            isinstance(made, cst.Call)
            and imports.qualify(made.func) == PARAMETER
            and dotted(other) == "None"
        ):
            return made
    return None


def _earlier_siblings(func: cst.FunctionDef) -> dict[cst.CSTNode, list[cst.CSTNode]]:
    """Each statement of ``func`` -> the statements before it in its own block."""
    found: dict[cst.CSTNode, list[cst.CSTNode]] = {}
    for node in descendants(func):
        if isinstance(node, cst.IndentedBlock):
            for index, stmt in enumerate(node.body):
                found[stmt] = list(node.body[:index])
    return found


def _replaced_parameter(
    tie: cst.SimpleStatementLine, name: str, info: ClassInfo, before: list[cst.CSTNode]
) -> cst.SimpleStatementLine | None:
    """The statement making ``self.name = nn.Parameter(...)`` that the tie ``tie`` replaces:
    earlier in the same block, and nothing but no-ops reading ``self.name`` in between (so
    leaving the first Parameter out changes nothing); else None."""
    call = info.params.get(name, (0, None))[1]
    for index in range(len(before) - 1, -1, -1):
        stmt = before[index]
        if isinstance(stmt, cst.SimpleStatementLine) and any(
            isinstance(small, cst.Assign) and small.value is call for small in stmt.body
        ):
            between = [s for s in before[index + 1 :] if s not in info.removed]
            pattern = re.compile(rf"\bself\.{re.escape(name)}\b")
            return None if any(pattern.search(code_of(s)) for s in between) else stmt
    return None


def _calls(node: cst.CSTNode) -> list[cst.Call]:
    """Every call in ``node``, in source order."""
    return [n for n in descendants(node) if isinstance(n, cst.Call)]
