"""Rule dispatch: each torch call (layer, function, tensor method) bound to its rule."""

from __future__ import annotations

import libcst as cst

from torch2tf import rules
from torch2tf.names import code_of, dotted
from torch2tf.parameters import LEGACY, holds_data
from torch2tf.receivers import UNKNOWN as UNKNOWN_RECEIVER
from torch2tf.receivers import Receiver
from torch2tf.rules import LAYERS, Arg, LayerRule, Unsupported, bind
from torch2tf.rules.registry import BoolArg
from torch2tf.serializable import named_layer
from torch2tf.tensor_facts import CHANNELS_LAST_LAYERS
from torch2tf.tensor_facts.live import UNFOLLOWED, UNFOLLOWED_END, ran
from torch2tf.tensor_facts.project import torch_origin
from torch2tf.torch_api import TENSOR_METHODS
from torch2tf.translation.emission import helper_sources
from torch2tf.translation.forwarded import forwarded_layer, forwards_kwargs
from torch2tf.translation.inplace import (
    FRESH,
    allocating_layer,
    inplace_base,
    last_use,
    rebinding_problem,
)
from torch2tf.translation.left_out import left_out_call
from torch2tf.translation.masked import BOOL_SENSITIVE, visibly_bool
from torch2tf.translation.patterns import (
    MODULE_DICT_BASE,
    PARAMETER,
    SEQUENTIAL_BASE,
    call_args,
    calls_forward,
    eager_method,
    module_parameters,
    self_attr,
    takes_varargs,
)
from torch2tf.translation.rewrite_base import RewriteBase
from torch2tf.translation.weight_norm import WEIGHT_NORMS, wrapped_overrides, wrapper_call
from torch2tf.translation.weights import buffer_statement

# nn.ModuleDict's own methods, which TorchModuleDict has too (none takes training).
DICT_METHODS = frozenset({"items", "keys", "values"})


