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
from collections.abc import Mapping, Sequence
from pathlib import Path

import libcst as cst
from libcst.metadata import MetadataWrapper

from torch2tf import rules, training_script
from torch2tf.class_facts import ClassInfo
from torch2tf.errors import Diagnostic, TranslationError
from torch2tf.foreign import foreign_layers
from torch2tf.keras_api import keras_attribute
from torch2tf.names import ImportTable, code_of, dotted, drop_imports
from torch2tf.parameters import LEGACY, add_weight, holds_data
from torch2tf.parsed import ParsedSource
from torch2tf.project import local_imports, project_of
from torch2tf.reach import reach
from torch2tf.rules import LAYERS, Arg, LayerRule, Unsupported, activations, bind
from torch2tf.rules.alternatives import nearest_alternative
from torch2tf.rules.registry import layer_factory
from torch2tf.serializable import named_layer, package_name, record_arguments, register
from torch2tf.tensor_facts import CHANNELS_LAST_LAYERS, ClassFacts, analyse
from torch2tf.torch_api import DTYPES, TENSOR_METHODS
from torch2tf.translation.class_analysis import ClassAnalysis, module_class_defs
from torch2tf.translation.constructor import finish_init
from torch2tf.translation.emission import emit, emit_module, helper_sources, names_in, used_names
from torch2tf.translation.patterns import (
    MODULE_BASE,
    PARAMETER,
    UNTRANSLATED_MODULE_API,
    call_args,
    calls_forward,
    drop_telemetry,
    is_device_move,
    is_self_assignment,
    is_telemetry,
    is_torch_module,
    positional_params,
    self_attr,
    takes_varargs,
)
from torch2tf.translation.reporting import Reporter

# emit is public here too: conversion emits code it writes itself.
__all__ = [
    "emit",
    "translate_file",
    "translate_project",
    "translate_source",
    "translate_with_facts",
]
_helpers = helper_sources  # its name before emission moved out, which tests still use

