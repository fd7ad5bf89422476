"""Verification inputs: ``--input DTYPE:SHAPE[:LOW..HIGH]`` specs, and inputs inferred from the
model's first layer (a ``Linear``: floats; an ``Embedding``: token ids).

Every input is drawn from one generator seeded with 0, in order, so a run is reproducible.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass

import torch

DEFAULT_BATCH = 16
DEFAULT_LENGTH = 12  # token ids per row; not the batch size, so a swapped axis shows
SEED = 0
FORM = "DTYPE:SHAPE[:LOW..HIGH]"
EXAMPLE = "int64:16,20:0..1000"

DTYPES = {
    name: getattr(torch, name)
    for name in ("float16", "float32", "float64", "int8", "int16", "int32", "int64", "uint8")
}
DTYPES["bool"] = torch.bool


class InputError(ValueError):
    """A malformed spec, or inputs that cannot be inferred; the message says what to pass."""


@dataclass(frozen=True)
class InputSpec:
    """One input: its dtype, shape and, optionally, the range ``[low, high)`` to draw from."""

    dtype: torch.dtype
    shape: tuple[int, ...]
    low: float | None = None
    high: float | None = None

    def __str__(self) -> str:
        text = f"{str(self.dtype).removeprefix('torch.')}:{','.join(map(str, self.shape))}"
        if self.low is None:
            return text
        return f"{text}:{_number(self.low)}..{_number(self.high)}"


def _number(value: float | None) -> str:
    return str(int(value)) if value is not None and float(value).is_integer() else str(value)


def parse_input(text: str) -> InputSpec:
    """``float32:16,8``, ``int64:16,20:0..1000`` (HIGH excluded) -> an :class:`InputSpec`."""
    parts = text.split(":")
    if len(parts) not in (2, 3):
        raise InputError(f"expected {FORM} like {EXAMPLE}, received {text!r}")
    name, shape_text = parts[0].strip(), parts[1]
    if name not in DTYPES:
        raise InputError(f"expected a dtype among {', '.join(DTYPES)}, received {name!r}")
    dtype = DTYPES[name]
    try:
        shape = tuple(int(size) for size in shape_text.split(","))
    except ValueError:
        shape = ()
    if not shape or any(size <= 0 for size in shape):
        raise InputError(
            f"expected a shape of positive integers like 16,20, received {shape_text!r}"
        )
    if len(parts) == 2:
        return InputSpec(dtype, shape)
    if dtype == torch.bool:
        raise InputError(
            f"expected no range for bool (it is drawn from 0 and 1), received {parts[2]!r}"
        )
    bounds = parts[2].split("..")
    number = float if dtype.is_floating_point else int
    try:
        low, high = (number(bound) for bound in bounds)
    except ValueError:
        kind = "numbers" if dtype.is_floating_point else "integers"
        raise InputError(
            f"expected a range LOW..HIGH of {kind} like 0..1000, received {parts[2]!r}"
        ) from None
    if low >= high:
        raise InputError(f"expected LOW < HIGH (HIGH is excluded), received {parts[2]!r}")
    return InputSpec(dtype, shape, low, high)


def first_embedding(model: torch.nn.Module) -> torch.nn.Embedding | None:
    return next((m for m in model.modules() if isinstance(m, torch.nn.Embedding)), None)


def float_dtype(model: torch.nn.Module) -> torch.dtype:
    """The model's floating dtype (float64 models verify on float64 input)."""
    for tensor in list(model.parameters()) + list(model.buffers()):
        if tensor.is_floating_point():
            return tensor.dtype
    return torch.get_default_dtype()


def resolve(model: torch.nn.Module, spec: InputSpec) -> InputSpec:
    """An integer spec without a range takes ``[0, num_embeddings)`` of the first Embedding."""
    if spec.dtype.is_floating_point or spec.dtype == torch.bool or spec.low is not None:
        return spec
    embedding = first_embedding(model)
    if embedding is None:
        raise InputError(
            f"{spec}: expected a range LOW..HIGH for integer input (e.g. {spec}:0..1000; "
            f"{type(model).__name__} has no Embedding to take it from), received none"
        )
    return InputSpec(spec.dtype, spec.shape, 0, embedding.num_embeddings)


