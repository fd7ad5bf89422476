"""The translation engine: parse -> resolve names -> analyse classes -> rewrite -> emit.

Static by design: the input is parsed with LibCST (comments and docstrings survive) and is never
imported or executed, and neither TensorFlow nor torch is imported here. Per-construct knowledge
lives in ``torch2tf.rules``; this module holds the fixed structural rewrites (``nn.Module`` ->
``tf.keras.Model``, ``forward`` -> ``call``, init loops -> initializer arguments, build at
construction) and reports anything it cannot translate exactly as a diagnostic.
"""

from __future__ import annotations

import ast
import gc
import inspect
import subprocess
import sys
from collections.abc import Mapping, Sequence
from functools import cache
from pathlib import Path

import libcst as cst
from libcst.metadata import MetadataWrapper, ParentNodeProvider, PositionProvider

from torch2tf import rules, training_script
from torch2tf.class_facts import ClassInfo
from torch2tf.errors import Diagnostic, TranslationError
from torch2tf.foreign import foreign_layers
from torch2tf.formatting import hoist_wrapped_comments
from torch2tf.initializers import InitReader
from torch2tf.keras_api import KERAS_MODEL_ATTRIBUTES, keras_attribute
from torch2tf.names import ImportTable, code_of, dotted, drop_imports, is_docstring
from torch2tf.parameters import LEGACY, add_weight, holds_data
from torch2tf.parsed import ParsedSource
from torch2tf.project import local_imports, project_of
from torch2tf.reach import reach
from torch2tf.rules import LAYERS, Arg, LayerRule, Unsupported, activations, bind
from torch2tf.rules.alternatives import nearest_alternative
from torch2tf.rules.registry import layer_factory
from torch2tf.serializable import named_layer, package_name, record_arguments, register
from torch2tf.tensor_facts import CHANNELS_LAST_LAYERS, ClassFacts, analyse
from torch2tf.torch_api import DTYPES, MODULE_API, TENSOR_METHODS

MODULE_BASE = "torch.nn.Module"
PARAMETER = "torch.nn.Parameter"
KERAS_MODEL = "tf.keras.Model"
# torch names that have a plain TensorFlow counterpart wherever they appear (types, isinstance).
# register_buffer is translated (to add_weight); the rest of this API is reported when used.
UNTRANSLATED_MODULE_API = MODULE_API - {"register_buffer"}
NAMES = {
    "torch.nn.Module": KERAS_MODEL,
    "torch.Tensor": "tf.Tensor",
    "torch.Size": "tuple",  # what tf.keras.ops.shape gives, as torch gives a torch.Size
    "torch.device": "str",  # devices become their spec strings (see rules/devices.py)
    **{f"torch.{name}": dtype for name, dtype in DTYPES.items()},
}
# Builtins that take an nn.Sequential as a sequence of its layers.
SEQUENCE_BUILTINS = {"len", "zip", "enumerate", "reversed", "list", "tuple", "iter"}
HELPER_FILES = ("layers.py", "ops.py", "training.py")


def translate_source(
    source: str,
    path: str = "<string>",
    *,
    module_name: str | None = None,
    project_classes: frozenset[str] = frozenset(),
) -> str:
    """Translate PyTorch source code into TensorFlow source code.

    Args:
        source: the content of a Python file defining ``nn.Module`` classes.
        path: the file name used in diagnostics.
        module_name: the file's dotted module name within its project, which resolves its
            relative imports (see :func:`translate_project`).
        project_classes: qualified names of ``nn.Module`` classes defined in other files of
            the project, so that subclasses and submodules of them are recognised.

    Returns:
        Formatted TensorFlow source that depends on TensorFlow alone.

    Raises:
        TranslationError: listing every construct that cannot be translated exactly.
    """
    return translate_with_facts(
        source, path, module_name=module_name, project_classes=project_classes
    )[0]


def translate_with_facts(
    source: str,
    path: str = "<string>",
    *,
    module_name: str | None = None,
    project_classes: frozenset[str] = frozenset(),
) -> tuple[str, dict[str, ClassFacts]]:
    """:func:`translate_source`, plus the tensor facts of each class (by name), which
    conversion consumes: layouts of inputs, outputs and layers, and weight-layout notes."""
    # Syntax trees are millions of small objects without cycles: the cyclic garbage collector
    # only rescans them, which makes translation superlinear in file size. Paused meanwhile.
    enabled = gc.isenabled()
    gc.disable()
    try:
        return _translate(source, path, module_name, project_classes)
    finally:
        if enabled:
            gc.enable()


def _translate(
    source: str, path: str, module_name: str | None, project_classes: frozenset[str]
) -> tuple[str, dict[str, ClassFacts]]:
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
        module = cst.parse_module(source)
    except cst.ParserSyntaxError as err:
        message = str(err).splitlines()[0]
        raise TranslationError(
            [Diagnostic(path, err.raw_line, err.raw_column + 1, f"syntax error: {message}")]
        ) from None
    wrapper = MetadataWrapper(module, unsafe_skip_copy=True)  # `module` is ours alone
    translator = _Translator(wrapper, tree, path, _package(module_name), project_classes)
    translator.keras_package = package_name(module_name, path)
    result = wrapper.visit(translator)
    facts = training_script.FileFacts(
        path=path,
        source=source,
        parsed=translator.parsed,
        imports=translator.imports,
        model_classes=frozenset(translator.classes),
        project_classes=frozenset(project_classes),
        dropped_functions=frozenset(translator.dropped_functions),
        init_code=frozenset(translator.init_code()),
        diagnostics=translator.diagnostics,
    )
    result = training_script.rewrite(facts, result)  # optimizers, training loops
    problems = translator.diagnostics + foreign_layers(source, path, translator.parsed)
    if problems:
        raise TranslationError(problems)
    code = result.code
    used = _used_names(code)
    stale = _names_in(tree) - used
    if stale & set(ImportTable.of(module).aliases):
        result = drop_imports(result, stale)  # functools, after partial(nn.X) became a lambda
        code = result.code
    return (
        _emit(result, code, used, translator.imports_inserted, translator.generated),
        translator.facts,
    )


class _LazyMetadata(Mapping):
    """One kind of metadata of the input's nodes, computed on first use. Positions are only
    needed for diagnostics, parents only by some passes; each costs about as much as the
    rest of an error-free translation."""

    def __init__(self, wrapper: MetadataWrapper, provider: type) -> None:
        self._wrapper = wrapper
        self._provider = provider
        self._values: Mapping | None = None

    def _resolved(self) -> Mapping:
        if self._values is None:
            self._values = self._wrapper.resolve(self._provider)
        return self._values

    def __getitem__(self, node: cst.CSTNode):
        return self._resolved()[node]

    def __iter__(self):
        return iter(self._resolved())

    def __len__(self) -> int:
        return len(self._resolved())


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
    files = local_imports(path, root)
    if len(files) > 1:
        return translate_project(root, files)[path.resolve().relative_to(root)]
    return translate_source(path.read_text(encoding="utf-8"), str(path), module_name=name)


