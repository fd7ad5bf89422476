"""The layers of a class applied in ``forward()``: ``self.<layer>`` and submodules of the file."""

from __future__ import annotations

import ast
from dataclasses import replace

from torch2tf.tensor_facts.builders import ALTERNATIVES, MODULE, _Layer
from torch2tf.tensor_facts.channel_parameters import permutes_by_argument
from torch2tf.tensor_facts.einops_calls import EINOPS_LAYERS
from torch2tf.tensor_facts.live import held_output_size
from torch2tf.tensor_facts.live import taken as live_taken
from torch2tf.tensor_facts.project import project_class
from torch2tf.tensor_facts.records import (
    FLAT,
    MAP,
    MAPS,
    PLAIN,
    PLAIN_FACT,
    UNKNOWN,
    UNKNOWN_FACT,
    Fact,
    FlattenedRows,
)
from torch2tf.tensor_facts.syntax import _argument, _literal, key_of
from torch2tf.tensor_facts.tables import (
    _CONVS,
    _ELEMENTWISE_LAYERS,
    _MAP_LAYERS,
    CHANNELS_LAST_LAYERS,
)


class Layers:
    """Methods of the class pass (:mod:`torch2tf.tensor_facts.analysis`): a layer's or a
    submodule's output fact from its input's; layers on maps noted for verification."""

    def _apply(self, node: ast.Call, path: str, layer: _Layer, fact: Fact) -> Fact:
        if layer.qualified in CHANNELS_LAST_LAYERS:
            fact = self._as_map(fact, _CONVS.get(layer.qualified) or _MAP_LAYERS[layer.qualified])
        result = self._layer_fact(node, path, layer, fact)
        if fact.kind == MAP or result.kind == MAP:
            self.out.followed.add(key_of(layer.call, self.analysis.lines))
        if fact.is_map or result.is_map:
            previous = self.out.layers.get(path)
            if previous is not None and previous != (fact, result):
                layouts = [(f.kind, f.rank) for f in (fact, result)]
                if [(f.kind, f.rank) for f in previous] != layouts:
                    return self.error(
                        node, f"self.{path} is applied to tensors of different layouts"
                    )
                # the same layout with other sizes (one ReLU after each conv): keep the layout
                self.out.layers[path] = (Fact(fact.kind, fact.rank), Fact(result.kind, result.rank))
                return result
            self.out.layers[path] = (fact, result)
        return result

    def _layer_fact(self, node: ast.Call, path: str, layer: _Layer, fact: Fact) -> Fact:
        qualified = layer.qualified
        name = qualified.rpartition(".")[2]
        if fact.kind == UNKNOWN:
            return UNKNOWN_FACT
        if qualified == MODULE and self._permute_module(layer):
            # Permute([0, 2, 3, 1]) as a permute call of those dims; its rewrites (Keras's
            # dims) go to the constructor's argument
            return self._permute(layer.call, "permute", fact, 0)
        if qualified == MODULE:
            return self._candidates(node, path, layer.classes, fact)
        if qualified == ALTERNATIVES:
            return self._alternatives(node, path, layer, fact)
        if layer.repeated:
            return self._repeated(node, path, layer, fact)
        if qualified in _CONVS or qualified in _MAP_LAYERS:
            rank = _CONVS.get(qualified) or _MAP_LAYERS[qualified] or fact.rank
            if fact.kind != MAP or fact.rank != rank or rank not in (3, 4, 5):
                received = (
                    f"a map of rank {fact.rank}"
                    if fact.kind == MAP
                    else "not one the tensor facts know"
                )
                return self.error(
                    node,
                    f"{name} expects a channels-last feature map of rank {rank}; its input here "
                    f"is {received}",
                    "feed it the model's input or another layer's feature map",
                )
            if qualified in _CONVS:
                channels = _literal(layer.call.args[1] if len(layer.call.args) > 1 else None)
                return Fact(MAP, rank, channels if isinstance(channels, int) else None, path)
            if "Adaptive" in qualified:
                size = _literal(_argument(layer.call, "output_size", 0)[0])
                if size is None:  # a parameter: the size the live model's pools were built with
                    size = held_output_size(self.cls.name, path)
                sizes = (size,) * (rank - 2) if isinstance(size, int) else size
                if isinstance(sizes, (tuple, list)) and all(isinstance(n, int) for n in sizes):
                    return replace(fact, spatial=tuple(sizes))
            if "Pixel" in qualified:  # channels / r**2 or * r**2
                return Fact(MAP, rank)
            if any(k in qualified for k in ("Pool", "Pad", "Upsampl")):
                return replace(fact, spatial=None)
            return fact
        if qualified == "torch.nn.GroupNorm":  # on any map; on a plain tensor, its axis 1
            if fact.kind == MAP:
                self.out.channels_last_layers.add(key_of(layer.call, self.analysis.lines))
            elif fact.is_map:
                return self.error(node, "GroupNorm on this feature map is not translated")
            return fact
        if qualified == "torch.nn.BatchNorm1d":
            if fact.kind == MAP and fact.rank == 3:
                self.out.channels_last_layers.add(key_of(layer.call, self.analysis.lines))
            elif fact.is_map:
                return self.error(node, "BatchNorm1d on this feature map is not translated")
            return fact
        if qualified in _ELEMENTWISE_LAYERS:
            return fact
        if qualified in EINOPS_LAYERS:
            return self._einops_layer(node, layer.call, fact)
        if qualified == "torch.nn.PReLU" and fact.is_map:
            count = _literal(layer.call.args[0] if layer.call.args else None, 1)
            if count == 1 and not layer.call.keywords:
                return fact
        if qualified == "torch.nn.Flatten" and fact.kind == MAP:
            call = layer.call
            start = _literal(_argument(call, "start_dim", 0)[0], 1)
            end = _literal(_argument(call, "end_dim", 1)[0], -1)
            if (start, end) == (1, -1):
                return self._flattened(fact)
        if qualified == "torch.nn.Linear":
            if fact.kind == FLAT:
                rows = FlattenedRows(fact.channels, fact.channels_from, fact.spatial)
                self.out.flattened_rows[path] = rows
                return PLAIN_FACT
            if fact.kind == PLAIN:
                return PLAIN_FACT
        if qualified == "torch.nn.Sequential":
            for index, element in enumerate(layer.elements):
                if element is None:
                    if fact.is_map:
                        return self.error(
                            node, f"element {index} of self.{path} is not followed on a feature map"
                        )
                    continue
                fact = self._apply(node, f"{path}.{layer.path_of(index)}", element, fact)
            return fact
        if not fact.is_map:
            return PLAIN_FACT
        return self.error(
            node,
            f"{name} on a channels-last feature map is not translated yet",
            "its axes would differ from torch's",
        )

    def _permute_module(self, layer: _Layer) -> bool:
        """A module permuting by its constructor's one argument (see permutes_by_argument)."""
        call = layer.call
        if len(layer.classes) != 1 or not isinstance(call, ast.Call) or len(call.args) != 1:
            return False
        name = layer.classes[0]
        if name in self.analysis.classes:
            return permutes_by_argument(self.analysis.classes[name], self.analysis.qualify)
        found = project_class(name)
        if found is None:
            return False
        analysis, local = found
        return permutes_by_argument(analysis.classes[local], analysis.qualify)

    def _candidates(self, node: ast.Call, path: str, classes: tuple[str, ...], fact: Fact):
        """A module of one of ``classes`` (all must agree), or passed in (``classes`` empty):
        one passed in is taken to keep a map's layout, which verification checks per layer."""
        if not classes:
            if fact.kind == MAP:  # its channels: as the model ran, where no layer fixes them
                return Fact(MAP, fact.rank, channels_from=None if "*" in path else path)
            if fact.kind == PLAIN and self._is_input(node):
                # the model's input through it: a map where what follows needs one (VGG's
                # features before its avgpool), the input then one too (see _input_fact)
                if key_of(node, self.analysis.lines) in self.as_maps:
                    return self.error(
                        node, f"self.{path} would turn a tensor into a feature map here"
                    )
                return self._origin(node, PLAIN_FACT, Fact(MAP), [])
            return PLAIN_FACT
        if all(self.analysis.is_running(name) for name in classes):
            return self._candidates(node, path, (), fact)  # a module of a class inside itself
        results = [self._module(node, path, fact, name) for name in classes]
        first = results[0]
        if any((r.kind, r.rank) != (first.kind, first.rank) for r in results):
            return self.error(
                node, f"self.{path} is one of {', '.join(classes)}, whose outputs differ in layout"
            )
        same = all(r == first for r in results)
        return first if same else Fact(first.kind, first.rank)

    def _alternatives(self, node: ast.Call, path: str, layer: _Layer, fact: Fact) -> Fact:
        """An attribute assigned in each branch of an ``if`` of ``__init__``: each branch's
        layer on ``fact``, whose outputs must have one layout (sizes may differ)."""

        def under(inner: str) -> bool:
            return inner.startswith(f"{path}.")

        before = {k: v for k, v in self.out.layers.items() if not under(k)}
        elements = layer.elements
        problems = len(self.out.diagnostics)
        while True:
            results, branches = [], []
            for element in elements:  # each branch on its own, its layers under the path
                self.out.layers = dict(before)
                results.append(self._apply(node, path, element, fact))
                branches.append({k: v for k, v in self.out.layers.items() if under(k)})
            self.out.layers = before  # the attribute's own layouts: by the caller
            first = results[0]
            agree = all((r.kind, r.rank) == (first.kind, first.rank) for r in results)
            if agree and len(self.out.diagnostics) == problems:
                break
            # a branch refused, or layouts that differ: the live model's branch, if it tells
            chosen = live_taken(self.cls.name, path, elements)
            if len(chosen) < len(elements):
                elements = chosen
                del self.out.diagnostics[problems:]
                continue
            if any(r.kind == UNKNOWN for r in results):
                return UNKNOWN_FACT
            if not agree:
                return self.error(
                    node, f"self.{path} is assigned in branches whose layers give other layouts"
                )
            break
        for inner in dict.fromkeys(k for branch in branches for k in branch):
            # a path may be another layer in each branch: its layouts only where they agree
            # (verification permutes by layout; channel counts could be the other branch's)
            taken = [[(f.kind, f.rank) for f in b[inner]] for b in branches if inner in b]
            if all(t == taken[0] for t in taken):
                facts = next(b[inner] for b in branches if inner in b)
                self.out.layers[inner] = tuple(Fact(f.kind, f.rank) for f in facts)
        if all(r == first for r in results):
            return first
        live = live_taken(self.cls.name, path, elements)  # sizes of the live model's branch
        kept = [r for e, r in zip(elements, results, strict=True) if any(e is k for k in live)]
        results = kept or results
        channels = {r.channels for r in results}
        sources = {r.channels_from for r in results}
        spatial = {r.spatial for r in results}
        return Fact(
            first.kind,
            first.rank,
            channels.pop() if len(channels) == 1 else None,
            sources.pop() if len(sources) == 1 else None,
            spatial.pop() if len(spatial) == 1 else None,
        )

    def _repeated(self, node: ast.Call, path: str, layer: _Layer, fact: Fact) -> Fact:
        """A Sequential of a list built in a loop: its layers, each any number of times, must
        keep the layout (under the path ``<path>.*``)."""
        result = fact
        for element in layer.elements:
            assert element is not None
            result = self._apply(node, f"{path}.*", element, result)
        if (result.kind, result.rank) != (fact.kind, fact.rank):
            return self.error(
                node, f"self.{path} repeats layers that change the layout of their input"
            )
        return Fact(result.kind, result.rank) if result != fact else result

    def _module(self, node: ast.Call, path: str, fact: Fact, name: str | None = None) -> Fact:
        """A submodule of a class of this file: its own facts, under its path."""
        inner = self.analysis.facts(name or self.modules[path])
        expected = next(iter(inner.inputs.values()), PLAIN_FACT)
        if fact.kind == MAPS and expected.kind == MAP and fact.rank == expected.rank:
            # a list of maps where the module's first use of its input takes a map (its
            # forward tests isinstance(x, Tensor)): followed again with the list
            inner = self.analysis.facts_given(name or self.modules[path], fact)
            expected = fact
        elif expected.kind == PLAIN and fact.kind == MAP:
            free = self.analysis.layout_free(name or self.modules[path], Fact(MAP, fact.rank))
            if free is not None:  # the module does the same on either layout
                inner, expected = free, fact
        if expected.kind == MAP:
            fact = self._as_map(fact, expected.rank)
        if fact.kind == UNKNOWN:
            return UNKNOWN_FACT
        if (fact.kind, fact.rank) != (expected.kind, expected.rank) and (
            fact.is_map or expected.is_map
        ):
            return self.error(
                node,
                f"self.{path} expects {expected.layout()} input, receives {fact.layout()}",
            )
        for inner_path, facts in inner.layers.items():  # channel sources under their path
            self.out.layers[f"{path}.{inner_path}"] = tuple(  # type: ignore[assignment]
                replace(f, channels_from=f"{path}.{f.channels_from}") if f.channels_from else f
                for f in facts
            )
        for inner_path, rows in inner.flattened_rows.items():
            source = rows.channels_from
            self.out.flattened_rows[f"{path}.{inner_path}"] = FlattenedRows(
                rows.channels, f"{path}.{source}" if source else None, rows.spatial
            )
        output = inner.output
        if inner is not self.analysis.facts(name or self.modules[path]) and output == Fact(
            MAP, fact.rank
        ):
            return fact  # a module doing the same on either layout: the map's sizes kept
        if output.channels_from:
            output = replace(output, channels_from=f"{path}.{output.channels_from}")
        elif output.kind == MAP and output.channels is None:
            # a map of a channel count no layer inside fixes (ConvNeXt's LayerNorm2d, its
            # permutes around F.layer_norm): conversion reads it off the module's live output
            output = replace(output, channels_from=path)
        return output