def make_inputs(model: torch.nn.Module, specs: list[InputSpec]) -> tuple[torch.Tensor, ...]:
    """Seeded random tensors for ``specs``: floats N(0, 1) or uniform in the range, integers
    uniform in ``[low, high)``."""
    generator = torch.Generator().manual_seed(SEED)
    tensors = []
    for spec in (resolve(model, s) for s in specs):
        if spec.dtype == torch.bool:
            tensor = torch.randint(0, 2, spec.shape, generator=generator).bool()
        elif not spec.dtype.is_floating_point:
            tensor = torch.randint(
                int(spec.low), int(spec.high), spec.shape, generator=generator, dtype=spec.dtype
            )
        elif spec.low is None:
            tensor = torch.randn(spec.shape, generator=generator, dtype=spec.dtype)
        else:
            unit = torch.rand(spec.shape, generator=generator, dtype=spec.dtype)
            tensor = spec.low + (spec.high - spec.low) * unit
        tensors.append(tensor)
    return tuple(tensors)


def forward_arity(model: torch.nn.Module) -> tuple[int, int | None, list[str]]:
    """``forward``'s positional inputs: how many are required, how many allowed (None: any),
    and their names."""
    try:
        parameters = inspect.signature(model.forward).parameters.values()
    except (TypeError, ValueError):
        return 1, None, []
    positional = [
        p
        for p in parameters
        if p.kind in (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    ]
    required = sum(p.default is inspect.Parameter.empty for p in positional)
    variadic = any(p.kind is inspect.Parameter.VAR_POSITIONAL for p in parameters)
    return required, None if variadic else len(positional), [p.name for p in positional]


def suggestion(model: torch.nn.Module, batch: int = DEFAULT_BATCH) -> str:
    """A concrete ``--input ...`` for ``model``, one per required input of ``forward``, from its
    layers in order (an Embedding: token ids; a Linear: features)."""
    candidates = []
    for module in model.modules():
        if isinstance(module, torch.nn.Embedding):
            candidates.append(
                InputSpec(torch.int64, (batch, DEFAULT_LENGTH), 0, module.num_embeddings)
            )
        elif isinstance(module, torch.nn.Linear):
            candidates.append(InputSpec(float_dtype(model), (batch, module.in_features)))
    required = max(forward_arity(model)[0], 1)
    fallback = InputSpec(float_dtype(model), (batch, 3, 28, 28))
    specs = (candidates + [fallback] * required)[:required]
    return " ".join(f"--input {spec}" for spec in specs)


def infer_specs(model: torch.nn.Module, batch: int = DEFAULT_BATCH) -> list[InputSpec]:
    """The input of the first Linear (floats, ``in_features`` wide) or Embedding (``batch`` rows
    of ``DEFAULT_LENGTH`` ids in ``[0, num_embeddings)``), whichever comes first."""
    name = type(model).__name__
    required, _, names = forward_arity(model)
    if required > 1:
        raise InputError(
            f"cannot infer the inputs of {name}: forward takes {required} inputs "
            f"({', '.join(names[:required])}), only one can be inferred; pass one per input, "
            f"e.g. {suggestion(model, batch)}"
        )
    for module in model.modules():
        if isinstance(module, torch.nn.Embedding):
            return [InputSpec(torch.int64, (batch, DEFAULT_LENGTH), 0, module.num_embeddings)]
        if isinstance(module, torch.nn.Linear):
            return [InputSpec(float_dtype(model), (batch, module.in_features))]
    raise InputError(
        f"cannot infer the input of {name}: expected a Linear or Embedding layer, received "
        f"none; pass it, e.g. {suggestion(model, batch)}"
    )
