"""torch names used as values: types, layer classes, ``self.training``, ``x.shape``,
Sequentials used as sequences; whatever is left untranslated is reported."""

from __future__ import annotations

import ast
from pathlib import Path

import libcst as cst

from torch2tf import rules
from torch2tf.keras_api import keras_attribute
from torch2tf.names import code_of, dotted
from torch2tf.parsed import ParsedSource
from torch2tf.rules import LAYERS, Unsupported, activations, bind
from torch2tf.rules.alternatives import nearest_alternative
from torch2tf.rules.registry import constructor, function_value, layer_factory
from torch2tf.tensor_facts.live import constructs as live_constructs
from torch2tf.torch_api import DTYPES
from torch2tf.translation.left_out import left_out_layer
from torch2tf.translation.patterns import (
    MODULE_BASE,
    UNTRANSLATED_MODULE_API,
    call_args,
    is_device_move,
    names_module_class,
    self_attr,
)
from torch2tf.translation.rewrite_base import KERAS_MODEL, RewriteBase

# torch names that have a plain TensorFlow counterpart wherever they appear (types, isinstance).
NAMES = {
    "torch.nn.Module": KERAS_MODEL,
    "torch.Tensor": "tf.Tensor",
    "torch.Size": "tuple",  # what tf.keras.ops.shape gives, as torch gives a torch.Size
    "torch.device": "str",  # devices become their spec strings (see rules/devices.py)
    # a custom autograd function: its forward run under tf.custom_gradient, with its backward
    "torch.autograd.Function": "TorchFunction",
    "torch.autograd.function.Function": "TorchFunction",
    **{f"torch.{name}": dtype for name, dtype in DTYPES.items()},
}
# torch types with a Keras counterpart as annotations (``optimizer: th.optim.Optimizer``).
ANNOTATIONS = {"torch.optim.Optimizer": "tf.keras.optimizers.Optimizer"}
# Builtins that take an nn.Sequential as a sequence of its layers.
SEQUENCE_BUILTINS = {"len", "zip", "enumerate", "reversed", "list", "tuple", "iter"}


