"""Structural rewrites: classes become Keras models, ``forward`` becomes ``call`` (with
``training``), init code moved into initializers is dropped, torch imports go."""

from __future__ import annotations

import functools

import libcst as cst

from torch2tf.init_code.data_attributes import data_attribute
from torch2tf.names import code_of, dotted, is_torch_name
from torch2tf.rules import FUNCTIONS, LAYERS, attention
from torch2tf.serializable import public_name, record_arguments, register, with_public_name
from torch2tf.tensor_facts.project import project_origin
from torch2tf.translation.constructor import finish_init
from torch2tf.translation.patterns import (
    MODULE_BASE,
    SEQUENTIAL_BASE,
    SUBCLASSED_LAYERS,
    drop_telemetry,
    is_device_move,
    is_self_assignment,
    is_telemetry,
    is_torch_module,
    positional_params,
)
from torch2tf.translation.patterns import (
    MODULE_DICT_BASE as DICT_BASE,
)
from torch2tf.translation.rewrite_base import KERAS_MODEL, RewriteBase
from torch2tf.translation.scans import name_uses
from torch2tf.translation.weight_norm import g_trainable

# TorchScript's decorators: overload declarations (removed) and markers of eager-only code.
SCRIPTING_OVERLOADS = frozenset({"torch.jit._overload_method", "torch.jit._overload"})
SCRIPTING_NO_OPS = frozenset({"torch.jit.unused", "torch.jit.ignore", "torch.jit.export"})
AUTOCASTS = frozenset(
    {
        "torch.autocast",
        "torch.amp.autocast",
        "torch.amp.autocast_mode.autocast",
        "torch.cuda.amp.autocast",
        "torch.cpu.amp.autocast",
    }
)


