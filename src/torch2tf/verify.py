"""Run torch and Keras on the same inputs and compare, overall and layer by layer.

Per layer, each Keras layer is fed exactly the input its torch twin received (captured with
forward hooks), so an error is attributed to the first layer that introduces it instead of
every layer after it. Both models' state (BatchNorm statistics, train/eval flag) is restored.
When the whole output (or a layer's holding others, a deep ``nn.Sequential``) misses the
tolerance in float32 (float16, bfloat16) but every layer inside it is within it, that output is
judged against torch's own round-off, measured with a float64 copy made only then (see
``roundoff.py``).
"""

from __future__ import annotations

import contextlib
import copy
import sys
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from typing import Any, NamedTuple

import numpy as np
import tensorflow as tf
import torch
from torch.nn.utils.rnn import PackedSequence, pad_packed_sequence

from torch2tf.layer_layouts import alike, layouts_at, map_layer
from torch2tf.layouts import to_keras
from torch2tf.plain_state import plain_state_kept
from torch2tf.roundoff import FACTOR, RoundOff, as_float64, judge, low_precision
from torch2tf.tensor_facts import Fact
from torch2tf.weights import keras_layer_at


@dataclass
class LayerCheck:
    layer: str
    torch_type: str
    keras_type: str
    max_abs_error: float
    passed: bool
    within_tolerance: bool | None = None
    """Its output within atol + rtol * |torch| (None: as ``passed``)."""
    roundoff: RoundOff | None = None
    """Set for a layer holding others, all within the tolerance, whose own output is not: the
    verdict then is the round-off comparison's (as for the whole model, see ``Check``)."""

    def __post_init__(self) -> None:
        if self.within_tolerance is None:
            self.within_tolerance = self.passed


@dataclass
class Check:
    """The comparison in one mode (``eval`` or ``train``)."""

    mode: str
    passed: bool
    max_abs_error: float
    first_divergent_layer: str | None
    layers: list[LayerCheck] = field(default_factory=list)
    within_tolerance: bool | None = None
    """The whole output within atol + rtol * |torch| (None: as ``passed``)."""
    roundoff: RoundOff | None = None
    """Set when the whole output missed the tolerance, every layer being within it, in a
    low precision: the verdict then is the round-off comparison's."""

    def __post_init__(self) -> None:
        if self.within_tolerance is None:
            self.within_tolerance = self.passed

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _flatten(value: Any) -> list[Any]:
    if isinstance(value, dict):
        return [x for k in sorted(value) for x in _flatten(value[k])]
    if isinstance(value, (list, tuple)):
        return [x for v in value for x in _flatten(v)]
    return [value]


def _numpy(value: Any) -> np.ndarray:
    if isinstance(value, torch.Tensor):
        return value.detach().cpu().numpy()
    return np.asarray(value)


def compare(torch_out: Any, keras_out: Any, atol: float, rtol: float) -> tuple[float, bool]:
    """(max abs error, within atol + rtol * |torch|) over every output tensor."""
    expected, received = _flatten(torch_out), _flatten(keras_out)
    if len(expected) != len(received):
        return float("inf"), False
    worst, passed = 0.0, True
    for t, k in zip(expected, received, strict=True):
        if t is None or k is None:  # an absent output (attention weights not asked for)
            passed &= t is None and k is None
            continue
        t, k = _numpy(t).astype(np.float64), _numpy(k).astype(np.float64)
        if t.shape != k.shape:
            return float("inf"), False
        both_nan = np.isnan(t) & np.isnan(k)  # torch's NaN (a fully masked attention row)
        diff = np.where(both_nan, 0.0, np.abs(t - k))
        if diff.size:
            worst = max(worst, float(diff.max()))
            passed &= bool(np.all(both_nan | (diff <= atol + rtol * np.abs(t))))
    return worst, passed


class PaddedPacked(NamedTuple):
    """A torch PackedSequence as the Keras twin holds it (TorchPackedSequence): padded
    batch-first, zero after each length, and the lengths in batch order."""

    data: torch.Tensor
    lengths: torch.Tensor


def _cloned(value: Any) -> Any:
    if isinstance(value, torch.Tensor):
        return value.detach().clone()
    if isinstance(value, PackedSequence):
        data, lengths = pad_packed_sequence(value, batch_first=True)
        return PaddedPacked(data.detach().clone(), lengths)
    if isinstance(value, (list, tuple)):
        return type(value)(_cloned(v) for v in value)
    if isinstance(value, dict):
        return {k: _cloned(v) for k, v in value.items()}
    return value