def translate_project(
    root: str | Path,
    files: list[Path] | None = None,
    *,
    sources: Mapping[Path, str] | None = None,
) -> dict[Path, str]:
    """Translate several files of one project, resolving imports between them.

    Args:
        root: the folder that module names are relative to (``root/pkg/mod.py`` is
            ``pkg.mod``); its ``.py`` files are translated when ``files`` is None.
        files: the files to translate, under ``root``.
        sources: relative path -> text, translated instead of files read from ``root``.

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
    known: set[str] = set()
    changed = True
    while changed:  # a class may derive from one defined in a file read later
        changed = False
        for relative, (name, _, module) in parsed.items():
            imports = ImportTable.of(module, _package(name, relative.name == "__init__.py"))
            for node in _module_class_defs(module, imports, frozenset(known)):
                qualified = f"{name}.{node.name.value}"
                if qualified not in known:
                    known.add(qualified)
                    changed = True
    results: dict[Path, str] = {}
    for relative, (name, text, _) in parsed.items():
        try:
            results[relative] = translate_source(
                text,
                str(root / relative),
                module_name=name if relative.name != "__init__.py" else f"{name}.__init__",
                project_classes=frozenset(known),
            )
        except TranslationError as err:
            problems += err.diagnostics
    if problems:
        raise TranslationError(problems)
    return results


def _package(module_name: str | None, is_package: bool = False) -> str | None:
    """The package a module's relative imports start from."""
    if module_name is None:
        return None
    return module_name if is_package else module_name.rpartition(".")[0]


def _module_class_defs(
    module: cst.Module, imports: ImportTable, project_classes: frozenset[str]
) -> list[cst.ClassDef]:
    """The file's classes deriving, directly or not, from nn.Module."""
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
                    qualified == MODULE_BASE
                    or qualified in project_classes
                    or dotted(base.value) in found
                ):
                    found[node.name.value] = node
                    changed = True
                    break
    return list(found.values())


# --------------------------------------------------------------------------- analysis


def _self_attr(node: cst.BaseExpression) -> str | None:
    """``x`` for ``self.x``."""
    name = dotted(node)
    if name and name.startswith("self.") and name.count(".") == 1:
        return name[5:]
    return None


def _calls_forward(func: cst.BaseExpression) -> bool:
    """``super().forward`` or ``self.forward``: ``forward`` is ``call`` in Keras."""
    if not (isinstance(func, cst.Attribute) and func.attr.value == "forward"):
        return False
    owner = func.value
    if isinstance(owner, cst.Name):
        return owner.value == "self"
    return isinstance(owner, cst.Call) and dotted(owner.func) == "super"


def _positional_params(func: cst.FunctionDef) -> list[cst.Param]:
    return list(func.params.posonly_params) + list(func.params.params)


def _targets(tree: ast.AST) -> list[ast.expr]:
    """Every assignment and for-loop target in ``tree``, tuples unpacked. (Python's ``ast``:
    these scans run once per class, and it walks a tree far faster than LibCST.)"""
    found: list[ast.expr] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign):
            stack = list(node.targets)
        elif isinstance(node, (ast.AugAssign, ast.AnnAssign, ast.For, ast.AsyncFor)):
            stack = [node.target]
        else:
            continue
        while stack:
            target = stack.pop()
            if isinstance(target, (ast.Tuple, ast.List)):
                stack.extend(target.elts)
            else:
                found.append(target)
    return found


def _assigned_names(tree: ast.AST) -> set[str]:
    """Names (re)bound anywhere in ``tree``."""
    return {t.id for t in _targets(tree) if isinstance(t, ast.Name)}


def _assigned_self_attributes(tree: ast.AST) -> set[str]:
    """Every ``x`` assigned as ``self.x = ...`` in ``tree``."""
    return {
        t.attr
        for t in _targets(tree)
        if isinstance(t, ast.Attribute) and isinstance(t.value, ast.Name) and t.value.id == "self"
    }