class CallRewrite(RewriteBase):
    """Rule dispatch: each torch call (layer, function, tensor method) bound to its rule."""

    def _parameter_shape(self, call: cst.Call) -> bool:
        """Whether ``call`` is the one argument of an ``nn.Parameter(...)``."""
        arg = self.parents.get(call)
        outer = self.parents.get(arg) if isinstance(arg, cst.Arg) else None
        return isinstance(outer, cst.Call) and self.imports.qualify(outer.func) == PARAMETER

    def leave_Call(self, original: cst.Call, updated: cst.Call) -> cst.BaseExpression:
        if self._is_explicit_super(original):
            return updated.with_changes(args=[])  # super(Cls, self) -> super(): same meaning
        if self._is_sequential_init(original):
            if self._ordered_argument(original):  # super().__init__(layers), an OrderedDict
                named = f"torch_named_layers({code_of(updated.args[0].value)})"
                return updated.with_changes(args=[cst.Arg(cst.parse_expression(named))])
            return _layers_as_one_list(updated)
        if dotted(original.func) == "getattr":
            return self._getattr(original, updated)
        if self._adds_module(original):  # self.add_module(name, m), self.seq.add_module(...)
            return cst.Call(
                cst.Name("torch_add_module"), [cst.Arg(updated.func.value), *updated.args]
            )
        qualified = torch_origin(self.imports.qualify(original.func))
        if qualified in LAYERS:  # left out where the live model builds none and it fails
            return left_out_call(self, original, updated, qualified)
        if qualified == PARAMETER:
            return self._parameter(original, updated)
        if qualified == "functools.partial":
            return self._partial(original, updated)
        if qualified in LEGACY and not holds_data(original):
            if not self._parameter_shape(original):
                self.error(
                    original,
                    f"{qualified}(...) of sizes or of a name is translated only as "
                    "nn.Parameter(...)'s shape: torch reads a name as data or as sizes "
                    "(uninitialised memory) by its value's type",
                    "write torch.tensor(data, dtype=...) for data, torch.empty(sizes) for memory",
                )
                self._resolved(original)  # reported once, here
            return updated  # torch.Tensor(a, b): a shape, which nn.Parameter reads
        if qualified in WEIGHT_NORMS:
            return wrapper_call(self, original, self._function(original, updated, qualified))
        if qualified in rules.FUNCTIONS:
            return self._function(original, updated, qualified)
        if module_parameters(original, self.cls, self.imports):
            return cst.parse_expression(f"torch_parameters({code_of(updated.func.value)})")
        receiver = self._non_tensor_receiver(original)
        if receiver is not None:
            return self._object_method(original, updated, receiver)
        if self._is_tensor_method(original):
            return self._tensor_method(original, updated)
        if self.cls is not None and calls_forward(original.func):  # super().forward(x)
            call = updated.with_changes(func=updated.func.with_changes(attr=cst.Name("call")))
            return self._with_training(call) if self.in_call else call
        base = inplace_base(original, rules.METHODS)
        if base is not None and self._is_tensor_method(original, {original.func.attr.value}):
            return self._inplace(original, updated, base)
        if self._is_tensor_method(original, TENSOR_METHODS):
            self.error(
                original,
                f"Tensor.{original.func.attr.value}() is not translated",
                "see `torch2tf --list-rules` for the tensor methods that are",
            )
            return updated
        if self._at(self.rewrites, original):  # Permute([0, 2, 3, 1]): Keras's dims
            updated = self._rewritten(original, updated)
        info = self.cls
        attr = self_attr(original.func)
        if self.in_call and self._loop_module(original):  # for name, layer in self.items()
            if not any(a.keyword and a.keyword.value == "training" for a in original.args):
                return self._with_training(updated)
        if attr in DICT_METHODS and info is not None and info.method(attr) is None:
            if any(self.imports.qualify(b.value) == MODULE_DICT_BASE for b in info.node.bases):
                return updated  # TorchModuleDict's, as nn.ModuleDict's
        if info is not None and attr in info.modules:
            updated = self._keyword_values(updated, self.classes.get(info.modules[attr]))
        if info is not None and attr is not None:
            takes = attr in info.modules or (
                attr in info.layers and LAYERS[info.layers[attr]].takes_training
            )
            takes = takes or attr in info.training
            unknown = attr not in info.layers and info.method(attr) is None
            owner = self._inherited_method(info, attr) if unknown else None
            if owner is not None:  # a method of a base class in this file: as it was translated
                takes, unknown = attr in owner.training, False
            unknown = unknown and attr not in info.functions  # a plain function takes no training
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

    def _rewritten(self, original: cst.Call, updated: cst.Call) -> cst.Call:
        """A call of a project class with the arguments the tensor facts rewrite."""
        args = list(updated.args)
        for rewrite in self.rewrites[self._key(original)]:
            value = cst.parse_expression(rewrite.source)
            if rewrite.index is not None and rewrite.index < len(args):
                args[rewrite.index] = args[rewrite.index].with_changes(value=value)
            for i, arg in enumerate(args):
                if rewrite.keyword is not None and dotted(arg.keyword) == rewrite.keyword:
                    args[i] = arg.with_changes(value=value)
        return updated.with_changes(args=args)

    def _inplace(self, original: cst.Call, updated: cst.Call, base: str):
        """``p.unsqueeze_(1)`` as a statement -> ``p = <p.unsqueeze(1)>`` (see inplace.py)."""
        name = original.func.attr.value
        qualify = self.imports.qualify
        variable = buffer_statement(original, self.parents, self.cls, qualify)
        problem = None if variable else rebinding_problem(original, self.parents, qualify)
        if problem is not None:
            self.error(
                original,
                f"in-place Tensor.{name}() is translated only as a statement on a local tensor "
                f"nothing else holds; here {problem}",
                f"rebind a fresh local instead: `y = y.{base}(...)`",
            )
            return updated
        receiver = Arg(code_of(updated.func.value))
        made = self._apply(original, updated, f"Tensor.{name}", rules.METHODS[base], receiver)
        if variable is not None:  # a Keras variable changes in place, as torch's buffer
            return cst.parse_expression(f"self.{variable}.assign({code_of(made)})")
        if isinstance(self.parents[original], cst.Expr):  # else already ``x = x.op_(...)``
            self.rebound[self.parents[original]] = code_of(updated.func.value)
        return made

    def leave_Expr(self, original: cst.Expr, updated: cst.Expr):
        name = self.rebound.pop(original, None)
        if name is None:
            return updated
        return cst.Assign([cst.AssignTarget(cst.Name(name))], updated.value)

    def _keyword_values(self, call: cst.Call, owner) -> cst.Call:
        """A module of this file called with a value its forward annotates as no tensor
        (``batch_dims: Tuple[int]``): passed by keyword from there on, since a Keras layer
        takes only tensors positionally."""
        forward = owner.method("forward") if owner is not None else None
        if forward is None or forward.params.star_arg != cst.MaybeSentinel.DEFAULT:
            return call
        params = [*forward.params.posonly_params, *forward.params.params][1:]
        args = list(call.args)
        first = None
        for index, (arg, param) in enumerate(zip(args, params, strict=False)):
            if arg.keyword is not None or arg.star:
                break
            note = param.annotation
            if note is not None and "Tensor" not in code_of(note.annotation):
                first = index
                break
        if first is None:
            return call
        for index in range(first, len(args)):
            if args[index].keyword is not None or args[index].star or index >= len(params):
                break
            args[index] = args[index].with_changes(
                keyword=cst.Name(params[index].name.value),
                equal=cst.AssignEqual(cst.SimpleWhitespace(""), cst.SimpleWhitespace("")),
            )
        return call.with_changes(args=args)

    def _inherited_method(self, info, attr: str, seen: frozenset = frozenset()):
        """The class of this file, among ``info``'s bases, that defines method ``attr``."""
        for base in info.node.bases:
            owner = self.classes.get(dotted(base.value) or "")
            if owner is None or owner.node.name.value in seen:
                continue
            if owner.method(attr) is not None:
                return owner
            found = self._inherited_method(owner, attr, seen | {owner.node.name.value})
            if found is not None:
                return found
        return None

    def _ordered_argument(self, call: cst.Call) -> bool:
        """Whether ``call``'s one argument is an OrderedDict (or dict) of layers, or names one."""
        if len(call.args) != 1 or call.args[0].keyword is not None or call.args[0].star:
            return False
        value = call.args[0].value
        ordered = ("collections.OrderedDict", "OrderedDict", "dict")

        def is_dict(node: cst.BaseExpression) -> bool:
            made = isinstance(node, cst.Call) and (
                self.imports.qualify(node.func) in ordered or dotted(node.func) in ordered
            )
            return made or isinstance(node, cst.Dict)

        if not isinstance(value, cst.Name):
            return is_dict(value)
        func = self.parents.get(call)
        while func is not None and not isinstance(func, cst.FunctionDef):
            func = self.parents.get(func)
        found = []

        class Assigns(cst.CSTVisitor):
            def visit_Assign(self, assign: cst.Assign) -> None:
                if [dotted(t.target) for t in assign.targets] == [value.value]:
                    found.append(is_dict(assign.value))

            def visit_AnnAssign(self, assign: cst.AnnAssign) -> None:
                if dotted(assign.target) == value.value and assign.value is not None:
                    found.append(is_dict(assign.value))

        if func is not None:
            func.visit(Assigns())
        return bool(found) and all(found)

    def _loop_module(self, call: cst.Call) -> bool:
        """Whether ``call`` calls the variable of a loop over the modules of ``self``."""
        if not isinstance(call.func, cst.Name):
            return False
        node = self.parents.get(call)
        while node is not None and not isinstance(node, cst.FunctionDef):
            if isinstance(node, cst.For) and isinstance(node.iter, cst.Call):
                method = dotted(node.iter.func)
                target = node.target
                if method in ("self.items", "self.named_children"):
                    pairs = isinstance(target, cst.Tuple) and len(target.elements) == 2
                    target = target.elements[1].value if pairs else None
                elif method not in ("self.values", "self.children"):
                    target = None
                if isinstance(target, cst.Name) and target.value == call.func.value:
                    return True
            node = self.parents.get(node)
        return False

    def _adds_module(self, call: cst.Call) -> bool:
        """``add_module``/``register_module`` on ``self`` or one of its layers, in __init__."""
        func = call.func
        info = self.cls
        if not (
            info is not None
            and isinstance(func, cst.Attribute)
            and func.attr.value in ("add_module", "register_module")
            and (len(call.args) == 2 or [a.star for a in call.args] == ["*"])  # (name, m)
        ):
            return False
        attr = self_attr(func.value)
        return dotted(func.value) == "self" or attr in info.layers or attr in info.modules

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

    def _is_sequential_init(self, call: cst.Call) -> bool:
        """``super().__init__(*layers)`` in a class deriving from nn.Sequential itself."""
        info = self.cls
        return (
            info is not None
            and self.function_stack == ["__init__"]
            and isinstance(call.func, cst.Attribute)
            and call.func.attr.value == "__init__"
            and isinstance(call.func.value, cst.Call)
            and dotted(call.func.value.func) == "super"
            and any(self.imports.qualify(b.value) == SEQUENTIAL_BASE for b in info.node.bases)
        )

    def _is_tensor_method(self, call: cst.Call, names=rules.METHODS) -> bool:
        """``x.view(...)`` inside a module class, where ``x`` is not ``self`` or a module."""
        func = call.func
        if not isinstance(func, cst.Attribute) or func.attr.value not in names:
            return False
        if self.cls is None and not self.in_tensor_function:
            # a function of the file no class calls: on a parameter annotated as a tensor
            return self._tensor_parameter(call, func.value)
        owner = dotted(func.value)
        attr = self_attr(func.value)
        if attr is not None and self.cls and (attr in self.cls.layers or attr in self.cls.modules):
            return False  # a method of a layer, not of a tensor
        return owner != "self" and not (owner and self.imports.qualify(func.value))

    def _tensor_parameter(self, call: cst.Call, receiver: cst.BaseExpression) -> bool:
        """Whether ``receiver`` is a parameter of ``call``'s function annotated a Tensor."""
        node = self.parents.get(call)
        while node is not None and not isinstance(node, cst.FunctionDef):
            node = self.parents.get(node)
        if node is None or not isinstance(receiver, cst.Name):
            return False
        params = [*node.params.posonly_params, *node.params.params, *node.params.kwonly_params]
        return any(
            p.name.value == receiver.value
            and p.annotation is not None
            and self.imports.qualify(p.annotation.annotation) == "torch.Tensor"
            for p in params
        )

    def _non_tensor_receiver(self, call: cst.Call) -> Receiver | None:
        if not self._is_tensor_method(call, set(rules.METHODS) | TENSOR_METHODS):
            return None
        return self._at(self.receivers, call.func.value)

    def _object_method(self, original: cst.Call, updated: cst.Call, receiver: Receiver):
        """A tensor method's name called on a value not known to be a tensor: left as written
        on a Python object; reported when the value's kind is unknown."""
        if receiver.kind == UNKNOWN_RECEIVER:
            name = original.func.attr.value
            self.error(
                original,
                f"cannot tell whether {receiver.origin} returns a tensor, so "
                f".{name}() is neither translated as Tensor.{name}() nor kept as written",
                "apply the torch function to a tensor directly (or assign a torch result to it)",
            )
        return updated

    def _tensor_method(self, original: cst.Call, updated: cst.Call):
        name = original.func.attr.value
        receiver = Arg(code_of(updated.func.value))  # the tensor, the rule's first argument
        if name in BOOL_SENSITIVE and visibly_bool(original.func.value, self.parents):
            receiver = BoolArg(receiver)
        if (eager := eager_method(original, receiver, self)) is not None:
            self._resolved(original)  # .item() or .numpy() run eagerly (__init__, switched on)
            return cst.parse_expression(eager)
        return self._apply(original, updated, f"Tensor.{name}", rules.METHODS[name], receiver)

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
        if attr is not None and attr in info.wrapped:
            overrides = wrapped_overrides(self, original, qualified, attr, created, direct)
        unknown = set(overrides) - set(rule_cls.initializers)
        if unknown:
            self.error(
                original,
                f"init of {qualified}.{', '.join(sorted(unknown))} is not translated",
                f"translated parameters: {', '.join(rule_cls.initializers) or 'none'}",
            )
        key = self._key(original)  # followed, or built where the live model's construction ran
        if qualified in CHANNELS_LAST_LAYERS and key not in self.followed | ran(self.path, key):
            end, hint = UNFOLLOWED_END
            self.error(original, f"{qualified} {UNFOLLOWED} to feature maps {end}", hint)
        channels_last = bool(self.channels_last) and self._key(original) in self.channels_last
        rule = rule_cls(overrides, channels_last=channels_last)
        if forwards_kwargs(original):  # **kwargs: torch's arguments to a function making it
            made = forwarded_layer(qualified, updated)
            self._resolved(original)
            if isinstance(made, str) or overrides:
                reason = made if isinstance(made, str) else "init code sets its parameters"
                self.error(original, f"cannot translate {qualified} with **-arguments: {reason}")
                return updated
            self.generated[made[0]] = made[1]
            return made[2]
        layer = self._apply(original, updated, qualified, rule.keras)
        if attr is not None and original in info.direct_calls and attr not in info.wrapped:
            layer = named_layer(layer, attr, helper_sources())
        return layer

    def leave_Subscript(self, original: cst.Subscript, updated: cst.Subscript):
        """An indexing the tensor facts place on a map: its index in Keras's layout."""
        index = self._at(self.slices, original)
        if index is None:
            return updated
        return updated.with_changes(slice=cst.parse_expression(f"_[{index}]").slice)

    def _function(self, original: cst.Call, updated: cst.Call, qualified: str):
        inplace = [a for a in original.args if a.keyword and a.keyword.value == "inplace"]
        if (
            inplace
            and dotted(inplace[0].value) == "True"
            and last_use(original, self.parents, self._allocates, self._returns_input)
        ):
            updated = updated.with_changes(  # nothing reads the changed tensor afterwards
                args=[a for a in updated.args if not (a.keyword and a.keyword.value == "inplace")]
            )
        return self._apply(original, updated, qualified, rules.FUNCTIONS[qualified])

    def _allocates(self, call: cst.Call) -> bool:
        """Whether ``call`` always returns a new tensor (``self.bn(x)``, see inplace.py)."""
        attr = self_attr(call.func)
        layers = self.cls.layers if self.cls is not None else {}
        if attr is not None:
            return attr in layers and allocating_layer(layers[attr])
        return self.imports.qualify(call.func) in FRESH

    def _returns_input(self, call: cst.Call) -> bool:
        """Whether ``call`` applies a torch layer that may return its input itself, or a
        view of it (nn.Identity, nn.Dropout in eval mode, nn.Flatten)."""
        attr = self_attr(call.func)
        layer = self.cls.layers.get(attr) if self.cls is not None and attr else None
        return layer is not None and layer != "torch.nn.Sequential" and not allocating_layer(layer)

    def _apply(self, original, updated, qualified, func, *leading: Arg):
        """Bind the call's arguments (after ``leading``) to a rule and parse its source."""
        self._resolved(original)
        try:
            # Arguments come from the updated node, so nested calls are translated already.
            positional, keywords = call_args(updated)
            for rewrite in self._at(self.rewrites, original, ()):  # dims of maps moved
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
        try:
            return cst.parse_expression(source)
        except cst.ParserSyntaxError:  # an argument over several lines, returned unbracketed
            return cst.parse_expression(f"({source})")


def _layers_as_one_list(call: cst.Call) -> cst.Call:
    """torch's Sequential takes its layers as arguments, Keras's as one iterable:
    ``(*layers)`` -> ``(layers)``, ``(a, b)`` -> ``([a, b])``."""
    positional = [a for a in call.args if a.keyword is None and not a.star]
    starred = [a for a in call.args if a.star == "*"]
    rest = [a for a in call.args if a.keyword is not None or a.star == "**"]
    if len(starred) == 1 and not positional and call.args[0] is starred[0]:
        layers = starred[0].value
    elif not starred and positional:
        layers = cst.List([cst.Element(a.value) for a in positional])
    elif not starred and not positional:
        return call
    else:
        layers = cst.List(
            [
                cst.StarredElement(a.value) if a.star else cst.Element(a.value)
                for a in call.args
                if a.keyword is None and a.star != "**"
            ]
        )
    return call.with_changes(args=[cst.Arg(layers), *rest])