@dataclass
class Layouts:
    """Where the Keras twin is channels-last (from the tensor facts, channel counts known):
    the model's inputs and output, and each layer's (input, output) by module path."""

    inputs: list[Fact | None] = field(default_factory=list)
    output: Fact | None = None
    layers: dict[str, tuple[Fact | None, Fact | None]] = field(default_factory=dict)

    def keras_inputs(self, inputs: tuple[Any, ...]) -> tuple[Any, ...]:
        facts = self.inputs + [None] * (len(inputs) - len(self.inputs))
        return tuple(to_keras(x, f) for x, f in zip(inputs, facts, strict=False))


def _to_tf(value: Any, packed: type | None = None) -> Any:
    """Tensors as TensorFlow's; a PaddedPacked as ``packed`` (the generated code's
    TorchPackedSequence, which the layer fed it takes)."""
    if isinstance(value, np.ndarray):
        return tf.constant(value)
    if isinstance(value, torch.Tensor):
        return tf.constant(value.detach().cpu().numpy())
    if isinstance(value, PaddedPacked):
        data, lengths = _to_tf(value.data), _to_tf(value.lengths)
        return packed(data, lengths) if packed is not None else (data, lengths)
    if isinstance(value, (list, tuple)):
        return type(value)(_to_tf(v, packed) for v in value)
    if isinstance(value, dict):
        return {k: _to_tf(v, packed) for k, v in value.items()}
    return value


def _identity(x: Any, *args: Any, **kwargs: Any) -> Any:
    return x


def _normal_mean(shape: Any, mean: float = 0.0, stddev: float = 1.0, dtype=None, **_: Any):
    return tf.fill(shape, tf.cast(mean, dtype or tf.float32))


def _uniform_mean(shape: Any, minval: float = 0.0, maxval=None, dtype=None, **_: Any):
    high = 1.0 if maxval is None else maxval
    return tf.fill(shape, tf.cast((minval + high) / 2, dtype or tf.float32))


# Attention functions taking a dropout_p argument -> its position.
_ATTENTION_DROPOUT = {
    torch.nn.functional.multi_head_attention_forward: 10,
    torch.nn.functional.scaled_dot_product_attention: 4,
}


def _no_dropout_p(args: tuple, kwargs: dict, position: int) -> tuple[tuple, dict]:
    if len(args) > position:
        return (*args[:position], 0.0, *args[position + 1 :]), kwargs
    return args, {**kwargs, "dropout_p": 0.0}


_F = torch.nn.functional
_FUNCTIONAL_DROPOUTS = (_F.dropout, _F.dropout1d, _F.dropout2d, _F.dropout3d)


class _NoTorchRandomness(torch.overrides.TorchFunctionMode):
    """Within this thread only: functional dropout is the identity, random samples their
    expectation. A function mode intercepts the calls; torch's functions stay as they are."""

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if func in _FUNCTIONAL_DROPOUTS:
            return args[0] if args else kwargs["input"]
        if func in _ATTENTION_DROPOUT:  # attention's own dropout_p argument
            args, kwargs = _no_dropout_p(args, kwargs, _ATTENTION_DROPOUT[func])
        if func is torch.randn_like:
            return torch.zeros_like(args[0], dtype=kwargs.get("dtype"))
        if func is torch.rand_like:
            return torch.full_like(args[0], 0.5, dtype=kwargs.get("dtype"))
        return func(*args, **kwargs)


class _View:
    """A module seen with some attributes replaced; the module itself is left alone."""

    def __init__(self, base: Any, **replaced: Any) -> None:
        self._base = base
        self.__dict__.update(replaced)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._base, name)


_TF_WITHOUT_RANDOMNESS = _View(
    tf,
    nn=_View(tf.nn, dropout=_identity),
    random=_View(tf.random, normal=_normal_mean, uniform=_uniform_mean),
)


def _generated_namespaces(keras_model: Any) -> list[dict[str, Any]]:
    """The globals of the generated code the model runs: modules torch2tf made for this
    model, which no one else imports (they are not in ``sys.modules``)."""
    found: dict[int, dict[str, Any]] = {}
    for layer in keras_model._flatten_layers(include_self=True):
        call = getattr(type(layer), "call", None)
        namespace = getattr(call, "__globals__", None)
        if namespace is None or namespace.get("tf") is not tf:
            continue
        registered = sys.modules.get(namespace.get("__name__", ""))
        if registered is None or registered.__dict__ is not namespace:
            found[id(namespace)] = namespace
    return list(found.values())