KERAS_MODEL = "tf.keras.Model"
# torch names that have a plain TensorFlow counterpart wherever they appear (types, isinstance).
NAMES = {
    "torch.nn.Module": KERAS_MODEL,
    "torch.Tensor": "tf.Tensor",
    "torch.Size": "tuple",  # what tf.keras.ops.shape gives, as torch gives a torch.Size
    "torch.device": "str",  # devices become their spec strings (see rules/devices.py)
    **{f"torch.{name}": dtype for name, dtype in DTYPES.items()},
}
# Builtins that take an nn.Sequential as a sequence of its layers.
SEQUENCE_BUILTINS = {"len", "zip", "enumerate", "reversed", "list", "tuple", "iter"}


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
        init_code=frozenset(translator.analysis.init_code()),
        diagnostics=translator.diagnostics,
    )
    result = training_script.rewrite(facts, result)  # optimizers, training loops
    problems = translator.diagnostics + foreign_layers(source, path, translator.parsed)
    if problems:
        raise TranslationError(problems)
    code = result.code
    used = used_names(code)
    stale = names_in(tree) - used
    if stale & set(ImportTable.of(module).aliases):
        result = drop_imports(result, stale)  # functools, after partial(nn.X) became a lambda
        code = result.code
    return (
        emit_module(result, code, used, translator.imports_inserted, translator.generated),
        translator.facts,
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
            for node in module_class_defs(module, imports, frozenset(known)):
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


# --------------------------------------------------------------------------- analysis


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
        self.reporter = Reporter(wrapper, path)
        self.positions = self.reporter.positions
        self.parents = self.reporter.parents
        self.imports = ImportTable.of(module, package)
        self.project_classes = project_classes
        self.diagnostics = self.reporter.diagnostics
        self.analysis = ClassAnalysis(module, tree, self.imports, self.reporter, project_classes)
        self.classes = self.analysis.classes
        self.dropped_functions = self.analysis.dropped_functions
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

    # -- diagnostics

    def error(self, node: cst.CSTNode, message: str, hint: str = "") -> None:
        self.reporter.error(node, message, hint)

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
        self.analysis.run()
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
            return finish_init(info, record_arguments(updated), self.classes)
        return updated

    def _with_training_param(self, func: cst.FunctionDef) -> cst.FunctionDef:
        params = func.params
        names = [p.name.value for p in positional_params(func) + list(params.kwonly_params)]
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

    def _register_parameter(self, original, updated: cst.SimpleStatementLine):
        """``self.register_parameter("b", None)`` -> ``self.b = None``; with a Parameter, the
        same as ``self.b = nn.Parameter(...)``."""
        name = self.cls.registered[original]
        value = updated.body[0].value.args[1].value  # the Parameter, already add_weight
        assign = cst.parse_statement(f"self.{name} = {code_of(value)}\n").body[0]
        return updated.with_changes(body=[assign])

    def on_visit(self, node: cst.CSTNode) -> bool:
        if self.cls is not None and node in self.cls.fixed_defaults.values():
            return False  # replaced by fixed_defaults
        if self.cls is not None and node in self.cls.removed:
            return False  # init code whose effect moved into initializers: nothing to rewrite
        return super().on_visit(node)

    def on_leave(self, original: cst.CSTNode, updated: cst.CSTNode):
        if self.cls is not None and original in self.cls.removed:
            return cst.RemoveFromParent()
        return super().on_leave(original, updated)

    def leave_IndentedBlock(self, original: cst.IndentedBlock, updated: cst.IndentedBlock):
        if any(is_telemetry(s) for s in updated.body):
            updated = drop_telemetry(updated)
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
        if self.cls is not None and is_device_move(original):
            return cst.RemoveFromParent()  # self.to(device): TensorFlow places ops itself
        if is_self_assignment(updated) and not is_self_assignment(original):
            return cst.RemoveFromParent()  # x = x.to(device) became x = x
        buffer = self._buffer(original, updated)
        if buffer is not None:
            return updated.with_changes(body=[buffer])
        if self.cls is not None and original in self.cls.registered:
            return self._register_parameter(original, updated)
        if is_telemetry(original):
            self._settle(original)  # dropped by leave_IndentedBlock, with a comment
        if not self.function_stack and not self.class_stack:
            return self._rewrite_imports(updated)
        return updated

    def _rewrite_imports(self, line: cst.SimpleStatementLine):
        kept = []
        removed = False
        for small in line.body:
            if isinstance(small, cst.Import):
                names = [a for a in small.names if not is_torch_module(dotted(a.name))]
                removed |= len(names) != len(small.names)
                if names:
                    names[-1] = names[-1].with_changes(comma=cst.MaybeSentinel.DEFAULT)
                    kept.append(small.with_changes(names=names))
            elif isinstance(small, cst.ImportFrom) and is_torch_module(
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
        name = self_attr(original)
        if self._used_as_sequence(original, name):
            # torch's Sequential iterates and indexes its layers; Keras's exposes them as .layers
            return cst.parse_expression(f"{code_of(updated)}.layers")
        if self.cls is not None and name in self.cls.renamed:
            # A torch attribute named like a Keras one (self.layers) would break the model.
            return updated.with_changes(attr=cst.Name(keras_attribute(name)))
        removed = self.cls is not None and (
            self.statement in self.cls.removed or is_device_move(self.statement)
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
        attr = self_attr(node.value)
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
            positional, keywords = call_args(updated.with_changes(args=updated.args[1:]))
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
        if self.cls is not None and calls_forward(original.func):  # super().forward(x)
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
        attr = self_attr(original.func)
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
        attr = self_attr(func.value)
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
            layer = named_layer(layer, attr, helper_sources())
        return layer

    def _function(self, original: cst.Call, updated: cst.Call, qualified: str):
        return self._apply(original, updated, qualified, rules.FUNCTIONS[qualified])

    def _apply(self, original, updated, qualified, func, *leading: Arg):
        """Bind the call's arguments (after ``leading``) to a rule and parse its source."""
        self._resolved(original)
        try:
            # Arguments come from the updated node, so nested calls are translated already.
            positional, keywords = call_args(updated)
            for rewrite in self.rewrites.get(self._key(original), ()):  # dims of maps moved
                if rewrite.index is not None:
                    positional[rewrite.index] = Arg(rewrite.source)
                else:
                    keywords[rewrite.keyword] = Arg(rewrite.source)
            if any(a.startswith("*") for a in positional) and not takes_varargs(func):
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
