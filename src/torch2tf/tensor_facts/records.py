"""The records of the tensor facts: one value's :class:`Fact`, and the :class:`ClassFacts`
of one class (arguments rewritten, Linear rows permuted) that the rewrite and conversion read.
"""

from __future__ import annotations

from dataclasses import dataclass, field

Key = tuple[int, int, int, int]
"""A node's source range: line, column, end line, end column (1-based lines, character
columns), as both Python's ``ast`` and LibCST can tell it."""

PLAIN, SCALAR, UNKNOWN = "plain", "scalar", "unknown"
MAP, FLAT = "channels_last", "flattened_map"
MAPS = "channels_last_maps"
"""The pieces of a map that ``chunk``/``split`` cut (bound by unpacking or indexing)."""
GROUPED = "grouped_channels"
"""A channel shuffle's view of a map: torch's (N, G, C/G, H, W) is Keras's (N, H, W, G, C/G)."""
TUPLE = "tuple_with_maps"
"""A tuple holding a map among other values (``return x, aux``): ``elements`` their facts,
bound again by unpacking or indexing."""
_TRACKED = (MAP, FLAT, MAPS, GROUPED, TUPLE)
PER_SAMPLE = "per_sample"
"""A tensor, or a shape, of a map's rank whose sizes are 1 but perhaps the batch's, made from
the map's size (stochastic depth's ``[x.shape[0]] + [1] * (x.ndim - 1)`` noise): it broadcasts
against the map alike in either layout."""


@dataclass(frozen=True)
class Fact:
    """What is known of one value of ``forward()``.

    ``kind``: ``plain`` (the same in both frameworks: features, anything without a channel
    axis), ``scalar`` (a number: a literal, a size), ``channels_last`` (torch (N, C, *S) is
    Keras (N, *S, C)), ``flattened_map`` (torch's flatten of a map, (C, *S) order, is
    Keras's (*S, C) order) or ``unknown`` (a map went where the pass cannot follow; already
    reported).
    """

    kind: str = PLAIN
    rank: int | None = None
    channels: int | None = None
    channels_from: str | None = None
    """Module path (relative to the class) of the layer that fixed the channel count."""
    spatial: tuple[int, ...] | None = None
    """A map's static spatial sizes, where known (adaptive pooling fixes them)."""
    origin: Key | None = None
    """Of a plain tensor: the ``permute``/``transpose``/``view`` call that made it, when that
    call could instead give torch's channels-first map (``emb.permute(0, 2, 1)`` feeding a
    Conv1d; ConvNeXt's ``x.permute(0, 3, 1, 2)``). Where a map is needed, the pass is rerun
    with that call giving the map (its dims rewritten so that Keras keeps the tensor as is)."""
    elements: tuple[Fact, ...] = ()
    """Of a ``tuple_with_maps``: each element's fact."""

    @property
    def is_map(self) -> bool:
        return self.kind in (MAP, FLAT, MAPS, GROUPED, TUPLE, UNKNOWN)

    def layout(self) -> str:
        """Readable layout for reports: ``NCHW -> NHWC``, ``features``."""
        if self.kind == MAP and self.rank in (3, 4, 5):
            torch_dims = {3: "NCL", 4: "NCHW", 5: "NCDHW"}[self.rank]
            return f"{torch_dims} -> {torch_dims[0]}{torch_dims[2:]}{torch_dims[1]}"
        if self.kind == FLAT:
            return "flattened (C, *spatial) -> (*spatial, C)"
        return "as torch"


PLAIN_FACT = Fact()
SCALAR_FACT = Fact(SCALAR)
UNKNOWN_FACT = Fact(UNKNOWN)


@dataclass(frozen=True)
class FlattenedRows:
    """A Linear fed torch's flatten of a feature map: its kernel rows go from (C, *spatial)
    to (*spatial, C) order at weight transfer. ``channels`` is the static channel count, else
    conversion reads it from the live layer at ``channels_from``."""

    channels: int | None
    channels_from: str | None
    spatial: tuple[int, ...] | None = None
    """The map's static spatial sizes: without a channel count, conversion divides the
    Linear's ``in_features`` by their product."""


@dataclass(frozen=True)
class ArgRewrite:
    """Replace one written argument of a call (positional index or keyword) with ``source``."""

    index: int | None
    keyword: str | None
    source: str


@dataclass
class ClassFacts:
    """The facts of one class, as the rewrite and conversion consume them."""

    inputs: dict[str, Fact] = field(default_factory=dict)
    output: Fact = PLAIN_FACT
    layers: dict[str, tuple[Fact, Fact]] = field(default_factory=dict)
    """Module path -> (input, output) facts, for layers on maps (verification permutes)."""
    flattened_rows: dict[str, FlattenedRows] = field(default_factory=dict)
    channels_last_layers: set[Key] = field(default_factory=set)
    """Constructor calls of layers that must be built channels-last (BatchNorm1d on (N, L, C))."""
    rewrites: dict[Key, list[ArgRewrite]] = field(default_factory=dict)
    slices: dict[Key, str] = field(default_factory=dict)
    """Indexings whose index is rewritten: ``s[:, :, None, None]`` -> ``s[:, None, None, :]``."""
    replaced: dict[Key, str] = field(default_factory=dict)
    """Expressions written anew, as a template of their translation (``{}``): a ``(C, 1, 1)``
    parameter against a map, read as ``(C,)``."""
    followed: set[Key] = field(default_factory=set)
    """Constructor calls of layers the pass followed onto feature maps."""
    diagnostics: list[tuple[int, int, str, str]] = field(default_factory=list)
    attribute_layers: dict[str, str] = field(default_factory=dict)
    """Attribute of __init__ -> the torch layer it holds, however it was built."""