@contextlib.contextmanager
def _preserved(torch_model: torch.nn.Module, keras_model: Any, mode: str) -> Iterator[None]:
    """Restore both models' state afterwards; switch dropout off for the comparison."""
    state = copy.deepcopy(torch_model.state_dict())
    was_training = torch_model.training
    snapshot = [(v, v.numpy()) for v in keras_model.weights]
    dropouts = [
        (m, m.p)
        for m in torch_model.modules()
        if isinstance(m, torch.nn.modules.dropout._DropoutNd)
    ]
    # torch's LSTM/GRU/RNN draw their dropout between stacked layers inside the fused kernel
    recurrent = [(m, m.dropout) for m in torch_model.modules() if isinstance(m, torch.nn.RNNBase)]
    keras_dropouts = [
        (layer, layer.rate)
        for layer in keras_model._flatten_layers()
        if isinstance(layer, (tf.keras.layers.Dropout, tf.keras.layers.AlphaDropout))
    ]
    # The two frameworks' random streams never agree, so randomness is switched off while
    # comparing: functional dropout (F.dropout -> tf.nn.dropout) becomes the identity, and
    # random samples (randn_like -> tf.random.normal, ...) their expectation. Neither torch
    # nor TensorFlow is patched: torch's calls go through a function mode, and the generated
    # code (this model's own modules) sees a view of ``tf`` for the time of the comparison.
    namespaces = _generated_namespaces(keras_model)
    torch_model.train(mode == "train")
    for module, _ in dropouts:
        module.p = 0.0
    for module, _ in recurrent:
        module.dropout = 0.0
    for layer, _ in keras_dropouts:
        layer.rate = 0.0
    for namespace in namespaces:
        namespace["tf"] = _TF_WITHOUT_RANDOMNESS
    try:
        with _NoTorchRandomness():
            yield
    finally:
        for namespace in namespaces:
            namespace["tf"] = tf
        for module, p in dropouts:
            module.p = p
        for module, p in recurrent:
            module.dropout = p
        for layer, rate in keras_dropouts:
            layer.rate = rate
        torch_model.load_state_dict(state)
        torch_model.train(was_training)
        for variable, value in snapshot:
            variable.assign(value)


