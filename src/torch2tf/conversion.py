"""Convert a live torch model: translate its class, build the Keras twin, move weights, verify."""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import tensorflow as tf
import torch

from torch2tf.constructor_records import constructor_arguments, known_arguments
from torch2tf.errors import ConversionError, TranslationError
from torch2tf.generated import load_generated, load_project
from torch2tf.inputs import InputError, infer_specs, make_inputs
from torch2tf.layouts import flattened_as_ran, live_channels, to_torch
from torch2tf.live_tree import TREE_BUILDER, keras_argument, tree_source
from torch2tf.output import write_folder
from torch2tf.plain_state import build_by_calling
from torch2tf.process_state import dtype_policy, global_state_kept
from torch2tf.reach import MAIN_MODULE, UnknownName, reach
from torch2tf.structure import check_structure
from torch2tf.summary import table
from torch2tf.tensor_facts import ClassFacts, Fact
from torch2tf.tensor_facts.live import UNFOLLOWED, left_out_values, lines_run, live_layers
from torch2tf.torch_source import live_classes, source_line, source_of
from torch2tf.translate import translate_project, translate_with_facts
from torch2tf.unused_code import stub_unused, used_code
from torch2tf.verify import Check, Layouts, _numpy, _to_tf, check
from torch2tf.weights import Transfer, transfer_weights

DEFAULT_BATCH = 16