class StructureRewrite(RewriteBase):
    """Structural rewrites: classes become Keras models, ``forward`` becomes ``call`` (with"""

    def visit_ClassDef(self, node: cst.ClassDef) -> None:
        info = self.classes.get(node.name.value)
        self.class_stack.append(info if info is not None and info.node is node else None)
        self.class_names.append(node.name.value)

    def leave_ClassDef(self, original: cst.ClassDef, updated: cst.ClassDef) -> cst.ClassDef:
        info = self.class_stack.pop()
        self.class_names.pop()
        for base in original.bases:
            qualified = self.imports.qualify(base.value)
            derivable = (MODULE_BASE, SEQUENTIAL_BASE, DICT_BASE, *SUBCLASSED_LAYERS)
            if qualified in LAYERS and qualified not in derivable:
                names = [f"nn.{b.rpartition('.')[2]}" for b in derivable]
                self.error(
                    base.value,
                    f"a class deriving from {qualified} is not translated: only subclasses of "
                    f"{', '.join(names[:-1])} and {names[-1]} are",
                    "derive from nn.Module and hold the layers in an attribute",
                )
        if info is None:
            return updated
        keras_bases = {
            MODULE_BASE: KERAS_MODEL,
            SEQUENTIAL_BASE: "tf.keras.Sequential",
            DICT_BASE: "TorchModuleDict",
            **SUBCLASSED_LAYERS,
        }
        bases = [
            base.with_changes(value=cst.parse_expression(keras_bases[qualified]))
            if (qualified := self.imports.qualify(original.bases[i].value)) in keras_bases
            else base
            for i, base in enumerate(updated.bases)
        ]
        derived = self._base_takes_several_inputs(info)
        updated = updated.with_changes(bases=bases)
        kind = self._renames_without_init(info)
        if kind is not None:
            updated = with_public_name(updated, forwarding=kind == "forwarding")
        return register(updated, self.keras_package, derived)

    def _renames_without_init(self, info) -> str | None:
        """A class that must drop the "_" of its layers' Keras names (see
        :attr:`_naming_privately`) but has no ``__init__`` gets one: "plain" (taking nothing)
        deriving from ``nn.Module`` beside mixins such as ``abc.ABC``, "forwarding" its
        arguments deriving from one class of another file of the project; else None."""
        if info.node.name.value not in self._naming_privately or info.method("__init__"):
            return None
        qualified = [self.imports.qualify(b.value) or "" for b in info.node.bases]
        modules = [q for q in qualified if q.startswith("torch.") or q in self.project_classes]
        if modules == [MODULE_BASE]:
            return "plain"
        return "forwarding" if len(modules) == 1 and modules[0] in self.project_classes else None

    @functools.cached_property
    def _naming_privately(self) -> frozenset[str]:
        """The classes whose ``__init__`` drops the leading "_" of a layer's Keras name
        (serializable.public_name): each private class, or the nearest base of this file it
        inherits its ``__init__`` from; with none in this file, the farthest base here, which
        gets an ``__init__`` (see :meth:`_renames_without_init`)."""
        found = set()
        for name in (n for n in self.classes if n.startswith("_")):
            info, seen = self.classes[name], {name}
            while info.method("__init__") is None:
                bases = [dotted(b.value) for b in info.node.bases]
                base = next((b for b in bases if b in self.classes and b not in seen), None)
                if base is None:
                    break
                info = self.classes[base]
                seen.add(base)
            found.add(info.node.name.value)
        return frozenset(found)

    def _base_takes_several_inputs(self, info, seen: frozenset = frozenset()) -> bool:
        """Whether a base class of this file has a forward of several inputs (so a build of
        theirs, which a subclass of other inputs must not inherit)."""
        for base in info.node.bases:
            owner = self.classes.get(dotted(base.value) or "")
            if owner is None or owner.node.name.value in seen:
                continue
            forward = owner.method("forward")
            params = forward.params if forward is not None else None
            if params is not None and len([*params.posonly_params, *params.params]) > 2:
                return True
            if self._base_takes_several_inputs(owner, seen | {owner.node.name.value}):
                return True
        return False

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
        scripting = [self.imports.qualify(d.decorator) for d in original.decorators]
        if any(q in SCRIPTING_OVERLOADS for q in scripting):
            self._settle(original)  # a signature for TorchScript: the last def is the method
            return cst.RemoveFromParent()
        pairs = list(zip(original.decorators, updated.decorators, strict=True))
        if any(q in SCRIPTING_NO_OPS for q in scripting):
            for decorator in original.decorators:
                self._settle(decorator)
            pairs = [p for p, q in zip(pairs, scripting, strict=True) if q not in SCRIPTING_NO_OPS]
            updated = updated.with_changes(decorators=[after for _, after in pairs])
        updated = self._without_autocast_off(pairs, updated)
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
            updated = record_arguments(updated)
            if info.node.name.value in self._naming_privately:
                updated = public_name(updated)
            return finish_init(info, updated, self.subclassed)
        return updated

    def _without_autocast_off(
        self, pairs: list[tuple[cst.Decorator, cst.Decorator]], updated: cst.FunctionDef
    ) -> cst.FunctionDef:
        """``@autocast("cuda", enabled=False)`` dropped, with a comment: it switches torch's
        mixed precision off inside the function, and TensorFlow casts nothing on its own, so the
        function computes in its inputs' dtypes either way. Any other autocast is reported.
        ``pairs``: the (original, updated) decorators still on the function."""
        kept, dropped = [], []
        for before, after in pairs:
            call = before.decorator
            func = call.func if isinstance(call, cst.Call) else call
            if self.imports.qualify(func) not in AUTOCASTS:
                kept.append(after)
                continue
            arguments = getattr(call, "args", ())
            enabled = [a.value for a in arguments if a.keyword and a.keyword.value == "enabled"]
            if len(enabled) == 1 and dotted(enabled[0]) == "False":
                self._settle(before)
                dropped.append(code_of(before.decorator))
            else:
                kept.append(after)  # mixed precision switched on: reported as not translated
        if not dropped:
            return updated
        notes = [
            f"# @{text}: torch's mixed precision is off here; TensorFlow casts nothing on its "
            "own, so this computes in its inputs' dtypes as in torch."
            for text in dropped
        ]
        lines = [cst.EmptyLine(comment=cst.Comment(n), indent=True) for n in notes]
        return updated.with_changes(decorators=kept, leading_lines=[*updated.leading_lines, *lines])

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

    def on_visit(self, node: cst.CSTNode) -> bool:
        if self.cls is not None and node in self.cls.fixed_defaults.values():
            return False  # replaced by fixed_defaults
        if self.cls is not None and node in self.cls.removed:
            return False  # init code whose effect moved into initializers: nothing to rewrite
        if self.cls is not None and node in self.cls.replaced:
            return False  # an init loop translated as a whole (init_code/runtime.py)
        return super().on_visit(node)

    def on_leave(self, original: cst.CSTNode, updated: cst.CSTNode):
        if self.cls is not None and original in self.cls.removed:
            return cst.RemoveFromParent()
        if self.cls is not None and original in self.cls.replaced:
            self._settle(original)
            module = cst.parse_module(self.cls.replaced[original])
            note = "# torch's init loop, run on the Keras layers (before they are built)"
            if self.cls.replaced[original].startswith(("assert ", "if ")):
                note = "# the checks of torch's init code, whose values became initializers"
            elif not self.cls.replaced[original].startswith("for "):
                note = "# torch's init after construction: the Keras layer's, before it is built"
            note = self.cls.notes.get(original, note)  # "": none (a later statement's)
            lines = [*getattr(original, "leading_lines", ())]
            lines += [cst.EmptyLine(comment=cst.Comment(note))] if note else []
            first, *rest = module.body
            if rest:  # several asserts
                return cst.FlattenSentinel([first.with_changes(leading_lines=lines), *rest])
            return first.with_changes(leading_lines=lines)
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
        if self._weight_tie(node):  # self.head.weight = self.emb.weight: rewritten on leaving
            return
        if g_trainable(self.cls, node) is not None:
            return
        for small in node.body:
            targets = []
            if isinstance(small, cst.Assign):
                targets = [t.target for t in small.targets]
                if self._sets_data(small):
                    continue  # self.fc.stddev = 0.001: kept (init_code/data_attributes.py)
            elif isinstance(small, (cst.AugAssign, cst.AnnAssign)):
                targets = [small.target]
            for target in targets:
                self._check_layer_mutation(target)

    def _sets_data(self, assign: cst.Assign) -> bool:
        if self.cls is None or self.function_stack != ["__init__"] or len(assign.targets) != 1:
            return False
        classes = getattr(self, "classes", {})
        return data_attribute(self.cls, classes, assign.targets[0].target, assign.value)

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

    def _weight_tie(self, node: cst.SimpleStatementLine) -> str | None:
        init = self.cls is not None and self.function_stack == ["__init__"]
        small = node.body[0] if len(node.body) == 1 else None
        if not (init and isinstance(small, cst.Assign) and isinstance(small.value, cst.Attribute)):
            return None  # not `self.a.weight = self.b.weight`: no source to write out
        return attention.weight_tie(code_of(node), self.cls.layers)

    def leave_SimpleStatementLine(self, original, updated):
        if tie := self._weight_tie(original):
            lines = original.leading_lines
            return cst.parse_statement(tie + "\n").with_changes(leading_lines=lines)
        if self.cls is not None and original in self.cls.removed:
            self._settle(original)
            return cst.RemoveFromParent()
        if self.cls is not None and is_device_move(original):
            return cst.RemoveFromParent()  # self.to(device): TensorFlow places ops itself
        if is_self_assignment(updated) and not is_self_assignment(original):
            return cst.RemoveFromParent()  # x = x.to(device) became x = x
        trainable = g_trainable(self.cls, updated)
        if trainable is not None:
            return trainable
        buffer = self._buffer(original, updated) or self._buffer_write(original, updated)
        if buffer is not None:
            return updated.with_changes(body=[buffer])
        if self.cls is not None and original in self.cls.registered:
            return self._register_parameter(original, updated)
        held = self._held_by_sequential(updated)
        if held is not None:  # torch appends it to the sequence (densenet's _Transition)
            return updated.with_changes(body=[cst.Expr(held)])
        if is_telemetry(original):
            self._settle(original)  # dropped by leave_IndentedBlock, with a comment
        if not self.function_stack and not self.class_stack:
            return self._rewrite_imports(updated)
        return updated

    def _held_by_sequential(self, line: cst.SimpleStatementLine) -> cst.Call | None:
        """``self.norm = <layer>`` in an nn.Sequential subclass's ``__init__`` ->
        ``torch_add_module(self, "norm", <layer>)``: torch runs it after the layers before."""
        info = self.cls
        assign = line.body[0] if len(line.body) == 1 else None
        if (
            info is None
            or self.function_stack != ["__init__"]
            or not isinstance(assign, cst.Assign)
            or len(assign.targets) != 1
            or not any(self.imports.qualify(b.value) == SEQUENTIAL_BASE for b in info.node.bases)
        ):
            return None
        name = dotted(assign.targets[0].target) or ""
        attr = name[len("self.") :] if name.startswith("self.") else None
        if attr is None or "." in attr or not (attr in info.layers or attr in info.modules):
            return None
        return cst.parse_expression(f"torch_add_module(self, {attr!r}, _)").with_changes(
            args=[
                *cst.parse_expression(f"f(self, {attr!r})").args,
                cst.Arg(assign.value),
            ]
        )

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
            elif isinstance(small, cst.ImportFrom) and not isinstance(small.names, cst.ImportStar):
                names = [a for a in small.names if not self._unused_torch_name(a)]
                if names:
                    names[-1] = names[-1].with_changes(comma=cst.MaybeSentinel.DEFAULT)
                    kept.append(small.with_changes(names=names))
            else:
                kept.append(small)
        if removed and not self.imports_inserted:
            self.imports_inserted = True
            kept.insert(0, cst.parse_statement("import tensorflow as tf\n").body[0])
        if not kept:
            return cst.RemoveFromParent()
        return line.with_changes(body=kept)

    def _unused_torch_name(self, alias: cst.ImportAlias) -> bool:
        """``from .trace_utils import _assert`` where that file imports ``_assert`` from torch
        (whose import its translation drops) and this file no longer uses it (its users left
        out, unused) or calls it as the torch function (translated by its rule): dropped."""
        local = alias.asname.name if alias.asname else alias.name
        name = dotted(local) or ""
        origin = project_origin(self.imports.qualify_name(name))
        if origin is None or not is_torch_name(origin):
            return False
        return name_uses(self.tree, name) == 0 or origin in FUNCTIONS  # its calls: the rule's

    def visit_Import(self, node: cst.Import) -> bool:
        return False

    def visit_ImportFrom(self, node: cst.ImportFrom) -> bool:
        return False
