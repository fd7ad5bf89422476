"""The nearest translated alternative to a torch name that is not translated, for the hint of
its diagnostic.

Consulted only for names missing from the registry, and worded from the registry at that moment
(a family names the members that are translated, a sibling is offered only when it is), so a
hint stays true as rules are added.
"""

from __future__ import annotations

from torch2tf.rules.registry import FUNCTIONS, INITIALIZERS, LAYERS

COVERAGE = "see the README's 'What is translated'"
_NN, _F = "torch.nn.", "torch.nn.functional."


def _names(prefix: str, *stems: str) -> tuple[str, ...]:
    return tuple(prefix + stem for stem in stems)


# Families: layers and functions that land together (a new family means a new README section).
FAMILIES: dict[str, tuple[str, ...]] = {
    "convolutions": _names(
        _NN, "Conv1d", "Conv2d", "Conv3d", "ConvTranspose1d", "ConvTranspose2d", "ConvTranspose3d"
    )
    + _names(_F, "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d"),
    "pooling operations": _names(
        _NN,
        *(
            f"{kind}Pool{d}d"
            for kind in ("Max", "Avg", "AdaptiveMax", "AdaptiveAvg")
            for d in "123"
        ),
    )
    + _names(
        _F,
        *(
            f"{kind}_pool{d}d"
            for kind in ("max", "avg", "adaptive_max", "adaptive_avg")
            for d in "123"
        ),
    ),
    "recurrent layers": _names(_NN, "RNN", "LSTM", "GRU", "RNNCell", "LSTMCell", "GRUCell"),
    "attention and transformer layers": _names(
        _NN,
        "MultiheadAttention",
        "Transformer",
        "TransformerEncoder",
        "TransformerEncoderLayer",
        "TransformerDecoder",
        "TransformerDecoderLayer",
    )
    + _names(_F, "scaled_dot_product_attention", "multi_head_attention_forward"),
    "batch normalizations": _names(
        _NN, "BatchNorm1d", "BatchNorm2d", "BatchNorm3d", "SyncBatchNorm"
    ),
}

_REAL_ROTARY = (
    "the real form (complex tensors are not translated): rotary embeddings as "
    "x * cos + rotate_half(x) * sin, cos and sin of torch.cat((freqs, freqs), -1),"
)
# A name -> a translated sibling and how to use it instead; offered only if it is translated
# (None: Python's operators, translated as they are, with no rule of their own).
SIBLINGS: dict[str, tuple[str | None, str]] = {
    "torch.dot": ("torch.matmul", "torch.matmul(a, b) or a @ b (1-D tensors)"),
    "torch.clamp_min": ("torch.clamp", "torch.clamp(x, min=...)"),
    "torch.clamp_max": ("torch.clamp", "torch.clamp(x, max=...)"),
    "torch.rand": ("torch.rand_like", "torch.rand_like(x) for the shape of a tensor x"),
    "torch.randn": ("torch.randn_like", "torch.randn_like(x) for the shape of a tensor x"),
    _NN + "LazyLinear": (_NN + "Linear", "nn.Linear with in_features given"),
    _NN + "Softmax2d": (_NN + "Softmax", "nn.Softmax(dim=-3), the same computation,"),
    _F + "embedding": (_NN + "Embedding", "an nn.Embedding layer"),
    _F + "rms_norm": (_NN + "RMSNorm", "an nn.RMSNorm layer"),
    **{
        name: (None, _REAL_ROTARY)
        for name in ("torch.polar", "torch.view_as_complex", "torch.view_as_real", "torch.complex")
    },
}


def _translated(name: str) -> bool:
    return name in LAYERS or name in FUNCTIONS or name in INITIALIZERS


def nearest_alternative(qualified: str) -> str | None:
    """A hint naming the nearest translated alternative to ``qualified``, or None."""
    if qualified in SIBLINGS:
        sibling, usage = SIBLINGS[qualified]
        if sibling is None or _translated(sibling):
            return f"use {usage} instead"
    for family, members in FAMILIES.items():
        if qualified in members:
            done = [m.rsplit(".", 1)[1] for m in members if _translated(m)]
            if not done:
                return f"{family} are not translated yet; {COVERAGE}"
            verb = "is" if len(done) == 1 else "are"
            return f"of the {family}, only {', '.join(done)} {verb} translated; {COVERAGE}"
    return None