class _Translator(cst.CSTTransformer):
    keras_package = "generated"  # Keras registers the generated classes under this name

    def __init__(
        self,
        wrapper: MetadataWrapper,
        tree: ast.Module,
        path: str,
        package: str | None = None,
        project_classes: frozenset[str] = frozenset(),
    ) -> None:
        super().__init__()
        module = wrapper.module
        self.tree = tree
        self.path = path
        self.positions = _LazyMetadata(wrapper, PositionProvider)
        self.parents = _LazyMetadata(wrapper, ParentNodeProvider)
        self.imports = ImportTable.of(module, package)
        self.project_classes = project_classes
        self.diagnostics: list[Diagnostic] = []
        self.classes: dict[str, ClassInfo] = {}
        self.class_stack: list[ClassInfo | None] = []
        self.function_stack: list[str] = []
        self.pending: dict[cst.CSTNode, str] = {}  # torch references not yet translated
        self.generated: dict[str, str] = {}  # module-level functions the rewrite calls
        self.not_references: set[cst.Name] = set()  # attribute, keyword and parameter names
        self.called: set[cst.BaseExpression] = set()  # the func of every call
        self.annotation_depth = 0
        self.statement: cst.SimpleStatementLine | None = None
        self.imports_inserted = False
        self.module = module
        self._analyse(module)

    # -- diagnostics

    def error(self, node: cst.CSTNode, message: str, hint: str = "") -> None:
        start = self.positions[node].start
        self.diagnostics.append(Diagnostic(self.path, start.line, start.column + 1, message, hint))

    # -- analysis, on the original tree

    def _analyse(self, module: cst.Module) -> None:
        self.functions = {s.name.value: s for s in module.body if isinstance(s, cst.FunctionDef)}
        self.dropped_functions: set[str] = set()  # init functions used by self.apply only
        self.init_function_calls: dict[str, int] = {}  # init function -> calls taken over
        trees = [n for n in self.tree.body if isinstance(n, ast.ClassDef)]
        twins = dict(
            zip([n for n in module.body if isinstance(n, cst.ClassDef)], trees, strict=True)
        )
        for node in _module_class_defs(module, self.imports, self.project_classes):
            self.classes[node.name.value] = ClassInfo(node, twins[node])

    def init_code(self) -> set[cst.CSTNode]:
        """Init methods and statements whose effect became initializer arguments."""
        found: set[cst.CSTNode] = set()
        for info in self.classes.values():
            found |= info.removed | {info.method(m) for m in info.init_methods}
        return found

    def is_module_class(self, expr: cst.BaseExpression) -> bool:
        """Whether ``expr`` names an nn.Module class of this file or of the project."""
        return dotted(expr) in self.classes or self.imports.qualify(expr) in self.project_classes

    def _analyse_class(self, info: ClassInfo) -> None:
        info.renamed = _assigned_self_attributes(info.tree) & KERAS_MODEL_ATTRIBUTES
        init = info.method("__init__")
        if init is None:
            return
        outer = self

        class Finder(cst.CSTVisitor):
            position = 0

            def visit_Call(self, node: cst.Call) -> None:
                if outer.imports.qualify(node.func) in LAYERS:
                    info.call_position[node] = Finder.position  # dicts keep source order

            def visit_SimpleStatementLine(self, node: cst.SimpleStatementLine) -> None:
                found = _registered_parameter(node, outer.imports)
                if found is not None:  # self.register_parameter("w", nn.Parameter(...) or None)
                    name, call = found
                    info.registered[node] = name
                    if call is not None:
                        info.call_attr[call] = name
                        info.params[name] = (Finder.position, call)

            def visit_Assign(self, node: cst.Assign) -> None:
                if len(node.targets) != 1 or not isinstance(node.value, cst.Call):
                    return
                attr = _self_attr(node.targets[0].target)
                if attr is None:
                    return
                call = node.value
                qualified = outer.imports.qualify(call.func)
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

        for position, stmt in enumerate(init.body.body):
            Finder.position = position
            stmt.visit(Finder())
        reader = InitReader(self, info)
        for position, stmt in enumerate(init.body.body):
            call = _expression_call(stmt)
            method = _self_attr(call.func) if call is not None else None
            if method == "apply" and len(call.args) == 1:
                if self._init_apply(info, reader, call.args[0].value, position):
                    info.removed.add(stmt)
            elif method is not None and not call.args and info.method(method) is not None:
                if reader.method(info.method(method), position):
                    info.init_methods.add(method)
                    info.removed.add(stmt)
                    info.init_note = (
                        f"# {method}() is applied through the layers' initializer arguments."
                    )
            elif self._init_function(info, reader, stmt, call, position):
                info.removed.add(stmt)
            elif reader.statement(stmt, position):
                info.removed.add(stmt)
        info.build_input = self._build_input(info)
        info.training = self._training_methods(info)

    def _init_function(
        self, info: ClassInfo, reader: InitReader, stmt, call: cst.Call | None, position: int
    ) -> bool:
        """``init_fn(self.fc, ...)`` with a module-level init function, or ``if w_init_:
        w_init_(self.fc.weight)`` with an init function as the default of a parameter."""
        default_param = _init_default_call(stmt, info.tree)
        default = (
            _param_default(info.method("__init__"), default_param[0]) if default_param else None
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
        if func is None or name in _local_names(info.tree):
            return False
        if not reader.function(func, call, position):
            return False
        self.init_function_calls[name] = self.init_function_calls.get(name, 0) + 1
        if self.init_function_calls[name] == _name_uses(self.tree, name):
            self.dropped_functions.add(name)  # every use became initializers
        info.init_note = f"# {name}() is applied through the layers' initializer arguments."
        return True

    def _init_apply(
        self, info: ClassInfo, reader: InitReader, target: cst.BaseExpression, position: int
    ) -> bool:
        """``self.apply(self._init)`` or ``self.apply(init_fn)``: like a loop over modules()."""
        method = _self_attr(target)
        func = info.method(method) if method else self.functions.get(dotted(target) or "")
        if func is None:
            self.error(target, "self.apply() is translated only for a method or a function here")
            return False
        params = _positional_params(func)[1 if method else 0 :]
        if len(params) != 1:
            self.error(func, "an init function for self.apply() takes exactly one module")
            return False
        reader.apply(func, params[0].name.value, position, "self.apply()")
        if method:
            info.init_methods.add(method)
        else:
            self.dropped_functions.add(func.name.value)
        info.init_note = f"# apply({code_of(target)}) is applied through initializer arguments."
        return True

    def _build_input(self, info: ClassInfo) -> str | None:
        """Source of the input size when the first layer applied to the input fixes it."""
        forward, init = info.method("forward"), info.method("__init__")
        if forward is None or init is None:
            return None
        params = _positional_params(forward)[1:]
        required = [p for p in params if p.default is None]
        if len(required) != 1 or forward.params.star_arg not in (None, cst.MaybeSentinel.DEFAULT):
            return None
        input_name = required[0].name.value
        first: list[str] = []

        class FirstCall(cst.CSTVisitor):
            def visit_Call(self, node: cst.Call) -> bool:
                attr = _self_attr(node.func)
                if not first and attr and node.args and dotted(node.args[0].value) == input_name:
                    first.append(attr)
                return not first

        forward.body.visit(FirstCall())
        if not first or first[0] not in info.layers:
            return None
        attr = first[0]
        call = next(c for c, a in info.call_attr.items() if a == attr)
        rule = LAYERS[info.layers[attr]]()
        try:
            bound = bind(rule.input_features, *self._call_args(call))
        except TypeError:
            return None
        size = rule.input_features(*bound.args)
        if size is None:
            return None
        if not self._builds_on_2d(info):
            return None
        init_params = {p.name.value for p in _positional_params(init)[1:]}
        init_params |= {p.name.value for p in init.params.kwonly_params}
        used = {n.id for n in ast.walk(ast.parse(size, mode="eval")) if isinstance(n, ast.Name)}
        init_tree = next(
            f for f in info.tree.body if isinstance(f, ast.FunctionDef) and f.name == "__init__"
        )
        if used - init_params or used & _assigned_names(init_tree):
            return None  # the value at the end of __init__ may differ from the one used
        return size

    def _training_methods(self, info: ClassInfo) -> set[str]:
        """Methods other than forward whose result depends on training: they call a layer or
        module that does, use ``self.training``, or call such a method (forward_actor)."""
        methods = {
            s.name.value: s
            for s in info.node.body.body
            if isinstance(s, cst.FunctionDef) and s.name.value not in ("__init__", "forward")
        }
        methods = {k: v for k, v in methods.items() if k not in info.init_methods}
        depends: set[str] = set()
        changed = True
        while changed:
            changed = False
            for name, func in methods.items():
                if name not in depends and self._uses_training(info, func, depends):
                    depends.add(name)
                    changed = True
        return depends

    def _uses_training(self, info: ClassInfo, func: cst.FunctionDef, depends: set[str]) -> bool:
        found = False

        class Uses(cst.CSTVisitor):
            def visit_Attribute(self, node: cst.Attribute) -> None:
                nonlocal found
                found |= dotted(node) == "self.training"

            def visit_Call(self, node: cst.Call) -> None:
                nonlocal found
                attr = _self_attr(node.func)
                if attr is None:
                    return
                if attr in info.layers:
                    found |= LAYERS[info.layers[attr]].takes_training
                else:
                    found |= attr in info.modules or attr in depends
                    found |= info.method(attr) is None and attr not in UNTRANSLATED_MODULE_API

        func.body.visit(Uses())
        return found

    def _builds_on_2d(self, info: ClassInfo) -> bool:
        """Whether a 2-D symbolic input builds every layer of the class as torch made it.

        A layer whose weights or behaviour depend on the input's rank blocks it, except the
        MLP pattern ``Linear(.., n)`` then ``BatchNorm1d(n)``: there BatchNorm's size is right
        whatever the rank.
        """
        previous_out = None
        for call in info.call_position:
            qualified = self.imports.qualify(call.func)
            rule = LAYERS[qualified]()
            try:
                arguments = bind(rule.keras, *self._call_args(call)).arguments
            except TypeError:
                return False
            if rule.rank_sensitive(arguments):
                after_linear = qualified == "torch.nn.BatchNorm1d" and previous_out is not None
                if not (after_linear and arguments["num_features"] == previous_out):
                    return False
            if qualified == "torch.nn.Linear":
                previous_out = arguments["out_features"]
        return True

    def _call_args(self, call: cst.Call) -> tuple[list[Arg], dict[str, Arg]]:
        positional: list[Arg] = []
        keywords: dict[str, Arg] = {}
        for arg in call.args:
            text = Arg(code_of(arg.value))
            if arg.star == "**":
                raise TypeError("**-arguments cannot be bound statically")
            if arg.star:
                positional.append(Arg(f"*{text}"))  # only rules taking *args accept it
            elif arg.keyword is None:
                positional.append(text)
            else:
                keywords[arg.keyword.value] = text
        return positional, keywords

    # -- rewriting

    @property
    def cls(self) -> ClassInfo | None:
        return self.class_stack[-1] if self.class_stack else None

    @property
    def in_call(self) -> bool:
        """Inside forward, or another method that gets a ``training`` argument."""
        info = self.cls
        return (
            info is not None
            and len(self.function_stack) >= 1
            and (self.function_stack[0] == "forward" or self.function_stack[0] in info.training)
        )

    def visit_Module(self, node: cst.Module) -> None:
        # Analysed up-front (positions are available from here on): an init function defined
        # above the class that applies it must be known before it is reached.
        for info in self.classes.values():
            self._analyse_class(info)
        self.facts = analyse(
            self.tree, self.module.code, self.imports.qualify_name, set(LAYERS), set(self.classes)
        )
        self.channels_last = set().union(*(f.channels_last_layers for f in self.facts.values()))
        self.rewrites = {k: v for f in self.facts.values() for k, v in f.rewrites.items()}
        self.followed = set().union(*(f.followed for f in self.facts.values()))
        for facts in self.facts.values():
            for line, column, message, hint in facts.diagnostics:
                self.diagnostics.append(Diagnostic(self.path, line, column, message, hint))

    def visit_ClassDef(self, node: cst.ClassDef) -> None:
        info = self.classes.get(node.name.value)
        self.class_stack.append(info if info is not None and info.node is node else None)

    def leave_ClassDef(self, original: cst.ClassDef, updated: cst.ClassDef) -> cst.ClassDef:
        info = self.class_stack.pop()
        if info is None:
            return updated
        bases = [
            base.with_changes(value=cst.parse_expression(KERAS_MODEL))
            if self.imports.qualify(original.bases[i].value) == MODULE_BASE
            else base
            for i, base in enumerate(updated.bases)
        ]
        return register(updated.with_changes(bases=bases), self.keras_package)

    def visit_FunctionDef(self, node: cst.FunctionDef) -> bool:
        self.function_stack.append(node.name.value)
        info, name = self.cls, node.name.value
        # Init methods and functions are dropped whole: their effect moved into initializers.
        if not self.class_stack and len(self.function_stack) == 1:
            return name not in self.dropped_functions
        return not (info and len(self.function_stack) == 1 and name in info.init_methods)

    def leave_FunctionDef(self, original: cst.FunctionDef, updated: cst.FunctionDef):
        name = self.function_stack.pop()
        info = self.cls
        if not self.class_stack and not self.function_stack and name in self.dropped_functions:
            return cst.RemoveFromParent()
        if info is None or self.function_stack:
            return updated
        if name in info.init_methods:
            return cst.RemoveFromParent()
        if name == "forward":
            return self._with_training_param(updated).with_changes(name=cst.Name("call"))
        if name in info.training:
            return self._with_training_param(updated)
        if name == "__init__":
            return self._finish_init(info, record_arguments(updated))
        return updated

    def _with_training_param(self, func: cst.FunctionDef) -> cst.FunctionDef:
        params = func.params
        names = [p.name.value for p in _positional_params(func) + list(params.kwonly_params)]
        if "training" not in names:
            training = cst.Param(
                cst.Name("training"),
                default=cst.Name("None"),
                equal=cst.AssignEqual(cst.SimpleWhitespace(""), cst.SimpleWhitespace("")),
            )
            if isinstance(params.star_arg, cst.Param) or params.kwonly_params:
                params = params.with_changes(kwonly_params=[*params.kwonly_params, training])
            else:
                params = params.with_changes(params=[*params.params, training])
        return func.with_changes(params=params)

    def _finish_init(self, info: ClassInfo, func: cst.FunctionDef) -> cst.FunctionDef:
        if info.fixed_defaults:
            func = _fixed_defaults(func, info.fixed_defaults)
        if info.build_input is None:
            return func
        comments = [info.init_note] if info.init_note else []
        comments.append("# Create the weights now, as torch does at construction.")
        build_code = f"self(tf.keras.Input(shape=({info.build_input},)))\n"
        name = info.node.name.value
        if any(dotted(b.value) == name for c in self.classes.values() for b in c.node.bases):
            # A subclass's own layers do not exist yet here: it is built by its first call.
            comments.append("# (Only for this class itself: a subclass adds layers after this.)")
            build_code = f"if type(self) is {name}:\n    {build_code}"
        build = cst.parse_statement(build_code)
        build = build.with_changes(
            leading_lines=[cst.EmptyLine(comment=cst.Comment(c), indent=True) for c in comments]
        )
        return func.with_changes(body=func.body.with_changes(body=[*func.body.body, build]))

    def _register_parameter(self, original, updated: cst.SimpleStatementLine):
        """``self.register_parameter("b", None)`` -> ``self.b = None``; with a Parameter, the
        same as ``self.b = nn.Parameter(...)``."""
        name = self.cls.registered[original]
        value = updated.body[0].value.args[1].value  # the Parameter, already add_weight
        assign = cst.parse_statement(f"self.{name} = {code_of(value)}\n").body[0]
        return updated.with_changes(body=[assign])

    def on_visit(self, node: cst.CSTNode) -> bool:
        if self.cls is not None and node in self.cls.fixed_defaults.values():
            return False  # replaced by _fixed_defaults
        if self.cls is not None and node in self.cls.removed:
            return False  # init code whose effect moved into initializers: nothing to rewrite
        return super().on_visit(node)

    def on_leave(self, original: cst.CSTNode, updated: cst.CSTNode):
        if self.cls is not None and original in self.cls.removed:
            return cst.RemoveFromParent()
        return super().on_leave(original, updated)

    def leave_IndentedBlock(self, original: cst.IndentedBlock, updated: cst.IndentedBlock):
        if any(_is_telemetry(s) for s in updated.body):
            updated = _drop_telemetry(updated)
        if updated.body or not original.body:
            return updated
        # Every statement of the block moved elsewhere (init code -> initializers).
        return updated.with_changes(body=[cst.SimpleStatementLine([cst.Pass()])])

    def visit_SimpleStatementLine(self, node: cst.SimpleStatementLine) -> None:
        self.statement = node
        for small in node.body:
            targets = []
            if isinstance(small, cst.Assign):
                targets = [t.target for t in small.targets]
            elif isinstance(small, (cst.AugAssign, cst.AnnAssign)):
                targets = [small.target]
            for target in targets:
                self._check_layer_mutation(target)

    def _check_layer_mutation(self, target: cst.BaseExpression) -> None:
        """``self.bn.eps = 0.5``: the Keras twin has other attribute names; never silent."""
        info = self.cls
        name = dotted(target) or ""
        parts = name.split(".")
        if info is None or len(parts) < 3 or parts[0] != "self":
            return
        if parts[1] in info.layers or parts[1] in info.modules:
            self.error(
                target,
                f"changing {name} after construction is not translated",
                "pass the value to the layer's constructor instead",
            )

    def leave_SimpleStatementLine(self, original, updated):
        if self.cls is not None and original in self.cls.removed:
            self._settle(original)
            return cst.RemoveFromParent()
        if self.cls is not None and _is_device_move(original):
            return cst.RemoveFromParent()  # self.to(device): TensorFlow places ops itself
        if _is_self_assignment(updated) and not _is_self_assignment(original):
            return cst.RemoveFromParent()  # x = x.to(device) became x = x
        buffer = self._buffer(original, updated)
        if buffer is not None:
            return updated.with_changes(body=[buffer])
        if self.cls is not None and original in self.cls.registered:
            return self._register_parameter(original, updated)
        if _is_telemetry(original):
            self._settle(original)  # dropped by leave_IndentedBlock, with a comment
        if not self.function_stack and not self.class_stack:
            return self._rewrite_imports(updated)
        return updated

    def _rewrite_imports(self, line: cst.SimpleStatementLine):
        kept = []
        removed = False
        for small in line.body:
            if isinstance(small, cst.Import):
                names = [a for a in small.names if not _is_torch_module(dotted(a.name))]
                removed |= len(names) != len(small.names)
                if names:
                    names[-1] = names[-1].with_changes(comma=cst.MaybeSentinel.DEFAULT)
                    kept.append(small.with_changes(names=names))
            elif isinstance(small, cst.ImportFrom) and _is_torch_module(
                dotted(small.module) if small.module else None
            ):
                removed = True
            else:
                kept.append(small)
        if removed and not self.imports_inserted:
            self.imports_inserted = True
            kept.insert(0, cst.parse_statement("import tensorflow as tf\n").body[0])
        if not kept:
            return cst.RemoveFromParent()
        return line.with_changes(body=kept)

    def visit_Import(self, node: cst.Import) -> bool:
        return False

    def visit_ImportFrom(self, node: cst.ImportFrom) -> bool:
        return False

    def visit_Attribute(self, node: cst.Attribute) -> bool:
        name = dotted(node)
        if name is not None and self.imports.is_torch(name.split(".")[0]):
            self.pending[node] = self.imports.qualify(node)
            return False
        self.not_references.add(node.attr)
        return True

    def visit_Arg(self, node: cst.Arg) -> None:
        if node.keyword is not None:
            self.not_references.add(node.keyword)

    def visit_Param(self, node: cst.Param) -> None:
        self.not_references.add(node.name)

    def visit_Name(self, node: cst.Name) -> None:
        if node not in self.not_references and self.imports.is_torch(node.value):
            self.pending[node] = self.imports.qualify(node)

    def leave_Attribute(self, original: cst.Attribute, updated):
        if self.in_call and dotted(original) == "self.training":
            return cst.Name("training")
        if self.in_call and self._is_tensor_shape(original):
            # torch sizes are ints; a traced TF tensor's .shape has None for unknown sizes.
            return cst.parse_expression(f"tf.keras.ops.shape({code_of(updated.value)})")
        name = _self_attr(original)
        if self._used_as_sequence(original, name):
            # torch's Sequential iterates and indexes its layers; Keras's exposes them as .layers
            return cst.parse_expression(f"{code_of(updated)}.layers")
        if self.cls is not None and name in self.cls.renamed:
            # A torch attribute named like a Keras one (self.layers) would break the model.
            return updated.with_changes(attr=cst.Name(keras_attribute(name)))
        removed = self.cls is not None and (
            self.statement in self.cls.removed or _is_device_move(self.statement)
        )
        removed |= self.cls is not None and self.statement in self.cls.registered
        if name in UNTRANSLATED_MODULE_API and not removed and not self._defines(name):
            self.error(
                original,
                f"self.{name} is torch's nn.Module API, which is not translated",
                "Keras models differ here; rewrite this use of the method",
            )
        return self._reference(original, updated)

    def _used_as_sequence(self, node: cst.Attribute, name: str | None) -> bool:
        """``self.seq`` (an nn.Sequential) iterated, indexed, sliced or measured."""
        if self.cls is None or self.cls.layers.get(name) != "torch.nn.Sequential":
            return False
        parent = self.parents[node]
        if isinstance(parent, cst.For) and parent.iter is node:
            return True
        if isinstance(parent, cst.Subscript) and parent.value is node:
            return True
        if isinstance(parent, (cst.CompFor, cst.StarredElement)):
            return True
        if isinstance(parent, cst.Arg):
            call = self.parents[parent]
            return isinstance(call, cst.Call) and dotted(call.func) in SEQUENCE_BUILTINS
        return False

    def _is_tensor_shape(self, node: cst.Attribute) -> bool:
        if node.attr.value != "shape" or dotted(node.value) == "self":
            return False
        attr = _self_attr(node.value)
        return not (attr and self.cls and (attr in self.cls.layers or attr in self.cls.modules))

    def _defines(self, name: str) -> bool:
        """Whether the current class, or a base class in this file, defines ``name``."""
        info, seen = self.cls, set()
        while info is not None and info.node.name.value not in seen:
            seen.add(info.node.name.value)
            if info.method(name) is not None:
                return True
            bases = [dotted(b.value) for b in info.node.bases]
            info = next((self.classes[b] for b in bases if b in self.classes), None)
        return False

    def leave_Name(self, original: cst.Name, updated: cst.Name):
        return self._reference(original, updated)

    def visit_Annotation(self, node: cst.Annotation) -> None:
        self.annotation_depth += 1

    def leave_Annotation(self, original: cst.Annotation, updated: cst.Annotation):
        self.annotation_depth -= 1
        return updated

    def visit_Call(self, node: cst.Call) -> None:
        self.called.add(node.func)

    def _reference(self, original, updated):
        """A torch name used as a value: a type (``torch.Tensor``) or a layer class."""
        qualified = self.pending.get(original)
        if qualified == MODULE_BASE and self.annotation_depth:
            del self.pending[original]  # as a type, any Keras layer fits where a module did
            return cst.parse_expression("tf.keras.layers.Layer")
        if qualified in NAMES:
            del self.pending[original]
            return cst.parse_expression(NAMES[qualified])
        if qualified in LAYERS and original not in self.called:
            del self.pending[original]
            try:
                return cst.parse_expression(rules.class_reference(LAYERS[qualified]))
            except (TypeError, Unsupported):
                pass
            name = "nn_" + qualified.rsplit(".", 1)[1].lower()  # nn.Linear -> nn_linear(...)
            factory = layer_factory(LAYERS[qualified], name)
            if factory is not None:
                self.generated[name] = factory
                return cst.Name(name)
            self.error(
                original,
                f"{qualified} used as a value is translated only for layers whose arguments "
                "translate without knowing their values",
                "construct the layer where it is used, or use functools.partial",
            )
        return updated

    def _getattr(self, original: cst.Call, updated: cst.Call):
        """``getattr(nn, "GELU")`` as a value; ``getattr(nn, name)`` -> ``torch_activation(name)``:
        the activation class named at run time, picked from a table of translated ones."""
        args = original.args
        if len(args) != 2 or self.imports.qualify(args[0].value) != "torch.nn":
            return updated
        qualified = self.imports.qualify(original)
        if qualified is not None:  # a literal name: as if written nn.GELU
            if original in self.called:
                return updated  # the call around it is translated as nn.GELU(...) is
            self._settle(args[0].value)
            self.pending[original] = qualified
            return self._reference(original, updated)
        self._settle(args[0].value)
        self.generated[activations.BY_NAME] = activations.by_name_source()
        return cst.parse_expression(f"{activations.BY_NAME}({code_of(updated.args[1].value)})")

    def _partial(self, original: cst.Call, updated: cst.Call):
        """``functools.partial(nn.LeakyReLU, 0.2)`` -> ``lambda: <Keras layer>``."""
        layer_name = self.imports.qualify(original.args[0].value) if original.args else None
        if layer_name not in LAYERS or original.args[0].keyword is not None:
            return updated
        self.pending.pop(original.args[0].value, None)
        try:
            positional, keywords = self._call_args(updated.with_changes(args=updated.args[1:]))
            rule = LAYERS[layer_name]
            bound = bind(rule().keras, positional, keywords)
            return cst.parse_expression(rules.class_reference(rule, *bound.args, **bound.kwargs))
        except (TypeError, Unsupported) as err:
            self.error(original, f"cannot translate partial({layer_name}, ...): {err}")
            return updated

    def leave_Call(self, original: cst.Call, updated: cst.Call) -> cst.BaseExpression:
        if self._is_explicit_super(original):
            return updated.with_changes(args=[])  # super(Cls, self) -> super(): same meaning
        if dotted(original.func) == "getattr":
            return self._getattr(original, updated)
        qualified = self.imports.qualify(original.func)
        if qualified in LAYERS:
            return self._layer(original, updated, qualified)
        if qualified == PARAMETER:
            return self._parameter(original, updated)
        if qualified == "functools.partial":
            return self._partial(original, updated)
        if qualified in LEGACY and not holds_data(original):
            return updated  # torch.Tensor(a, b): a shape, which nn.Parameter reads
        if qualified in rules.FUNCTIONS:
            return self._function(original, updated, qualified)
        if self._is_tensor_method(original):
            return self._tensor_method(original, updated)
        if self.cls is not None and _calls_forward(original.func):  # super().forward(x)
            call = updated.with_changes(func=updated.func.with_changes(attr=cst.Name("call")))
            return self._with_training(call) if self.in_call else call
        if self._is_tensor_method(original, TENSOR_METHODS):
            self.error(
                original,
                f"Tensor.{original.func.attr.value}() is not translated",
                "see `torch2tf --list-rules` for the tensor methods that are",
            )
            return updated
        info = self.cls
        attr = _self_attr(original.func)
        if info is not None and attr is not None:
            takes = attr in info.modules or (
                attr in info.layers and LAYERS[info.layers[attr]].takes_training
            )
            takes = takes or attr in info.training
            unknown = attr not in info.layers and info.method(attr) is None
            if (takes or unknown) and not any(
                a.keyword and a.keyword.value == "training" for a in original.args
            ):
                if self.in_call:
                    return self._with_training(updated)
                if takes:
                    self.error(
                        original,
                        f"self.{attr} depends on training but is called outside forward()",
                        "call it from forward(), or pass training explicitly",
                    )
        return updated

    def _is_explicit_super(self, call: cst.Call) -> bool:
        info = self.cls
        return (
            info is not None
            and len(self.function_stack) == 1
            and dotted(call.func) == "super"
            and len(call.args) == 2
            and dotted(call.args[0].value) == info.node.name.value
            and dotted(call.args[1].value) == "self"
        )

    def _with_training(self, call: cst.Call) -> cst.Call:
        args = list(call.args)
        if args:
            args[-1] = args[-1].with_changes(
                comma=cst.Comma(whitespace_after=cst.SimpleWhitespace(" "))
            )
        training = cst.Arg(
            cst.Name("training"),
            keyword=cst.Name("training"),
            equal=cst.AssignEqual(cst.SimpleWhitespace(""), cst.SimpleWhitespace("")),
        )
        return call.with_changes(args=[*args, training])

    def _settle(self, node: cst.CSTNode) -> None:
        """Every torch reference inside ``node`` has been dealt with."""
        outer = self

        class Settle(cst.CSTVisitor):
            def on_visit(self, child: cst.CSTNode) -> bool:
                outer.pending.pop(child, None)
                return True

        node.visit(Settle())

    def _parameter(self, original: cst.Call, updated: cst.Call):
        """``self.w = nn.Parameter(torch.zeros(d))`` -> ``self.w = self.add_weight(...)``."""
        info = self.cls
        attr = (
            info.call_attr.get(original) if info and self.function_stack == ["__init__"] else None
        )
        args = [a for a in original.args if a.keyword is None]
        keywords = {a.keyword.value: a.value for a in original.args if a.keyword}
        grad = dotted(keywords.pop("requires_grad", cst.Name("True")))
        if attr is None or len(args) != 1 or keywords or grad not in ("True", "False"):
            self.error(
                original,
                "nn.Parameter is translated only as `self.name = nn.Parameter(tensor)` in __init__",
            )
            return updated
        self._resolved(original)
        value = next(a.value for a in updated.args if a.keyword is None)
        created = info.params[attr][0]
        inits = [
            step.params["value"]
            for step in info.init_steps
            if step.scope == "param"
            and step.key == attr
            and step.position >= created
            and (not step.calls or original in step.calls)  # pinned to one construction
        ]
        initializer = inits[-1] if inits else None  # torch's last init of it wins
        return cst.parse_expression(
            self._variable(attr, args[0].value, value, grad == "True", initializer, original)
        )

    def _variable(
        self,
        name: str,
        original: cst.BaseExpression,
        updated: cst.BaseExpression,
        trainable: bool,
        initializer: str | None = None,
        where: cst.CSTNode | None = None,
    ) -> str:
        """``add_weight`` for a tensor whose shape and distribution the source shows, else a
        variable holding the translated tensor expression."""
        try:
            source = add_weight(name, original, self.imports, trainable, initializer)
        except Unsupported as err:
            legacy = isinstance(original, cst.Call) and (
                self.imports.qualify(original.func) in LEGACY
            )
            if initializer is not None or legacy:  # init code needs the shape; Tensor(data)
                self.error(where or original, f"{name}: {err.message}", err.hint)
            return f"torch_variable(self, {name!r}, {code_of(updated)}, trainable={trainable})"
        self._settle(original)  # its torch calls were read for shape and distribution
        return source

    def _buffer(
        self, original: cst.SimpleStatementLine, updated: cst.SimpleStatementLine
    ) -> cst.BaseSmallStatement | None:
        """``self.register_buffer("name", tensor)`` -> ``self.name = self.add_weight(...)``."""
        if self.cls is None or self.function_stack != ["__init__"] or len(original.body) != 1:
            return None
        expr = original.body[0]
        if not (
            isinstance(expr, cst.Expr)
            and isinstance(expr.value, cst.Call)
            and dotted(expr.value.func) == "self.register_buffer"
        ):
            return None
        calls = (expr.value, updated.body[0].value)
        args, keywords = [], []
        for call in calls:
            positional = [a.value for a in call.args if a.keyword is None]
            named = {a.keyword.value: a.value for a in call.args if a.keyword}
            positional += [named.pop(k) for k in ("name", "tensor") if k in named]
            named.pop("persistent", None)  # a variable either way; weights move by attribute
            args.append(positional)
            keywords.append(named)
        name = args[0][0] if args[0] else None
        if not isinstance(name, cst.SimpleString) or len(args[0]) != 2 or keywords[0]:
            self.error(
                expr.value, "register_buffer is translated only with a literal name and tensor"
            )
            return None
        value = self._variable(name.evaluated_value, args[0][1], args[1][1], trainable=False)
        return cst.parse_statement(f"self.{name.evaluated_value} = {value}\n").body[0]

    def _is_tensor_method(self, call: cst.Call, names=rules.METHODS) -> bool:
        """``x.view(...)`` inside a module class, where ``x`` is not ``self`` or a module."""
        func = call.func
        if self.cls is None or not isinstance(func, cst.Attribute):
            return False
        if func.attr.value not in names:
            return False
        owner = dotted(func.value)
        attr = _self_attr(func.value)
        if attr is not None and (attr in self.cls.layers or attr in self.cls.modules):
            return False  # a method of a layer, not of a tensor
        return owner != "self" and not (owner and self.imports.qualify(func.value))

    def _tensor_method(self, original: cst.Call, updated: cst.Call):
        name = original.func.attr.value
        receiver = Arg(code_of(updated.func.value))  # the tensor, the rule's first argument
        return self._apply(original, updated, f"Tensor.{name}", rules.METHODS[name], receiver)

    def _key(self, node: cst.CSTNode) -> tuple[int, int, int, int]:
        where = self.positions[node]
        return (where.start.line, where.start.column, where.end.line, where.end.column)

    def _resolved(self, original: cst.Call) -> None:
        """The call's torch function name is translated: no longer a pending reference."""
        if isinstance(original.func, cst.Call):  # getattr(nn, "GELU")
            self._settle(original.func)
        self.pending.pop(original.func, None)

    def _layer(self, original: cst.Call, updated: cst.Call, qualified: str):
        info = self.cls
        overrides: dict[str, str] = {}
        attr = None
        if info is not None and self.function_stack == ["__init__"]:
            attr = info.call_attr.get(original)
            created = info.call_position.get(original, 0)
            direct = original in info.direct_calls
            for step in info.init_steps:  # in __init__ order
                # init code before the layer is made misses it
                if step.position >= created and step.reaches(original, qualified, attr, direct):
                    overrides.update(step.params)
        rule_cls: type[LayerRule] = LAYERS[qualified]
        unknown = set(overrides) - set(rule_cls.initializers)
        if unknown:
            self.error(
                original,
                f"init of {qualified}.{', '.join(sorted(unknown))} is not translated",
                f"translated parameters: {', '.join(rule_cls.initializers) or 'none'}",
            )
        if qualified in CHANNELS_LAST_LAYERS and self._key(original) not in self.followed:
            self.error(
                original,
                f"{qualified} is translated only where forward() applies it to feature maps "
                "directly (`self.conv(x)`, in an nn.Sequential attribute): elsewhere the "
                "tensor facts cannot place its channels-last maps",
                "construct it as an attribute in __init__ and call it in forward()",
            )
        rule = rule_cls(overrides, channels_last=self._key(original) in self.channels_last)
        layer = self._apply(original, updated, qualified, rule.keras)
        if attr is not None and original in info.direct_calls:
            layer = named_layer(layer, attr, _helpers())
        return layer

    def _function(self, original: cst.Call, updated: cst.Call, qualified: str):
        return self._apply(original, updated, qualified, rules.FUNCTIONS[qualified])

    def _apply(self, original, updated, qualified, func, *leading: Arg):
        """Bind the call's arguments (after ``leading``) to a rule and parse its source."""
        self._resolved(original)
        try:
            # Arguments come from the updated node, so nested calls are translated already.
            positional, keywords = self._call_args(updated)
            for rewrite in self.rewrites.get(self._key(original), ()):  # dims of maps moved
                if rewrite.index is not None:
                    positional[rewrite.index] = Arg(rewrite.source)
                else:
                    keywords[rewrite.keyword] = Arg(rewrite.source)
            if any(a.startswith("*") for a in positional) and not _takes_varargs(func):
                raise TypeError("*-arguments cannot be bound statically")
            bound = bind(func, [*leading, *positional], keywords)
            source = func(*bound.args, **bound.kwargs)
        except TypeError as err:
            self.error(original, f"cannot translate {qualified}: {err}")
            return updated
        except Unsupported as err:
            self.error(original, f"{qualified}: {err.message}", err.hint)
            return updated
        return cst.parse_expression(source)

    def leave_Module(self, original: cst.Module, updated: cst.Module) -> cst.Module:
        for node, qualified in self.pending.items():
            hint = (
                nearest_alternative(qualified)
                or "see `torch2tf --list-rules` for what is translated"
            )
            self.error(node, f"{qualified} is not translated", hint)
        # Kept for the passes after this one (metadata is only available during the visit).
        self.parsed = ParsedSource(
            original,
            self.positions,
            self.parents,
        )
        return updated


def _expression_call(stmt: cst.BaseStatement) -> cst.Call | None:
    """The call of a statement that is one call, such as ``self.reset_parameters()``."""
    if isinstance(stmt, cst.SimpleStatementLine) and len(stmt.body) == 1:
        small = stmt.body[0]
        if isinstance(small, cst.Expr) and isinstance(small.value, cst.Call):
            return small.value
    return None


def _registered_parameter(
    stmt: cst.SimpleStatementLine, imports: ImportTable
) -> tuple[str, cst.Call | None] | None:
    """(name, the nn.Parameter call or None) of ``self.register_parameter("name", value)``."""
    call = _expression_call(stmt)
    if call is None or dotted(call.func) != "self.register_parameter" or len(call.args) != 2:
        return None
    name, value = (a.value for a in call.args)
    if any(a.keyword for a in call.args) or not isinstance(name, cst.SimpleString):
        return None
    if dotted(value) == "None":
        return name.evaluated_value, None
    if isinstance(value, cst.Call) and imports.qualify(value.func) == PARAMETER:
        return name.evaluated_value, value
    return None


def _is_telemetry(stmt: cst.CSTNode) -> bool:
    """``torch._C._log_api_usage_once(...)`` or torchvision's ``_log_api_usage_once(self)``:
    torch's API-usage logging, which means nothing to TensorFlow."""
    call = _expression_call(stmt) if isinstance(stmt, cst.SimpleStatementLine) else None
    return call is not None and (dotted(call.func) or "").endswith("_log_api_usage_once")


def _drop_telemetry(block: cst.IndentedBlock) -> cst.IndentedBlock:
    """Telemetry statements removed, each leaving a one-line comment in its place."""
    body, carried = [], []
    for stmt in block.body:
        if _is_telemetry(stmt):
            call = code_of(stmt.body[0].value.func)
            note = f"# torch2tf: {call}(...) dropped: torch's API-usage telemetry"
            carried += [*stmt.leading_lines, cst.EmptyLine(indent=True, comment=cst.Comment(note))]
            continue
        if carried:
            stmt = stmt.with_changes(leading_lines=[*carried, *stmt.leading_lines])
            carried = []
        body.append(stmt)
    if carried:
        if not body:
            body = [cst.SimpleStatementLine([cst.Pass()], leading_lines=carried)]
        else:
            block = block.with_changes(footer=[*carried, *block.footer])
    return block.with_changes(body=body)


def _is_self_assignment(stmt: cst.SimpleStatementLine) -> bool:
    """``x = x``."""
    if len(stmt.body) != 1 or not isinstance(stmt.body[0], cst.Assign):
        return False
    assign = stmt.body[0]
    return (
        len(assign.targets) == 1
        and isinstance(assign.value, cst.Name)
        and dotted(assign.targets[0].target) == assign.value.value
    )


def _is_device_move(stmt: cst.SimpleStatementLine | None) -> bool:
    """``self.to(device)``, ``self.cuda()``, ``self.cpu()`` as a statement of its own."""
    if stmt is None or len(stmt.body) != 1 or not isinstance(stmt.body[0], cst.Expr):
        return False
    call = stmt.body[0].value
    if not isinstance(call, cst.Call) or _self_attr(call.func) not in ("to", "cuda", "cpu"):
        return False
    if _self_attr(call.func) != "to":
        return True
    args = [a for a in call.args if a.keyword is None or a.keyword.value == "device"]
    return len(args) == len(call.args) == 1 and not _looks_like_dtype(args[0].value)


def _looks_like_dtype(node: cst.BaseExpression) -> bool:
    name = dotted(node) or ""
    return "float" in name or "int" in name or "dtype" in name or "double" in name


def _takes_varargs(func) -> bool:
    return any(p.kind is p.VAR_POSITIONAL for p in inspect.signature(func).parameters.values())


def _is_torch_module(name: str | None) -> bool:
    return name is not None and (name == "torch" or name.startswith("torch."))


# --------------------------------------------------------------------------- emission


@cache
def _helpers() -> dict[str, str]:
    """Name -> source of each top-level definition in ``keras_helpers``, read as text."""
    folder = Path(__file__).parent / "keras_helpers"
    found: dict[str, str] = {}
    for name in HELPER_FILES:
        text = (folder / name).read_text(encoding="utf-8")
        for node in ast.parse(text).body:
            if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
                start = min([d.lineno for d in node.decorator_list] + [node.lineno])
                lines = text.splitlines()[start - 1 : node.end_lineno]
                found[node.name] = "\n".join(lines)
    return found


def emit(code: str) -> str:
    """Complete TensorFlow code written by torch2tf itself: add the helpers it uses, format."""
    return _emit(cst.parse_module(code), code, _used_names(code), "import tensorflow as tf" in code)


def _used_names(code: str) -> set[str]:
    return _names_in(ast.parse(code))


def _names_in(tree: ast.AST) -> set[str]:
    return {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}


def _emit(
    module: cst.Module,
    code: str,
    used: set[str],
    tf_imported: bool,
    generated: dict[str, str] | None = None,
) -> str:
    """Add the helpers ``code`` (the module's code, using the names ``used``) uses, and the
    functions the rewrite ``generated``, and the imports they need; then format."""
    helpers = {**_helpers(), **(generated or {})}
    needed: list[str] = []
    frontier = used
    while True:  # helpers may use helpers
        new = [h for h in helpers if h in frontier and h not in needed]
        if not new:
            break
        needed += new
        frontier = set().union(*(_used_names(helpers[h]) for h in new))
        used = used | frontier
    body = list(module.body)
    insert_at = 0
    for index, stmt in enumerate(body):
        if is_docstring(stmt) and index == 0:
            insert_at = 1
        elif isinstance(stmt, cst.SimpleStatementLine) and all(
            isinstance(s, (cst.Import, cst.ImportFrom)) for s in stmt.body
        ):
            insert_at = index + 1
        else:
            break
    helper_code = "\n\n".join(helpers[h] for h in needed)
    if helper_code:
        helper_module = cst.parse_module(helper_code)
        first, *rest = helper_module.body
        note = "# torch2tf helpers: exact Keras versions of torch behaviour Keras lacks."
        first = first.with_changes(
            leading_lines=[cst.EmptyLine(), cst.EmptyLine(comment=cst.Comment(note))]
        )
        body[insert_at:insert_at] = [first, *rest]
    at = _first_import(body)
    if "tf" in used and not tf_imported:
        body.insert(at, cst.parse_statement("import tensorflow as tf\n"))
    if "math" in used and not _imports_name(module, "math"):
        following = body[at]
        math_import = cst.parse_statement("import math\n")
        if isinstance(following, cst.SimpleStatementLine):  # it takes the blank lines above
            math_import = math_import.with_changes(leading_lines=following.leading_lines)
            # isort's groups: standard library first, then a blank line, then third party
            gap = [cst.EmptyLine()] if _is_third_party_import(following) else []
            body[at] = following.with_changes(leading_lines=gap)
        body.insert(at, math_import)
    return _format(module.with_changes(body=body).code)


def _is_third_party_import(stmt: cst.CSTNode) -> bool:
    if not isinstance(stmt, cst.SimpleStatementLine):
        return False
    small = stmt.body[0]
    if isinstance(small, cst.Import):
        name = dotted(small.names[0].name) or ""
    elif isinstance(small, cst.ImportFrom) and not small.relative and small.module is not None:
        name = dotted(small.module) or ""
    else:
        return False
    return name.split(".")[0] not in sys.stdlib_module_names | {"__future__"}


def _imports_name(module: cst.Module, name: str) -> bool:
    return name in ImportTable.of(module).aliases


def _first_import(body: list[cst.BaseStatement]) -> int:
    for index, stmt in enumerate(body):
        if isinstance(stmt, cst.SimpleStatementLine) and isinstance(
            stmt.body[0], (cst.Import, cst.ImportFrom)
        ):
            return index
    return 0


def _format(code: str) -> str:
    """Format like black (88 columns) with ruff's formatter, ~50x faster than black itself."""
    from ruff.__main__ import find_ruff_bin

    result = subprocess.run(
        [find_ruff_bin(), "format", "--isolated", "--line-length", "88", "-"],
        input=code,
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:  # our own output does not parse: a bug, never the user's input
        raise RuntimeError(f"torch2tf generated code ruff cannot format: {result.stderr}")
    return hoist_wrapped_comments(result.stdout, _format)  # no `)  # comment` lines


def _init_default_call(stmt, init: ast.ClassDef) -> tuple[str, cst.BaseExpression] | None:
    """``(w_init_, tensor)`` for ``w_init_(tensor)`` or ``if w_init_: w_init_(tensor)``."""
    if isinstance(stmt, cst.If) and stmt.orelse is None and isinstance(stmt.test, cst.Name):
        body = stmt.body.body
        if len(body) != 1:
            return None
        call = _expression_call(body[0])
        guard = stmt.test.value
    else:
        call, guard = _expression_call(stmt), None
    if call is None or not isinstance(call.func, cst.Name) or len(call.args) != 1:
        return None
    name = call.func.value
    if guard not in (None, name) or call.args[0].keyword or call.args[0].star:
        return None
    if name in _local_names(init):
        return None  # reassigned: not the parameter's value any more
    return name, call.args[0].value


def _param_default(init: cst.FunctionDef | None, name: str) -> cst.BaseExpression | None:
    if init is None:
        return None
    params = init.params
    for param in [*params.posonly_params, *params.params, *params.kwonly_params]:
        if param.name.value == name:
            return param.default
    return None


def _local_names(tree: ast.AST) -> set[str]:
    """Names assigned anywhere in ``tree`` (parameters excluded)."""
    return {
        n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)
    }


def _name_uses(tree: ast.Module, name: str) -> int:
    return sum(isinstance(n, ast.Name) and n.id == name for n in ast.walk(tree))


def _fixed_defaults(func: cst.FunctionDef, fixed: dict[str, cst.Lambda]) -> cst.FunctionDef:
    """An init function default read into initializers: the parameter keeps a plain default,
    and any other value is refused loudly (its effect cannot be known statically)."""
    params = func.params

    def replace(group):
        return [
            p.with_changes(default=cst.SimpleString('"default"')) if p.name.value in fixed else p
            for p in group
        ]

    params = params.with_changes(
        posonly_params=replace(params.posonly_params),
        params=replace(params.params),
        kwonly_params=replace(params.kwonly_params),
    )
    checks = []
    for name, default in fixed.items():
        func_name = code_of(default.body.func) if isinstance(default.body, cst.Call) else "lambda"
        message = f"{name}: only its default init function ({func_name}) is translated"
        checks.append(
            cst.parse_statement(f'if {name} != "default":\n    raise ValueError({message!r})\n')
        )
    body = list(func.body.body)
    at = 1 if body and is_docstring(body[0]) else 0
    body[at:at] = checks
    return func.with_changes(params=params, body=func.body.with_changes(body=body))
