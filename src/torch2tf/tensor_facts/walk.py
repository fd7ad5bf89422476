"""The statements and expressions of ``forward()``, in order: names bound, facts of expressions."""

from __future__ import annotations

import ast
from dataclasses import replace

from torch2tf.tensor_facts.builders import MODULE, _Layer
from torch2tf.tensor_facts.live import holds as live_holds
from torch2tf.tensor_facts.records import (
    _TRACKED,
    MAP,
    MAPS,
    PLAIN,
    PLAIN_FACT,
    SCALAR_FACT,
    TUPLE,
    UNKNOWN,
    UNKNOWN_FACT,
    Fact,
)
from torch2tf.tensor_facts.syntax import _dotted, _literal, _self_attr, key_of

_LAYOUT_FREE = ("shape", "dtype", "device", "requires_grad")  # attributes read the same


class Walk:
    """Methods of the class pass (:mod:`torch2tf.tensor_facts.analysis`): statements bind
    local names to facts; expressions give the fact of a value, calls dispatched on."""

    def _block(self, body: list[ast.stmt], env: dict[str, Fact]) -> Fact | None:
        returned = None
        for stmt in body:
            if isinstance(stmt, ast.Assign):
                fact = self.expr(stmt.value, env)
                for target in stmt.targets:
                    self._bind(target, fact, env)
                self._bind_sizes(stmt, env)
            elif isinstance(stmt, (ast.AugAssign, ast.AnnAssign)) and stmt.value is not None:
                value = stmt.value
                if isinstance(stmt, ast.AugAssign):
                    value = ast.BinOp(stmt.target, stmt.op, stmt.value)
                    ast.copy_location(value, stmt)
                self._bind(stmt.target, self.expr(value, env), env)
            elif isinstance(stmt, ast.Return) and stmt.value is not None:
                returned = self.expr(stmt.value, env)
            elif isinstance(stmt, ast.Expr):
                self.expr(stmt.value, env)
            elif isinstance(stmt, ast.FunctionDef):
                self.local_functions[stmt.name] = stmt  # a closure, followed where called
            elif isinstance(stmt, ast.If) and self._known_test(stmt.test, env) is not None:
                # isinstance(x, torch.Tensor) of a map or of a list of maps: one branch runs
                taken = stmt.body if self._known_test(stmt.test, env) else stmt.orelse
                result = self._block(taken, env)
                returned = result if result is not None else returned
            elif isinstance(stmt, ast.If):
                self.expr(stmt.test, env)
                branches = [dict(env), dict(env)]
                results = [
                    self._block(stmt.body, branches[0]),
                    self._block(stmt.orelse, branches[1]),
                ]
                raises = [any(b) and isinstance(b[-1], ast.Raise) for b in (stmt.body, stmt.orelse)]
                if raises[0] != raises[1]:  # only the other branch goes on after the if
                    env.update(branches[1 if raises[0] else 0])
                    returned = results[1 if raises[0] else 0] or returned
                    continue
                for name in set(branches[0]) | set(branches[1]):
                    if name not in env and not all(name in b for b in branches):
                        # bound in one branch only: the other cannot use it after the if
                        env[name] = next(b[name] for b in branches if name in b)
                        continue
                    a, b = branches[0].get(name, PLAIN_FACT), branches[1].get(name, PLAIN_FACT)
                    env[name] = self._merged(stmt, name, a, b)
                returned = next((r for r in results if r is not None), returned)
            elif isinstance(stmt, (ast.For, ast.While, ast.With)):
                loop = self._loop_layer(stmt) if isinstance(stmt, ast.For) else None
                if loop is not None:  # for name, layer in self.items(): layer(x)
                    self.loop_layers[loop[0]] = loop[1:]
                elif isinstance(stmt, ast.For) and isinstance(stmt.target, ast.Name):
                    of = self.expr(stmt.iter, env)  # each of a list of maps is a map
                    env[stmt.target.id] = replace(of, kind=MAP) if of.kind == MAPS else PLAIN_FACT
                    if of.kind == TUPLE:  # each element its own fact: not one for all
                        env[stmt.target.id] = self.error(
                            stmt.iter, "a loop over a tuple holding a feature map"
                        )
                body = list(stmt.body) + list(getattr(stmt, "orelse", []))
                result = self._block(body, env)
                returned = result if result is not None else returned
                if loop is not None:
                    del self.loop_layers[loop[0]]
        return returned

    def _known_test(self, test: ast.expr, env: dict[str, Fact]) -> bool | None:
        """``isinstance(x, torch.Tensor)`` where ``x`` is a map (True) or maps (False)."""
        if not (
            isinstance(test, ast.Call)
            and _dotted(test.func) == "isinstance"
            and len(test.args) == 2
            and isinstance(test.args[0], ast.Name)
            and self.analysis.qualify(_dotted(test.args[1]) or "", test.args[1]) == "torch.Tensor"
        ):
            return None
        kind = env.get(test.args[0].id, PLAIN_FACT).kind
        return True if kind == MAP else False if kind == MAPS else None

    def _loop_layer(self, stmt: ast.For) -> tuple[str, str, object] | None:
        """The loop variable bound to the modules added to ``self`` (an nn.ModuleDict
        subclass's ``self.items()``/``values()``), their key and their one kind of layer."""
        call = stmt.iter
        if not (isinstance(call, ast.Call) and not call.args and _dotted(call.func)):
            return None
        method = _dotted(call.func)
        target = stmt.target
        if method in ("self.items", "self.named_children"):
            pairs = isinstance(target, ast.Tuple) and len(target.elts) == 2
            target = target.elts[1] if pairs else None
        elif method not in ("self.values", "self.children"):
            return None
        if not isinstance(target, ast.Name) or not self.entries:
            return None
        layers = {ast.dump(layer.call) if layer else "": layer for _, layer in self.entries}
        keys = {key for key, _ in self.entries}
        layer = next(iter(layers.values())) if len(layers) == 1 else None
        return target.id, keys.pop() if len(keys) == 1 else "*", layer

    def _merged(self, node: ast.If, name: str, a: Fact, b: Fact) -> Fact:
        """The fact of ``name`` after both branches of an ``if``."""
        if a == b or not (a.is_map or b.is_map):
            return a if a == b else replace(a, origin=None)
        if UNKNOWN in (a.kind, b.kind):
            return UNKNOWN_FACT
        if a.kind == b.kind and a.rank == b.rank:
            channels = a.channels if a.channels == b.channels else None
            source = a.channels_from if a.channels_from == b.channels_from else None
            spatial = a.spatial if a.spatial == b.spatial else None
            return Fact(a.kind, a.rank, channels, source, spatial)
        return self.error(node, f"{name} has another layout after each branch of this if")

    def _bind_sizes(self, stmt: ast.Assign, env: dict[str, Fact]) -> None:
        """``b, c, h, w = x.size()`` (or ``x.shape``) of a map: each name's torch dim."""
        value = stmt.value
        if isinstance(value, ast.Call) and not (value.args or value.keywords):
            value = value.func if getattr(value.func, "attr", None) == "size" else value
        of_map = (
            isinstance(value, ast.Attribute)
            and value.attr in ("size", "shape")
            and isinstance(value.value, ast.Name)
            and env.get(value.value.id, PLAIN_FACT).kind == MAP
        )
        for target in stmt.targets:
            if of_map and isinstance(target, ast.Tuple):
                for dim, element in enumerate(target.elts):
                    if isinstance(element, ast.Name):
                        self.sizes[element.id] = (value.value.id, dim)

    def _bind(self, target: ast.AST, fact: Fact, env: dict[str, Fact]) -> None:
        if isinstance(target, ast.Name):
            self.sizes.pop(target.id, None)
            env[target.id] = fact
        elif isinstance(target, (ast.Tuple, ast.List)):
            elements = target.elts
            if fact.kind == TUPLE and len(elements) == len(fact.elements):
                if not any(isinstance(e, ast.Starred) for e in elements):
                    for element, held in zip(elements, fact.elements, strict=True):
                        self._bind(element, held, env)
                    return
            if fact.kind == MAPS:
                for element in target.elts:
                    self._bind(element, replace(fact, kind=MAP), env)
                return
            if fact.is_map and fact.kind != UNKNOWN:
                self.error(target, "unpacking a feature map is not translated yet")
            for element in target.elts:
                self._bind(element, UNKNOWN_FACT if fact.is_map else PLAIN_FACT, env)

    # -- expressions

    def expr(self, node: ast.AST, env: dict[str, Fact]) -> Fact:
        if isinstance(node, ast.Name):
            return env.get(node.id, PLAIN_FACT)
        if isinstance(node, ast.Constant):
            return SCALAR_FACT
        if isinstance(node, ast.Call):
            return self._call(node, env)
        if isinstance(node, (ast.List, ast.Tuple)) and node.elts:
            facts = [self.expr(e, env) for e in node.elts]
            ranks = {f.rank for f in facts if f.kind in (MAP, MAPS)}
            if len(ranks) == 1 and all(f.kind in (MAP, MAPS) for f in facts):
                return Fact(MAPS, ranks.pop())  # a list of maps: torch.cat's, a loop's
            if isinstance(node, ast.Tuple) and any(f.kind in _TRACKED for f in facts):
                return Fact(TUPLE, elements=tuple(facts))  # return x, aux: unpacked again
            if any(f.kind in _TRACKED for f in facts):
                return self.error(node, "a list of feature maps of other ranks or tensors")
            return UNKNOWN_FACT if any(f.is_map for f in facts) else PLAIN_FACT
        if isinstance(node, ast.BinOp):
            shape = self._per_sample_shape(node, env)
            if shape is not None:
                return shape
            return self._binary(node, self.expr(node.left, env), self.expr(node.right, env))
        if isinstance(node, ast.UnaryOp):
            return self.expr(node.operand, env)
        if isinstance(node, ast.Compare) and all(
            isinstance(o, (ast.Is, ast.IsNot)) for o in node.ops
        ):
            return SCALAR_FACT  # x is not None: the same in either layout
        if isinstance(node, ast.Attribute):
            if _self_attr(node) in self.channel_parameters:
                return self._channel_parameter(node)
            fact = self.expr(node.value, env)
            if fact.kind in _TRACKED and node.attr == "ndim":
                return SCALAR_FACT  # the same rank in both layouts
            if fact.kind in _TRACKED and node.attr not in _LAYOUT_FREE:
                return self.error(
                    node, f"{node.attr} of a channels-last feature map is not tracked"
                )
            if fact.kind == MAP and node.attr == "shape":  # in torch's order, as x.size()
                self.out.replaced[key_of(node, self.analysis.lines)] = "torch_map_order({})"
            return PLAIN_FACT
        if isinstance(node, ast.Subscript):
            return self._subscript(node, env)
        facts = [self.expr(child, env) for child in ast.iter_child_nodes(node)]
        if any(f.kind in _TRACKED for f in facts if isinstance(node, ast.expr)):
            return self.error(node, "this use of a channels-last feature map is not tracked yet")
        return UNKNOWN_FACT if any(f.is_map for f in facts) else PLAIN_FACT

    def _subscript(self, node: ast.Subscript, env: dict[str, Fact]) -> Fact:
        self.expr(node.slice, env)
        value = node.value
        if isinstance(value, ast.Attribute) and value.attr == "shape":
            fact = self.expr(value.value, env)
            if fact.kind == MAP:  # x.shape[k] of a map: of torch's order (torch_map_order)
                self.expr(value, env)
                return SCALAR_FACT
            if fact.kind in _TRACKED and _literal(node.slice) != 0:
                return self.error(
                    node,
                    "a channels-last feature map's shape is indexed by a dim other than 0",
                    "use x.size(dim), whose dim is moved to the channels-last axis",
                )
            return SCALAR_FACT
        fact = self.expr(value, env)
        if fact.kind == PLAIN:
            return self._indexed_as_map(node)
        if fact.kind == MAPS and isinstance(_literal(node.slice), int):
            return replace(fact, kind=MAP)
        index = _literal(node.slice)
        if fact.kind == TUPLE and isinstance(index, int) and -len(fact.elements) <= index:
            if index < len(fact.elements):
                return fact.elements[index]
        if fact.kind == MAP and self._channel_index(node) is not None:
            return self._channel_pick(node, fact)
        if fact.kind in _TRACKED:
            return self.error(node, "indexing a channels-last feature map is not translated yet")
        return UNKNOWN_FACT if fact.is_map else PLAIN_FACT

    def _binary(self, node: ast.BinOp, left: Fact, right: Fact) -> Fact:
        per_sample = self._per_sample_binary(left, right)
        if per_sample is not None:
            return per_sample
        if not (left.is_map or right.is_map):
            scaled = self._channel_scaled(left, right)
            if scaled is not None:
                return scaled
            return SCALAR_FACT if left == right == SCALAR_FACT else PLAIN_FACT
        if UNKNOWN in (left.kind, right.kind):
            return UNKNOWN_FACT
        if left.kind == MAP:
            right = self._as_map(right, left.rank)
        if right.kind == MAP:
            left = self._as_map(left, right.rank)
        if left.kind == right.kind == MAP and left.rank == right.rank:
            return self._binary_maps(left, right)
        if left.is_map and right.is_map:
            if (left.kind, left.rank) == (right.kind, right.rank):
                return left if left.channels is not None else right
        if (right if left.is_map else left) == SCALAR_FACT:
            return left if left.is_map else right
        return self.error(
            node,
            "an operation between a channels-last feature map and a tensor of unknown layout "
            "is not translated yet (broadcasting would pair other axes)",
        )

    @staticmethod
    def _binary_maps(left: Fact, right: Fact) -> Fact:
        spatial = None  # broadcast: sizes of 1 take the other's
        if left.spatial is not None and right.spatial is not None:
            spatial = tuple(max(a, b) for a, b in zip(left.spatial, right.spatial, strict=True))
        channels = left if left.channels is not None else right
        return replace(channels, spatial=spatial)

    def _call(self, node: ast.Call, env: dict[str, Fact]) -> Fact:
        func = node.func
        attr = _self_attr(func)
        qualified = self.analysis.qualify(_dotted(func) or "", func)
        if qualified in ("torch.cat", "torch.concat"):
            return self._cat(node, env)
        if qualified == "torch.jit.isinstance" or _dotted(func) == "isinstance":
            return SCALAR_FACT  # a type test: the same in either layout
        if _dotted(func) in ("isinstance", "len"):
            for a in node.args:
                self.expr(a, env)
            return SCALAR_FACT  # the batch size is axis 0 in both layouts
        if qualified == "torch.utils.checkpoint.checkpoint" and node.args:
            # the function called on the rest, as the translation calls it
            func = node.args[0]
            node = ast.copy_location(ast.Call(func, node.args[1:], []), node)
            attr = _self_attr(func)
        args = [self.expr(a.value if isinstance(a, ast.Starred) else a, env) for a in node.args]
        if isinstance(func, ast.Name) and func.id in self.loop_layers:
            key, layer = self.loop_layers[func.id]
            if layer is None:
                return self.error(node, f"the modules {func.id} takes are not all of one class")
            return self._apply(node, key, layer, args[0] if args else PLAIN_FACT)
        if isinstance(func, ast.Name) and func.id in self.local_functions:
            method = self.local_functions[func.id]
            if id(method) not in self.inlined:
                return self._inline(method, args, {}, node.args, bound=False)
        keywords = {k.arg: self.expr(k.value, env) for k in node.keywords}
        first = args[0] if args else PLAIN_FACT
        if attr is not None and attr in self.layers:
            return self._apply(node, attr, self.layers[attr], first)
        if attr is not None and attr in self.modules:
            result = self._module(node, attr, first)
            if (first.is_map or result.is_map) and attr not in self.out.layers:
                self.out.layers[attr] = (first, result)  # the module's own check
            return result
        if attr in self.methods and id(self.methods[attr]) not in self.inlined:
            return self._inline(self.methods[attr], args, keywords, node.args)
        inputs = [*args, *keywords.values()]
        function = self.analysis.functions.get(func.id) if isinstance(func, ast.Name) else None
        if function is not None and id(function) not in self.inlined:
            if any(f.kind in _TRACKED for f in inputs):  # a function of this file
                fact = self._layout_free_function(function, args, keywords)
                if fact is not None:
                    return fact
            return self._function_call(node, function, args, keywords)
        if qualified is not None:
            made = self._per_sample_call(node, qualified, args, None)
            return made or self._function(node, qualified, args, keywords)
        if isinstance(func, ast.Attribute) and attr is None:
            receiver = self.expr(func.value, env)
            made = self._per_sample_call(node, None, args, receiver)
            return made or self._method(node, func.attr, receiver, inputs)
        if attr is not None and live_holds(self.cls.name, attr) and args:
            # a module added under a name computed when built (timm's add_module(*stage)):
            # the live model holds it; taken like a module passed in, checked per layer
            made = self._apply(node, attr, _Layer(MODULE, node), args[0])
            if made.kind == MAP and made.channels is None and made.channels_from is None:
                made = replace(made, channels_from=attr)  # its channels: as the model ran
            return made
        if any(f.kind in _TRACKED for f in inputs):
            return self.error(
                node,
                "a channels-last feature map passed to a function or method the tensor facts "
                "do not follow yet",
                "apply torch layers or torch functions to feature maps directly in forward()",
            )
        return UNKNOWN_FACT if any(f.is_map for f in inputs) else PLAIN_FACT

    def _indexed_as_map(self, node: ast.Subscript) -> Fact:
        """Squeeze-excitation's ``s[:, :, None, None]`` (or ``s[..., None, None]``) of an
        (N, C) tensor: torch's (N, C, 1, 1) map, in Keras ``s[:, None, None, :]``."""
        index = node.slice.elts if isinstance(node.slice, ast.Tuple) else [node.slice]
        full = [
            isinstance(e, ast.Slice) and e.lower is None and e.upper is None and e.step is None
            for e in index
        ]
        new = [isinstance(e, ast.Constant) and e.value is None for e in index]
        ellipsis = bool(index) and isinstance(index[0], ast.Constant) and index[0].value is ...
        kept = 1 if ellipsis else 2
        if not (ellipsis or full[:2] == [True, True]) or not all(new[kept:]):
            return PLAIN_FACT
        added = len(index) - kept
        if not 1 <= added <= 3:
            return PLAIN_FACT
        as_map = Fact(MAP, 2 + added, None, None, (1,) * added)
        key = key_of(node, self.analysis.lines)
        if key in self.as_maps:
            self.out.slices[key] = ", ".join([":", *["None"] * added, ":"])
            return as_map
        self.origins[key] = as_map
        return replace(PLAIN_FACT, origin=key)

    def _channel_scaled(self, left: Fact, right: Fact) -> Fact | None:
        """A ``(C, 1, 1)`` parameter times what can be a map of its rank (torchvision
        CNBlock's ``self.layer_scale * self.block(x)``, the block permuting back): the map."""
        for scale, other in ((left, right), (right, left)):
            if scale.origin in self.channel_keys and other.origin is not None:
                rank = self.origins[scale.origin].rank
                if self.origins[other.origin].rank in (None, rank):
                    return self._binary_maps(self._as_map(scale, rank), self._as_map(other, rank))
        return None

    def _channel_parameter(self, node: ast.Attribute) -> Fact:
        """A ``(C, 1, ..., 1)`` parameter: where it meets a map, that map's per-channel
        factor, read as ``(C,)`` (Keras's channels are its last axis)."""
        rank = self.channel_parameters[node.attr]
        as_map = Fact(MAP, rank, None, None, (1,) * (rank - 2))
        key = key_of(node, self.analysis.lines)
        if key in self.as_maps:
            self.out.replaced[key] = "tf.reshape({}, (-1,))"
            return as_map
        self.origins[key] = as_map
        self.channel_keys.add(key)
        return replace(PLAIN_FACT, origin=key)

    def _function_call(self, node: ast.Call, function: ast.FunctionDef, args, keywords) -> Fact:
        """A module-level function of the file called on a map (ShuffleNet's
        ``channel_shuffle(x, groups)``): its body with the arguments' facts, its dims rewritten
        in place, which every call must then agree on: each call's layouts are noted."""
        layouts = tuple((f.kind, f.rank) for f in [*args, *keywords.values()])
        calls = self.analysis.function_layouts.setdefault(function.name, {})
        calls[key_of(node, self.analysis.lines)] = layouts  # a pass again replaces its own
        tracked = any(f.kind in _TRACKED for f in [*args, *keywords.values()])
        others = [seen for seen in calls.values() if seen != layouts]
        if others and (tracked or any(k in _TRACKED for seen in others for k, _ in seen)):
            return self.error(
                node,
                f"{function.name} is called on tensors of another layout elsewhere: its dims "
                "would be rewritten for each",
                "call it on feature maps of one rank only",
            )
        if not tracked:
            return PLAIN_FACT
        return self._inline(function, args, keywords, bound=False)

    def _layout_free_function(
        self, function: ast.FunctionDef, args: list[Fact], keywords: dict
    ) -> Fact | None:
        """A function of the file given a map, followed where it does the same on either
        layout (nothing in it rewritten: stochastic depth); None otherwise, since its one
        translation may serve callers of other layouts too."""
        out = self.out
        before = (
            {k: list(v) for k, v in out.rewrites.items()},
            dict(out.slices),
            set(out.channels_last_layers),
            len(out.diagnostics),
        )
        fact = self._inline(function, args, keywords, bound=False)
        after = (out.rewrites, out.slices, out.channels_last_layers, len(out.diagnostics))
        if all(a == b for a, b in zip(before, after, strict=True)):
            return fact
        out.rewrites, out.slices, out.channels_last_layers = before[:3]
        del out.diagnostics[before[3] :]
        return None

    def _inline(
        self, method: ast.FunctionDef, args: list, keywords: dict, written=(), bound=True
    ) -> Fact:
        """A method of the class called from forward() (or a closure, not ``bound``): its
        body with the arguments' facts; ``*args`` receive a list of maps as the maps."""
        params = [a.arg for a in method.args.args][1 if bound else 0 :]
        nodes = [*written, *[None] * len(args)]
        env: dict[str, Fact] = {}
        rest: list[Fact] = []
        for fact, node in zip(args, nodes, strict=False):
            if rest or isinstance(node, ast.Starred) or len(env) >= len(params):
                rest.append(fact)
            else:
                env[params[len(env)]] = fact
        env.update({k: v for k, v in keywords.items() if k in params})
        if method.args.vararg is not None and rest:
            kinds = {(f.kind, f.rank) for f in rest}
            maps = all(k in (MAP, MAPS) for k, _ in kinds) and len({r for _, r in kinds}) == 1
            env[method.args.vararg.arg] = Fact(MAPS, rest[0].rank) if maps else PLAIN_FACT
        self.inlined.add(id(method))
        try:
            return self._block(method.body, env) or PLAIN_FACT
        finally:
            self.inlined.discard(id(method))