def check(
    torch_model: torch.nn.Module,
    keras_model: Any,
    inputs: tuple[torch.Tensor, ...],
    mode: str = "eval",
    atol: float = 1e-5,
    rtol: float = 1e-4,
    facts: Layouts | None = None,
) -> Check:
    """Compare both models on ``inputs`` in ``mode`` (``eval`` or ``train``).

    ``facts`` give the layouts where the Keras twin is channels-last: its inputs are permuted,
    and torch's outputs and feature maps are permuted before they are compared.
    """
    facts = facts or Layouts()
    training = mode == "train"
    with _preserved(torch_model, keras_model, mode), plain_state_kept(torch_model, keras_model):
        captured: list[tuple[str, torch.nn.Module, tuple, dict, Any]] = []
        received: dict[int, list[tuple[tuple, dict]]] = {}  # module id -> inputs, innermost last

        def before(module, args, kwargs):
            # Copies taken before the call: the layer itself may rewrite its input in place
            # (Hardswish(inplace=True)), and a later in-place op its output.
            received.setdefault(id(module), []).append(_cloned((args, kwargs)))

        def hook(path: str):
            def record(module, args, kwargs, output):
                args, kwargs = received[id(module)].pop()
                captured.append((path, module, args, kwargs, _cloned(output)))

            return record

        handles = [
            handle
            for path, module in torch_model.named_modules()
            if path
            for handle in (
                module.register_forward_pre_hook(before, with_kwargs=True),
                module.register_forward_hook(hook(path), with_kwargs=True),
            )
        ]
        try:
            with torch.no_grad():
                torch_out = torch_model(*inputs)
        finally:
            for handle in handles:
                handle.remove()
        keras_inputs = facts.keras_inputs(inputs)
        keras_out = keras_model(*_to_tf(keras_inputs), training=training)
        worst, passed = compare(to_keras(torch_out, facts.output), keras_out, atol, rtol)
        layers: list[LayerCheck] = []
        missed: dict[int, tuple] = {}  # index in layers -> what the round-off check needs
        classes = {p: type(m) for p, m in torch_model.named_modules()}
        for path, module, args, kwargs, output in captured:
            try:
                layer = keras_layer_at(keras_model, path)
            except (AttributeError, IndexError, KeyError):
                continue
            if not callable(layer):  # a ModuleList/ModuleDict twin is a plain list/dict
                continue
            # a packed sequence goes in as the TorchPackedSequence of the layer's own module
            packed = getattr(type(layer).call, "__globals__", {}).get("TorchPackedSequence")
            keras_kwargs = _to_tf(kwargs, packed)
            if getattr(layer, "_call_has_training_arg", False):
                keras_kwargs["training"] = training
            layout_in, layout_out = layouts_at(facts.layers, path, classes) or map_layer(
                module, torch_model, path, facts.layers, output
            )
            # a skip input beside a map (a U-Net's up block): a map alike
            keras_args = tuple(to_keras(a, layout_in) if alike(a, args[0]) else a for a in args)
            try:
                result = layer(*_to_tf(keras_args, packed), **keras_kwargs)
                error, ok = compare(to_keras(output, layout_out), result, atol, rtol)
            except Exception:  # a layer that cannot run on its twin's input has diverged
                error, ok, result = float("inf"), False, None
            if not ok and result is not None:
                missed[len(layers)] = (module, args, kwargs, output, result, layout_out)
            layers.append(LayerCheck(path, type(module).__name__, type(layer).__name__, error, ok))
    # A layer (then the whole model) missing the tolerance while every layer inside it is
    # within it: judged against torch's own round-off, innermost first (after the models are
    # restored: the float64 copies are made of them as they were).
    for index in sorted(missed, key=lambda i: -layers[i].layer.count(".")):
        inside = [c for c in layers if c.layer.startswith(layers[index].layer + ".")]
        if inside and all(c.passed for c in inside):
            module, args, kwargs, output, result, layout = missed[index]
            roundoff = _roundoff(module, args, kwargs, mode, output, result, layout, atol, rtol)
            if roundoff is not None:
                layers[index].roundoff, layers[index].passed = roundoff, roundoff.passed
    first = next((c.layer for c in layers if not c.passed), None)
    if passed or first is not None:
        return Check(mode, passed, worst, first, layers)
    roundoff = _roundoff(
        torch_model, inputs, {}, mode, torch_out, keras_out, facts.output, atol, rtol
    )
    if roundoff is None:  # float64: no lower precision to allow for
        return Check(mode, passed, worst, first, layers)
    return Check(mode, roundoff.passed, worst, None, layers, False, roundoff)


def _roundoff(
    module: torch.nn.Module,
    args: tuple,
    kwargs: dict,
    mode: str,
    output: Any,
    received: Any,
    layout: Fact | None,
    atol: float,
    rtol: float,
) -> RoundOff | None:
    """torch's ``output`` (in a low precision; else None) and the Keras twin's (``received``)
    against a float64 copy of ``module`` run on the same ``args`` and ``kwargs``."""
    dtype = low_precision(_flatten(output))
    if dtype is None:
        return None
    expected, received = _flatten(to_keras(output, layout)), _flatten(received)
    try:
        double = _flatten(to_keras(_float64_output(module, args, kwargs, mode), layout))
    except Exception as err:  # noqa: BLE001 - any model that cannot run in float64
        reason = f"{type(err).__name__}: {err}".splitlines()[0][:200]
        return RoundOff(dtype, None, None, FACTOR, False, reason=reason)
    within = [compare(t, k, atol, rtol)[1] for t, k in zip(expected, received, strict=False)]
    return judge(dtype, expected, double, received, within)


def _float64_output(module: torch.nn.Module, args: tuple, kwargs: dict, mode: str) -> Any:
    """torch's output from a float64 deep copy of ``module`` on ``args`` and ``kwargs``
    (floating ones in float64), in ``mode``, without randomness as in the comparison. torch's
    default dtype is float64 meanwhile, so that tensors the forward makes are float64 too."""
    double = copy.deepcopy(module).to(torch.float64).train(mode == "train")
    for inner in double.modules():
        if isinstance(inner, torch.nn.modules.dropout._DropoutNd):
            inner.p = 0.0
        elif isinstance(inner, torch.nn.RNNBase):
            inner.dropout = 0.0
    default = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    try:  # torch's random stream left as it was (a draw the forward makes)
        with torch.random.fork_rng(devices=[]), torch.no_grad(), _NoTorchRandomness():
            return double(*as_float64(args), **as_float64(kwargs))
    finally:
        torch.set_default_dtype(default)
