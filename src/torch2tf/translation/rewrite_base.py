"""The rewrite's shared state: where the visit is, what is pending, the passes' records."""

from __future__ import annotations

import ast

import libcst as cst
from libcst.metadata import MetadataWrapper

from torch2tf import rules
from torch2tf.class_facts import ClassInfo
from torch2tf.errors import Diagnostic
from torch2tf.names import ImportTable, dotted
from torch2tf.receivers import (
    autograd_classes,
    autograd_problems,
    classify_receivers,
    number_shapes,
    tensor_functions,
    tensor_item_assignments,
)
from torch2tf.rules import LAYERS
from torch2tf.scopes import resolve_scopes
from torch2tf.tensor_facts import analyse
from torch2tf.torch_api import TENSOR_METHODS
from torch2tf.translation.class_analysis import ClassAnalysis
from torch2tf.translation.reporting import Reporter

KERAS_MODEL = "tf.keras.Model"


class RewriteBase(cst.CSTTransformer):
    """The state of one file's rewrite, shared by the parts of the translator: where the
    visit is (class, method, statement), the torch references not yet translated, and the
    records of the passes before (class facts, tensor facts)."""

    keras_package = "generated"  # Keras registers the generated classes under this name
    project_objects: frozenset[str] = frozenset()  # other files' functions returning objects

    def __init__(
        self,
        wrapper: MetadataWrapper,
        tree: ast.Module,
        path: str,
        package: str | None = None,
        project_classes: frozenset[str] = frozenset(),
        starred: tuple[tuple[str, str], ...] = (),
        source: str | None = None,
    ) -> None:
        super().__init__()
        module = wrapper.module
        # the text the module was parsed from (LibCST round-trips it exactly): the analyses
        # read it; regenerating it from the tree costs a codegen of the whole file each time
        self.source = module.code if source is None else source
        self.tree = tree
        self.path = path
        self.reporter = Reporter(wrapper, path)
        self.positions = self.reporter.positions
        self.parents = self.reporter.parents
        self.imports = ImportTable.of(module, package, starred)
        self.project_classes = project_classes
        self.diagnostics = self.reporter.diagnostics
        self.diagnostics += resolve_scopes(wrapper, tree, self.imports, path)
        self.analysis = ClassAnalysis(module, tree, self.imports, self.reporter, project_classes)
        self.classes = self.analysis.classes
        # the names the file's classes derive from (a class subclassed is built by its call)
        self.subclassed = frozenset(
            dotted(b.value) for c in self.classes.values() for b in c.node.bases
        )
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
        self.rebound: dict[cst.Expr, str] = {}  # in-place method statements -> the name rebound
        self.class_names: list[str] = []  # the classes the visit is in, innermost last
        self.autograd_classes: set[str] = set()  # classes deriving from torch.autograd.Function
        self.number_shapes: dict = {}  # x.shape read as a Python number -> "line:column"

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

    @property
    def in_tensor_function(self) -> bool:
        """Inside a top-level function the module classes call (``rotate_half``): its tensor
        methods and shapes are translated as in forward."""
        if self.class_names and self.class_names[-1] in self.autograd_classes:
            return bool(self.function_stack)  # forward/backward of a torch.autograd.Function
        return (
            not self.class_stack
            and bool(self.function_stack)
            and self.function_stack[0] in self.tensor_functions
        )

    def visit_Module(self, node: cst.Module) -> None:
        # Analysed up-front (positions are available from here on): an init function defined
        # above the class that applies it must be known before it is reached.
        self.facts = analyse(
            self.tree, self.source, self.imports.qualify_name, set(LAYERS), set(self.classes)
        )
        self.analysis.facts = self.facts  # init loops read the layers the facts found
        self.analysis.run()
        self.channels_last = set().union(*(f.channels_last_layers for f in self.facts.values()))
        self.rewrites = {k: v for f in self.facts.values() for k, v in f.rewrites.items()}
        self.slices = {k: v for f in self.facts.values() for k, v in f.slices.items()}
        self.replaced = {k: v for f in self.facts.values() for k, v in f.replaced.items()}
        self.followed = set().union(*(f.followed for f in self.facts.values()))
        self.autograd_classes = autograd_classes(self.tree, self.imports.qualify_name)
        self.number_shapes = number_shapes(self.tree, self.source, self.imports.qualify_name)
        for node, message in autograd_problems(self.tree, self.autograd_classes):
            self.diagnostics.append(
                Diagnostic(
                    self.path,
                    node.lineno,
                    node.col_offset + 1,
                    message,
                    "TorchFunction runs forward(ctx, ...) and backward(ctx, *grads) as torch",
                )
            )
        self.tensor_functions = tensor_functions(
            self.tree, set(self.classes) | self.autograd_classes
        )
        self.receivers = classify_receivers(
            self.tree,
            self.source,
            self.imports.qualify_name,
            set(rules.METHODS) | TENSOR_METHODS,
            set(self.classes),
            self.project_objects,
        )
        for (line, column, _, _), made in tensor_item_assignments(
            self.tree, self.source, self.imports.qualify_name
        ):
            self.diagnostics.append(
                Diagnostic(
                    self.path,
                    line,
                    column + 1,
                    f"assigning into a tensor ({made}) is not translated: TensorFlow tensors "
                    "cannot be changed in place",
                    "build it whole (torch.stack, torch.cat, torch.where of the parts)",
                )
            )
        for facts in self.facts.values():
            for line, column, message, hint in facts.diagnostics:
                self.diagnostics.append(Diagnostic(self.path, line, column, message, hint))

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

    def _key(self, node: cst.CSTNode) -> tuple[int, int, int, int]:
        where = self.positions[node]
        return (where.start.line, where.start.column, where.end.line, where.end.column)

    def _at(self, table: dict, node: cst.CSTNode, default=None):
        """``table``'s entry for the node's position (the tensor facts key by position): an
        empty table answers without computing the input's positions (costly, often unused)."""
        return table.get(self._key(node), default) if table else default

    def _resolved(self, original: cst.Call) -> None:
        """The call's torch function name is translated: no longer a pending reference."""
        if isinstance(original.func, cst.Call):  # getattr(nn, "GELU")
            self._settle(original.func)
        self.pending.pop(original.func, None)