class ReferenceRewrite(RewriteBase):
    """torch names used as values: types, layer classes, ``self.training``, ``x.shape``,"""

    def visit_Attribute(self, node: cst.Attribute) -> bool:
        head = node.value
        while isinstance(head, cst.Attribute):
            head = head.value
        if isinstance(head, cst.Name) and self.imports.is_torch_reference(head):
            self.pending[node] = self.imports.qualify(node)
            return False
        self.not_references.add(node.attr)
        return True

    def visit_Arg(self, node: cst.Arg) -> None:
        if node.keyword is not None:
            self.not_references.add(node.keyword)

    def visit_Param(self, node: cst.Param) -> None:
        self.not_references.add(node.name)

    def visit_ExceptHandler(self, node: cst.ExceptHandler) -> None:
        # a fallback defining a torch name (of the import tried above): its name is not a use
        for statement in node.body.body:
            if isinstance(statement, (cst.FunctionDef, cst.ClassDef)):
                self.not_references.add(statement.name)

    def visit_Name(self, node: cst.Name) -> None:
        if node not in self.not_references and self.imports.is_torch_reference(node):
            self.pending[node] = self.imports.qualify(node)

    def leave_Attribute(self, original: cst.Attribute, updated):
        result = self._attribute(original, updated)
        template = self._at(self.replaced, original)  # read anew by the tensor facts
        if template is None or not isinstance(result, cst.BaseExpression):
            return result
        return cst.parse_expression(template.format(code_of(result)))

    def _attribute(self, original: cst.Attribute, updated):
        if self.in_call and dotted(original) == "self.training":
            return cst.Name("training")
        if (self.in_call or self.in_tensor_function) and self._is_tensor_shape(original):
            where = self._at(self.number_shapes, original)
            if where is not None:  # int(np.ceil(x.shape[0] / n)): read as a Python number
                place = f"{Path(self.path).name}:{where}"
                return cst.parse_expression(
                    f"TorchStaticShape({code_of(updated.value)}, {place!r})"
                )
            # torch sizes are ints; a traced TF tensor's .shape has None for unknown sizes.
            return cst.parse_expression(f"tf.keras.ops.shape({code_of(updated.value)})")
        if self._reads_requires_grad(original):
            return cst.parse_expression(f"torch_requires_grad({code_of(updated.value)})")
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
        if name in ("add_module", "register_module") and not removed:  # torch_add_module
            call = self.parents.get(original)
            removed = (
                isinstance(call, cst.Call) and call.func is original and self._adds_module(call)
            )
        removed |= self._shadowing(original, name)
        if name in UNTRANSLATED_MODULE_API and not removed and not self._defines(name):
            if self.cls is not None and name in self.cls.shadowed_by_module:
                self.error(
                    original,
                    f"self.{name} reads as nn.Module's method here in torch: the class assigns "
                    "it a module, which torch registers, so the name no longer holds a value",
                    f"give the attribute a name of its own instead of {name}",
                )
                return self._reference(original, updated)
            self.error(
                original,
                f"self.{name} is torch's nn.Module API, which is not translated",
                "Keras models differ here; rewrite this use of the method",
            )
        return self._reference(original, updated)

    def _shadowing(self, node: cst.Attribute, name: str | None) -> bool:
        """``self.parameters`` where the class assigns that name (``self.parameters = []``): a
        plain attribute in both frameworks (Keras has none of torch's Module API names), used
        as a value, not called. Where the class also assigns it a torch module, torch registers
        that and the name reads as the method again, so then only ``__init__``'s side may use
        it (``forward`` would read the method in torch, the value in Keras)."""
        if self.cls is None or name not in self.cls.shadowed:
            return False
        call = self.parents.get(node)
        if isinstance(call, cst.Call) and call.func is node:
            return False  # self.parameters(): torch's method (or a callable value): reported
        if name not in self.cls.shadowed_by_module:
            return True
        first = self.function_stack[0] if self.function_stack else ""
        return first != "forward" and first not in self.cls.training

    def _reads_requires_grad(self, node: cst.Attribute) -> bool:
        """``x.requires_grad`` read in a method of a module class (not of ``self.<x>``)."""
        if node.attr.value != "requires_grad" or self.cls is None:
            return False
        if not self.function_stack or self.function_stack[0] == "__init__":
            return False
        owner = dotted(node.value) or ""
        parent = self.parents.get(node)
        assigned = isinstance(parent, cst.AssignTarget)
        return not assigned and owner != "self" and not owner.startswith("self.")

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
        if self.annotation_depth and (
            qualified == MODULE_BASE or qualified in LAYERS or names_module_class(qualified)
        ):
            del self.pending[original]  # as a type, any Keras layer fits where a module did
            return cst.parse_expression("tf.keras.layers.Layer")
        if qualified in NAMES:
            del self.pending[original]
            return cst.parse_expression(NAMES[qualified])
        if qualified in ANNOTATIONS and self.annotation_depth:
            del self.pending[original]  # a type only: Keras's counterpart
            return cst.parse_expression(ANNOTATIONS[qualified])
        if qualified in LAYERS and original not in self.called:
            del self.pending[original]
            assign = self.parents.get(original)
            named = isinstance(assign, cst.Assign) and any(  # `f = lambda ...` fails ruff E731
                isinstance(t.target, cst.Name) for t in assign.targets
            )
            name = "nn_" + qualified.rsplit(".", 1)[1].lower()  # nn.Linear -> nn_linear(...)
            factory = layer_factory(LAYERS[qualified], name)
            try:  # a bare class or a lambda, where it would take no argument but inplace
                if not named and (factory is None or not _takes_arguments(LAYERS[qualified])):
                    return cst.parse_expression(rules.class_reference(LAYERS[qualified]))
            except (TypeError, Unsupported):
                pass
            if factory is not None:
                self.generated[name] = factory
                return cst.Name(name)
            problem = (
                f"{qualified} used as a value is translated only for layers whose arguments "
                "translate without knowing their values"
            )
            if live_constructs(qualified) is False:
                return self._left_out_value(original, qualified, problem)
            self.error(
                original, problem, "construct the layer where it is used, or use functools.partial"
            )
        if original not in self.called and qualified not in LAYERS and qualified is not None:
            if not self.annotation_depth and live_constructs(qualified) is False:
                return self._left_out_value(original, qualified, f"{qualified} is not translated")
        if qualified in rules.FUNCTIONS and original not in self.called:
            value = function_value(qualified)  # activation=F.gelu: a lambda of one tensor
            assign = self.parents.get(original)
            named = isinstance(assign, cst.Assign) and any(
                isinstance(t.target, cst.Name) for t in assign.targets
            )  # `f = lambda ...` fails ruff (E731): that stays reported
            if value is not None and not named:
                del self.pending[original]
                return cst.parse_expression(value)
        return updated

    def _left_out_value(self, original: cst.CSTNode, qualified: str, problem: str):
        """A torch layer class used as a value that does not translate, of which the live
        model holds no instance: see :mod:`torch2tf.translation.left_out`."""
        self.pending.pop(original, None)
        line = self.positions[original].start.line
        name, source = left_out_layer(qualified, problem, str(self.path), line)
        self.generated[name] = source
        return cst.Name(name)

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
            made = self._partial_of_factory(layer_name, updated)
            if made is not None:
                return made
            self.error(original, f"cannot translate partial({layer_name}, ...): {err}")
            return updated

    def _partial_of_factory(self, layer_name: str, updated: cst.Call) -> cst.Call | None:
        """``partial(nn.BatchNorm2d, eps=1e-3)``, the layer's required arguments given later:
        the same partial of a function taking torch's constructor arguments (so momentum stays
        torch's) and making the Keras layer. None when those arguments do not bind to it."""
        rule = LAYERS[layer_name]
        name = "nn_" + layer_name.rsplit(".", 1)[1].lower()
        factory = layer_factory(rule, name)
        made = constructor(rule)
        if factory is None or made is None:
            return None
        signature = ast.parse(f"def f({made[0]}): pass").body[0].args
        params = [a.arg for a in signature.args]
        given = updated.args[1:]
        positional = [a for a in given if a.keyword is None]
        if any(a.star for a in given) or len(positional) > len(params):
            return None
        named = params[len(positional) :]
        if any(a.keyword.value not in named for a in given if a.keyword is not None):
            return None
        self.generated[name] = factory
        first = updated.args[0].with_changes(value=cst.Name(name))
        return updated.with_changes(args=[first, *given])

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


def _takes_arguments(rule: type) -> bool:
    """Whether the function a layer class used as a value becomes takes an argument other
    than ``inplace`` (``nn.Dropout``'s ``p``): then it is that function, not a lambda of the
    defaults, so ``Dropout[name](p=0.1)`` is translated as written."""
    made = constructor(rule)
    if made is None:
        return False
    params = ast.parse(f"def f({made[0]}): pass").body[0].args
    names = [a.arg for a in [*params.posonlyargs, *params.args, *params.kwonlyargs]]
    return any(n != "inplace" for n in names)
