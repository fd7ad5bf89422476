"""Attention: F.scaled_dot_product_attention and nn.MultiheadAttention -> TensorFlow.

Keras's own attention differs from torch's where it matters (semantics-wave2.md §8): its masks
mean True = attend (nn.MultiheadAttention's mean True = blocked), ``dot_product_attention``
takes (B, T, h, D) where torch takes (B, h, T, D), and a fully masked row is uniform or zero
depending on the code path. So both translate into small helpers written on torch's layout
and mask conventions (``torch_sdpa``, ``TorchMultiheadAttention``) that keep torch's weights
as they are.
"""

from __future__ import annotations

import ast

from torch2tf.rules.functional import given, src
from torch2tf.rules.layers import Linear, _array, _no_dtype
from torch2tf.rules.registry import LayerRule, Unsupported, const, function, keras_call, layer


def reads_sizes(cls: ast.ClassDef, name: str) -> bool:
    """Whether ``forward`` unpacks the sizes of its input ``name`` (``B, T, C = x.size()``),
    as attention code does: then a 2-D symbolic input cannot build the class."""
    for node in ast.walk(cls):
        if not (isinstance(node, ast.FunctionDef) and node.name == "forward"):
            continue
        for statement in ast.walk(node):
            if not (isinstance(statement, ast.Assign) and len(statement.targets) == 1):
                continue
            if not isinstance(statement.targets[0], (ast.Tuple, ast.List)):
                continue
            value = statement.value
            if isinstance(value, ast.Call) and not value.args:
                value = value.func  # x.size()
            if (
                isinstance(value, ast.Attribute)
                and value.attr in ("size", "shape")
                and isinstance(value.value, ast.Name)
                and value.value.id == name
            ):
                return True
    return False


def weight_tie(statement: str, layers: dict[str, str]) -> str | None:
    """``self.head.weight = self.emb.weight`` (a Linear takes an Embedding's weight, as GPTs
    tie them) -> the Linear becomes a TorchTiedDense reading the Embedding's one variable.
    None for any other statement (the other direction stays refused as a layer mutation)."""
    try:
        node = ast.parse(statement.strip()).body[0]
    except (SyntaxError, IndexError):
        return None
    if not (isinstance(node, ast.Assign) and len(node.targets) == 1):
        return None
    sides = []
    for side in (node.targets[0], node.value):
        if not (
            isinstance(side, ast.Attribute)
            and side.attr == "weight"
            and isinstance(side.value, ast.Attribute)
            and isinstance(side.value.value, ast.Name)
            and side.value.value.id == "self"
        ):
            return None
        sides.append(side.value.attr)
    linear, embedding = sides
    if layers.get(linear) != "torch.nn.Linear" or layers.get(embedding) != "torch.nn.Embedding":
        return None
    return f"self.{linear} = TorchTiedDense(self.{embedding}, self.{linear}, name={linear!r})"


@function(
    "torch.nn.functional.scaled_dot_product_attention",
    examples=(
        (
            "F.scaled_dot_product_attention(x, y, y, is_causal=True)",
            "torch_sdpa(x, y, y, is_causal=True)",
        ),
    ),
)
def scaled_dot_product_attention(
    query,
    key,
    value,
    attn_mask=None,
    dropout_p=0.0,
    is_causal=False,
    scale=None,
    enable_gqa=False,
):
    """torch_sdpa helper on torch's (..., L, E) layout: bool mask True = attend, float mask
    added, top-left causal mask, 0 for a fully masked row."""
    rate = const(dropout_p, None)
    if rate is not None and not (isinstance(rate, (int, float)) and 0 <= rate < 1):
        raise Unsupported(
            f"scaled_dot_product_attention(dropout_p={src(dropout_p)}) is not translated",
            "TensorFlow's dropout needs 0 <= p < 1",
        )
    for flag, text in ((is_causal, "is_causal"), (enable_gqa, "enable_gqa")):
        if const(flag, None) not in (True, False):
            raise Unsupported(f"scaled_dot_product_attention: {text}= must be a literal bool")
    return keras_call(
        "torch_sdpa",
        src(query),
        src(key),
        src(value),
        attn_mask=src(attn_mask) if given(attn_mask) else None,
        dropout_p=None if rate == 0 else src(dropout_p),
        is_causal=None if const(is_causal) is False else "True",
        scale=src(scale) if given(scale) else None,
        enable_gqa=None if const(enable_gqa) is False else "True",
    )


def _flag(value, what: str) -> bool:
    flag = const(value, None)
    if not isinstance(flag, bool):
        raise Unsupported(f"{what}= must be a literal True or False")
    return flag


@layer
class MultiheadAttention(LayerRule):
    """nn.MultiheadAttention -> TorchMultiheadAttention: torch's call signature, (output,
    weights) result, packed weights, mask conventions and fully masked rows."""

    torch = "torch.nn.MultiheadAttention"
    examples = (
        (
            "nn.MultiheadAttention(16, 4, batch_first=True)",
            "TorchMultiheadAttention(16, 4, batch_first=True)",
        ),
    )
    takes_training = True

    def keras(
        self,
        embed_dim,
        num_heads,
        dropout=0.0,
        bias=True,
        add_bias_kv=False,
        add_zero_attn=False,
        kdim=None,
        vdim=None,
        batch_first=False,
        device=None,
        dtype=None,
    ):
        _no_dtype(dtype)
        rate = const(dropout, None)
        if rate is not None and not (isinstance(rate, (int, float)) and 0 <= rate < 1):
            raise Unsupported(f"MultiheadAttention(dropout={src(dropout)}): need 0 <= p < 1")
        flags = {
            "bias": _flag(bias, "MultiheadAttention bias"),
            "add_bias_kv": _flag(add_bias_kv, "MultiheadAttention add_bias_kv"),
            "add_zero_attn": _flag(add_zero_attn, "MultiheadAttention add_zero_attn"),
            "batch_first": _flag(batch_first, "MultiheadAttention batch_first"),
        }
        defaults = {"bias": True, "add_bias_kv": False, "add_zero_attn": False}
        defaults["batch_first"] = False
        return keras_call(
            "TorchMultiheadAttention",
            src(embed_dim),
            src(num_heads),
            dropout=None if rate == 0 else src(dropout),
            **{k: None if v == defaults[k] else repr(v) for k, v in flags.items()},
            kdim=src(kdim) if given(kdim) else None,
            vdim=src(vdim) if given(vdim) else None,
        )

    @classmethod
    def arguments(cls, module):
        values = super().arguments(module)
        values["bias"] = module.in_proj_bias is not None
        values["add_bias_kv"] = module.bias_k is not None
        return values

    @staticmethod
    def keras_variables(layer):
        # The out-projection is a Dense of its own, moved by the out_proj rule below.
        return [v for v in layer.weights if not any(v is w for w in layer.out_proj.weights)]

    @staticmethod
    def weights(module):
        names = ("in_proj_weight", "q_proj_weight", "k_proj_weight", "v_proj_weight")
        names += ("in_proj_bias", "bias_k", "bias_v")
        return [_array(t) for t in (getattr(module, n) for n in names) if t is not None]


@layer
class OutProjection(Linear):
    """MultiheadAttention's out_proj (a Linear subclass) -> the helper's Dense ``out_proj``."""

    torch = "torch.nn.modules.linear.NonDynamicallyQuantizableLinear"