@dataclass
class Conversion:
    """The result of :func:`convert`."""

    keras_model: tf.keras.Model
    source: str
    """The generated TensorFlow source of the class's file: the class and what it reaches."""
    class_name: str
    module_name: str
    checks: list[Check]
    transfers: list[Transfer]
    torch_model: torch.nn.Module = field(repr=False)
    atol: float = 1e-5
    rtol: float = 1e-4
    sources: dict[str, str] = field(default_factory=dict)
    """For a class built from several project files: every generated file by relative path."""
    left_out: list[dict[str, Any]] = field(default_factory=list)
    """Top-level code of those files not translated because the class does not reach it."""
    inputs: tuple[torch.Tensor, ...] = ()
    """The verification inputs."""
    exports: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Per export format, its file and its verification (see :meth:`export`)."""
    built_at_construction: bool = True
    """False when the Keras model owns its weights only after its first call."""
    layouts: Layouts = field(default_factory=Layouts)
    """Where the Keras twin is channels-last: its inputs, output and layers (tensor facts)."""
    flattened_rows: dict[str, int] = field(default_factory=dict)
    """Linears fed a flattened channels-last map: module path -> channel count (their kernel
    rows were moved from torch's (C, *S) order to (*S, C), see :func:`transfer_weights`)."""

    def keras_inputs(self, *torch_tensors: torch.Tensor) -> tuple[tf.Tensor, ...]:
        """torch's inputs (channels-first maps) as the Keras model takes them (channels-last)."""
        return tuple(tf.constant(_numpy(x)) for x in self.layouts.keras_inputs(torch_tensors))

    def torch_outputs(self, *keras_outputs: Any) -> tuple[torch.Tensor, ...]:
        """The Keras model's outputs in torch's layout (channels-first maps), as torch tensors."""
        return tuple(
            torch.from_numpy(np.array(to_torch(_numpy(y), self.layouts.output)))
            for y in keras_outputs
        )

    def build_hint(self) -> str | None:
        """For a model built by its first call: the call to make before ``load_weights``."""
        if self.built_at_construction:
            return None
        calls = []
        for x, keras_x in zip(self.inputs, self.layouts.keras_inputs(self.inputs), strict=True):
            shape = (1, *keras_x.shape[1:])  # channels-last where the model is
            dtype = str(x.dtype).removeprefix("torch.")
            calls.append(f"tf.zeros({shape}{'' if dtype == 'float32' else f', {dtype!r}'})")
        return (
            f"{self.class_name} is built by its first call: before model.load_weights(...), "
            f"call model({', '.join(calls)}) once"
        )

    @property
    def import_name(self) -> str:
        """The generated module's name for ``import`` (dotted within a project)."""
        module = type(self.keras_model).__module__
        return module if self.sources and not module.startswith("keras") else self.module_name

    @property
    def passed(self) -> bool:
        return all(c.passed for c in self.checks)

    @property
    def passed_by(self) -> str | None:
        """``"tolerance"``: within atol + rtol * |torch|; ``"round-off"``: the whole output or
        a layer holding others passed only by the round-off comparison (see
        ``torch2tf.roundoff``); None: failed."""
        if not self.passed:
            return None
        judged = [c.roundoff for c in self.checks] + [
            layer.roundoff for c in self.checks for layer in c.layers
        ]
        return "round-off" if any(r is not None and r.passed for r in judged) else "tolerance"

    @property
    def max_abs_error(self) -> float:
        return max(c.max_abs_error for c in self.checks)

    @property
    def first_divergent_layer(self) -> str | None:
        failed = (c for c in self.checks if not c.passed and c.first_divergent_layer)
        return next((c.first_divergent_layer for c in failed), None)

    @property
    def report(self) -> dict[str, Any]:
        """JSON-ready report: overall verdict and error, per mode and per layer."""
        return {
            "model": self.class_name,
            "dtype": self.keras_model.dtype_policy.name,
            "passed": self.passed,
            "passed_by": self.passed_by,
            "max_abs_error": self.max_abs_error,
            "atol": self.atol,
            "rtol": self.rtol,
            "first_divergent_layer": self.first_divergent_layer,
            "checks": [
                {k: v for k, v in c.to_dict().items() if k != "layers"} for c in self.checks
            ],
            "layers": [
                {"mode": c.mode, **asdict(layer)} for c in self.checks for layer in c.layers
            ],
            "weights": [
                {"torch": t.torch_name, "keras": t.keras_name, "shape": list(t.shape)}
                for t in self.transfers
            ],
            "left_out": self.left_out,
            "inputs": [
                {
                    "shape": list(x.shape),
                    "dtype": str(x.dtype).removeprefix("torch."),
                    "layout": (f.layout() if f else "as torch"),
                }
                for x, f in zip(
                    self.inputs, self.layouts.inputs + [None] * len(self.inputs), strict=False
                )
            ],
            "outputs": [
                {"layout": self.layouts.output.layout() if self.layouts.output else "as torch"}
            ],
            "built_at_construction": self.built_at_construction,
            **({"exports": self.exports} if self.exports else {}),
        }

    def parameter_map(self) -> dict[torch.nn.Parameter, tf.Variable]:
        """Each torch parameter -> the Keras variable holding it (for optimizer conversion)."""
        variables = {t.torch_name: t.variable for t in self.transfers}
        return {p: variables[n] for n, p in self.torch_model.named_parameters() if n in variables}

    def files(self, helpers_module: str | None = None) -> dict[str, str]:
        """The generated source files, relative path -> code; with ``helpers_module``, the
        helpers written once into ``helpers_module.py`` beside the top-level modules, which
        each file imports (as ``translate --helpers-module`` writes a project)."""
        files = self.sources or {f"{self.module_name}.py": self.source}
        if helpers_module is None:
            return dict(files)
        from torch2tf.helpers_module import split_helpers

        split = split_helpers({Path(k): v for k, v in files.items()}, helpers_module)
        return {k.as_posix(): v for k, v in split.items()}

    def export(
        self,
        outdir: str | Path,
        formats: Iterable[str] = ("keras",),
        helpers_module: str | None = None,
    ) -> dict:
        """Write ``NAME.keras``, ``NAME_savedmodel/``, ``NAME.tflite`` and/or
        ``NAME.int8.tflite`` into ``outdir`` (atomically, like :meth:`save`), each loaded back
        in a fresh TensorFlow-only process and compared with torch on the verification
        inputs; the ``.keras`` file with the generated files as :meth:`save` writes them
        with the same ``helpers_module``. Returns (and keeps in ``exports``, hence the
        report) format -> result; an artefact that fails is not written and its result says
        why."""
        from torch2tf.export import write_exports

        files = self.files(helpers_module)

        def write(staging: Path) -> None:
            self.exports = write_exports(self, staging, formats, files)

        write_folder(outdir, write)
        return self.exports

    @property
    def exports_passed(self) -> bool:
        return all(e["passed"] for e in self.exports.values())

    def save(
        self,
        outdir: str | Path,
        formats: Iterable[str] = (),
        helpers_module: str | None = None,
    ) -> Path:
        """Write the source, the weights and ``report.json`` into ``outdir``, atomically,
        and the exports of ``formats`` (see :meth:`export`). With ``helpers_module`` the
        helpers go into their own module, imported by the generated files (see :meth:`files`).

        Files are written into a temporary folder beside ``outdir`` first. A new ``outdir`` is
        that folder renamed; into an existing one the files are moved one by one, and if a
        move fails the files already moved are put back as they were. Either way a failure
        leaves no half-written output, and other files in ``outdir`` are never touched.
        """
        from torch2tf.export import parse_formats, write_exports

        formats = parse_formats(formats) if formats else ()
        layer = self.first_divergent_layer
        divergent_source = source_line(self.torch_model, layer) if layer is not None else None

        files = self.files(helpers_module)

        def write(staging: Path) -> None:
            for relative, code in files.items():
                (staging / relative).parent.mkdir(parents=True, exist_ok=True)
                (staging / relative).write_text(code, encoding="utf-8")
            self.keras_model.save_weights(staging / f"{self.class_name}.weights.h5")
            if formats:
                self.exports = write_exports(self, staging, formats, files)
            report = {**self.report, "first_divergent_source": divergent_source}
            (staging / "report.json").write_text(
                json.dumps(report, indent=2) + "\n", encoding="utf-8"
            )

        return write_folder(outdir, write)

    def table(self) -> str:
        """A readable summary: one line per layer and mode, then the verdict."""
        return table(self.checks, self.torch_model, self.atol, self.rtol)


def _model_dtype(model: torch.nn.Module) -> torch.dtype:
    for tensor in list(model.parameters()) + list(model.buffers()):
        if tensor.is_floating_point():
            return tensor.dtype
    return torch.get_default_dtype()


def infer_inputs(model: torch.nn.Module, batch: int = DEFAULT_BATCH) -> tuple[torch.Tensor, ...]:
    """Seeded random input for the first Linear (floats) or Embedding (token ids) layer; for a
    model whose first weighted layer is a convolution, (batch, in_channels, *spatial) with the
    first spatial size the model runs on (see :func:`conv_input_shape`)."""
    first = next((m for m in model.modules() if next(m.parameters(False), None) is not None), None)
    if isinstance(first, (torch.nn.Conv1d, torch.nn.Conv2d, torch.nn.Conv3d)):
        generator = torch.Generator().manual_seed(0)
        shape = (batch, *conv_input_shape(model, first))
        return (torch.randn(shape, generator=generator, dtype=_model_dtype(model)),)
    try:
        return make_inputs(model, infer_specs(model, batch))
    except InputError as err:
        raise ConversionError(f"{err} (in Python: inputs=(tensor, ...))") from None


SPATIAL_SIZES = (32, 28, 64, 224, *range(1, 257))


def conv_input_shape(model: torch.nn.Module, conv: torch.nn.Module) -> tuple[int, ...]:
    """(in_channels, *spatial) for a model starting with ``conv``: the first square size of
    ``SPATIAL_SIZES`` (32 first) that the model runs on, since a Linear after a flatten fixes
    the spatial size. Tried in eval mode on a batch of 2; the model is left as it was."""
    dims = len(conv.kernel_size)
    dtype = _model_dtype(model)
    training = model.training
    model.eval()
    try:
        for size in SPATIAL_SIZES:
            shape = (conv.in_channels, *([size] * dims))
            try:
                with torch.no_grad():
                    model(torch.zeros((2, *shape), dtype=dtype))
            except (RuntimeError, ValueError, IndexError):
                continue
            return shape
    finally:
        model.train(training)
    raise ConversionError(
        f"cannot infer an input shape for {type(model).__name__}: it ran on no spatial size "
        "from 1 to 256; pass inputs=(tensor, ...)"
    )


def _layouts(
    facts: ClassFacts | None, model: torch.nn.Module, inputs: tuple[torch.Tensor, ...]
) -> tuple[Layouts, dict[str, int]]:
    """The facts with channel counts read from the live model: verification layouts and the
    channel count of each Linear fed a flattened map."""
    if facts is None:
        return Layouts(), {}

    def declared(source: str) -> int | None:
        try:
            layer = model.get_submodule(source)
        except AttributeError:  # None in this model (GoogLeNet's aux1 with aux_logits off)
            return None
        return getattr(layer, "out_channels", None) or getattr(layer, "num_features", None)

    every = [*facts.inputs.values(), facts.output, *(f for p in facts.layers.values() for f in p)]
    sources = {f.channels_from for f in every if f.channels is None} | {
        r.channels_from for r in facts.flattened_rows.values() if r.channels is None
    }
    # a project module's map of a channel count no layer declares: as the model ran
    ran = live_channels(
        model, inputs, {s for s in sources if s and "*" not in s and declared(s) is None}
    )

    def channels(count: int | None, source: str | None) -> int | None:
        if count is None and source is not None and "*" not in source:  # not in a repeat
            count = declared(source) or ran.get(source)
        return count

    def live(fact: Fact) -> Fact:
        count = channels(fact.channels, fact.channels_from)
        return replace(fact, channels=count, elements=tuple(live(f) for f in fact.elements))

    live_paths = {name for name, _ in model.named_modules()}
    rows = {  # not of a module None in this model (GoogLeNet's aux heads, aux_logits off)
        p: channels(r.channels, r.channels_from)
        for p, r in facts.flattened_rows.items()
        if "*" in p or p in live_paths
    }
    unknown = [p for p, c in rows.items() if c is None and facts.flattened_rows[p].spatial is None]
    flattening, ran_rows = flattened_as_ran(facts, model, inputs, unknown)  # as the model ran
    rows.update(ran_rows)
    layouts = Layouts(
        [live(f) for f in facts.inputs.values()],
        live(facts.output),
        {
            path: (
                replace(live(a), channels=live(a).channels or rows.get(path)),
                replace(live(b), channels=live(b).channels or flattening.get(path)),
            )
            for path, (a, b) in facts.layers.items()
        },
    )
    for path, count in rows.items():  # else from the Linear's width over the known sizes
        spatial = facts.flattened_rows[path].spatial
        if count is None and spatial is not None:
            width = getattr(model.get_submodule(path), "in_features", 0)
            rows[path] = width // math.prod(spatial) if width % math.prod(spatial) == 0 else None
    missing = [p for p, c in rows.items() if c is None]
    if missing:
        raise ConversionError(f"{missing[0]}: the channel count of its flattened input is unknown")
    return layouts, rows


def convert(
    model: torch.nn.Module,
    args: Sequence[Any] | None = None,
    kwargs: Mapping[str, Any] | None = None,
    inputs: torch.Tensor | Sequence[torch.Tensor] | None = None,
    *,
    atol: float = 1e-5,
    rtol: float = 1e-4,
) -> Conversion:
    """Convert a live torch model into a Keras model with the same weights, and verify it.

    Args:
        model: the torch model; its class must be defined in a source file.
        args: positional arguments the model's class was constructed with.
        kwargs: keyword arguments the model's class was constructed with. Without ``args``
            and ``kwargs``, those recorded when the model was built inside
            :func:`torch2tf.recording` (``with torch2tf.recording(): model = resnet50()``);
            explicit ones win.
        inputs: a tensor or tuple of tensors to verify on; when omitted, seeded random input
            for the first Linear (``in_features`` floats) or Embedding (token ids).
        atol: absolute tolerance of the comparison.
        rtol: relative tolerance of the comparison.

    Returns:
        A :class:`Conversion` with ``keras_model``, ``source``, ``max_abs_error``, ``passed``
        and ``report`` (per mode and per layer).
    """
    cls = type(model)
    facts: ClassFacts | None = None
    sources: dict[str, str] = {}
    left_out: list[dict[str, Any]] = []
    if inputs is None:
        inputs = infer_inputs(model)
    elif isinstance(inputs, torch.Tensor):
        inputs = (inputs,)
    inputs = tuple(inputs)
    if cls.__module__.startswith("torch."):  # a torch container: no source of the user's
        source = tree_source(model, tuple(inputs[0].shape) if len(inputs) == 1 else None)
        module_name = f"{cls.__name__.lower()}_model"
        generated = load_generated(source, module_name)
        keras_cls = getattr(generated, TREE_BUILDER)
    else:
        text, path = source_of(cls)
        live = live_classes(model)  # its submodules' classes too, by their module names
        live[MAIN_MODULE] = live.pop(cls.__module__, set())
        try:
            reached = reach(path, [cls.__name__], source=text, extra=live)
        except UnknownName:
            raise ConversionError(
                f"{cls.__name__} is not defined at the top level of {path}"
            ) from None
        left_out = [item.to_dict() for item in reached.left_out]
        stem = Path(path).stem
        module_name = stem if stem.isidentifier() else cls.__name__.lower()
        texts = dict(reached.sources)
        used = None  # profiled only when a translation problem needs it
        for attempt in range(3):  # code the model does not use, failing: stubbed, again
            try:
                with (  # what the model took: branches, lines run
                    live_layers(model),
                    lines_run(used and used.lines),
                    left_out_values() as values,
                ):
                    if len(texts) == 1:
                        main = texts[reached.main]
                        source, all_facts = translate_with_facts(
                            main, path, module_name=reached.module_name
                        )
                        facts = all_facts.get(cls.__name__)
                        generated = load_generated(source, module_name, reached=True)
                    else:  # the class builds on other files of its project: translate those too
                        project_facts: dict[Path, dict[str, ClassFacts]] = {}
                        generated_files = translate_project(
                            reached.root, sources=texts, facts=project_facts
                        )
                        facts = project_facts[reached.main].get(cls.__name__)  # a package's too
                        sources = {str(k): v for k, v in generated_files.items()}
                        source = sources[str(reached.main)]
                        generated = load_project(sources, reached.module_name or module_name)
                left_out += values
                break
            except TranslationError as err:
                again = used is None  # layers built where the live model ran: again, knowing
                used = used or used_code(
                    model, cls.__module__, inputs, known_arguments(model, args, kwargs)
                )
                texts, more, remaining = stub_unused(texts, reached, path, err.diagnostics, used)
                if remaining and not (again and any(UNFOLLOWED in d.message for d in remaining)):
                    raise TranslationError(remaining) from None  # only in code the model uses
                if attempt == 2:
                    raise
                left_out += more
        keras_cls = getattr(generated, cls.__name__, None)
        if keras_cls is None:
            raise ConversionError(f"{cls.__name__} is not defined at the top level of {path}")
        args, kwargs = constructor_arguments(model, args, kwargs)
    layouts, flattened_rows = _layouts(facts, model, inputs)
    dtype = _model_dtype(model)
    policy = str(dtype).removeprefix("torch.")
    args = [keras_argument(a, generated, f"args[{i}]") for i, a in enumerate(args or ())]
    kwargs = {k: keras_argument(v, generated, k) for k, v in dict(kwargs or {}).items()}
    with global_state_kept():
        with dtype_policy(policy):
            keras_model = keras_cls(*args, **kwargs)
        built_at_construction = keras_model.built and bool(keras_model.weights)
        if not built_at_construction:
            tf_inputs = _to_tf(layouts.keras_inputs(inputs))
            build_by_calling(model, keras_model, lambda t: keras_model(*tf_inputs, training=t))
    check_structure(model, keras_model)  # the live tree decides where the static reading may not
    transfers = transfer_weights(model, keras_model, flattened_rows)
    checks = [
        check(model, keras_model, inputs, mode, atol=atol, rtol=rtol, facts=layouts)
        for mode in ("eval", "train")
    ]
    return Conversion(
        keras_model,
        source,
        cls.__name__,
        module_name,
        checks,
        transfers,
        model,
        atol,
        rtol,
        sources,
        left_out,
        inputs,
        built_at_construction=built_at_construction,
        layouts=layouts,
        flattened_rows=flattened_rows,
    )
