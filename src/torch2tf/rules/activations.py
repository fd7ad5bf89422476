"""torch.nn activation layers -> Keras layers.

A built-in Keras layer or activation is used wherever it computes torch's formula with torch's
defaults (measured: round-off only); a TensorFlow-only helper layer otherwise. Gradients agree
too, except for the sub-gradient some functions pick at their kinks (a set of measure zero).
"""

from __future__ import annotations

from typing import Any

from torch2tf.rules.layers import _array, _no_dtype
from torch2tf.rules.registry import (
    LAYERS,
    LayerRule,
    Unsupported,
    const,
    constructor,
    keras_call,
    layer,
    src,
)


def _activation(name: str) -> str:
    return f'tf.keras.layers.Activation("{name}")'


def _with(name: str, **arguments: str) -> str:
    """A Keras activation that needs arguments, which ``Activation`` cannot pass."""
    return keras_call("ActivationWith", f'"{name}"', **arguments)


def _is(value: Any, default: float) -> bool:
    """Whether an argument is the literal number ``default``."""
    number = const(value, None)
    return isinstance(number, (int, float)) and not isinstance(number, bool) and number == default


def _plain(torch_name: str, keras_name: str, takes_inplace: bool) -> None:
    """Register a rule for an activation without arguments (besides torch's ``inplace``)."""
    source = _activation(keras_name)
    if takes_inplace:

        def keras(self, inplace=False):
            return source

    else:

        def keras(self, *args, **kwargs):  # torch accepts and ignores any arguments
            return source

    doc = f'nn.{torch_name} -> Activation("{keras_name}") (the same formula).'
    example = (f"nn.{torch_name}()", source)
    members = {"torch": f"torch.nn.{torch_name}", "keras": keras, "__doc__": doc}
    layer(type(torch_name, (LayerRule,), {**members, "examples": (example,)}))


# torch class -> (Keras activation name, whether torch's constructor takes ``inplace``)
PLAIN = {
    "SELU": ("selu", True),
    "SiLU": ("silu", True),
    "Mish": ("mish", True),
    "Hardswish": ("hard_swish", True),
    "Hardsigmoid": ("hard_sigmoid", True),
    "Sigmoid": ("sigmoid", False),
    "Tanh": ("tanh", False),
    "Softsign": ("softsign", False),
    "LogSigmoid": ("log_sigmoid", False),
    "Tanhshrink": ("tanh_shrink", False),
}
for _torch_name, (_keras_name, _inplace) in PLAIN.items():
    _plain(_torch_name, _keras_name, _inplace)


@layer
class ReLU6(LayerRule):
    """nn.ReLU6 -> ReLU(max_value=6.0) (identical)."""

    torch = "torch.nn.ReLU6"
    examples = (("nn.ReLU6()", "tf.keras.layers.ReLU(max_value=6.0)"),)

    def keras(self, inplace=False):
        return "tf.keras.layers.ReLU(max_value=6.0)"


@layer
class LeakyReLU(LayerRule):
    """nn.LeakyReLU -> LeakyReLU(negative_slope=0.01): the Keras layer's default slope is 0.3."""

    torch = "torch.nn.LeakyReLU"
    examples = (
        ("nn.LeakyReLU()", "tf.keras.layers.LeakyReLU(negative_slope=0.01)"),
        ("nn.LeakyReLU(0.2)", "tf.keras.layers.LeakyReLU(negative_slope=0.2)"),
    )

    def keras(self, negative_slope=0.01, inplace=False):
        slope = const(negative_slope, None)
        if isinstance(slope, (int, float)) and slope < 0:  # the Keras layer refuses these
            return _with("leaky_relu", negative_slope=src(negative_slope))
        return keras_call("tf.keras.layers.LeakyReLU", negative_slope=src(negative_slope))


@layer
class PReLU(LayerRule):
    """nn.PReLU -> TorchPReLU: one alpha or one per axis-1 channel, init 0.25 (Keras: 0)."""

    torch = "torch.nn.PReLU"
    examples = (("nn.PReLU(8)", "TorchPReLU(8)"),)
    initializers = {"weight": "alpha_initializer"}

    def keras(self, num_parameters=1, init=0.25, device=None, dtype=None):
        _no_dtype(dtype)
        count = [] if _is(num_parameters, 1) else [src(num_parameters)]
        return keras_call(
            "TorchPReLU",
            *count,
            init=None if _is(init, 0.25) else src(init),
            alpha_initializer=self.initializer("weight", None),
        )

    @staticmethod
    def weights(module):
        return [_array(module.weight)]


@layer
class ELU(LayerRule):
    """nn.ELU -> ELU (the same alpha default, 1.0)."""

    torch = "torch.nn.ELU"
    examples = (("nn.ELU(alpha=0.5)", "tf.keras.layers.ELU(alpha=0.5)"),)

    def keras(self, alpha=1.0, inplace=False):
        return keras_call("tf.keras.layers.ELU", alpha=None if _is(alpha, 1.0) else src(alpha))


@layer
class CELU(LayerRule):
    """nn.CELU -> Activation("celu"), with alpha through ActivationWith."""

    torch = "torch.nn.CELU"
    examples = (("nn.CELU(alpha=0.5)", "ActivationWith('celu', alpha=0.5)"),)

    def keras(self, alpha=1.0, inplace=False):
        return _activation("celu") if _is(alpha, 1.0) else _with("celu", alpha=src(alpha))


@layer
class GELU(LayerRule):
    """nn.GELU -> Activation("gelu") (exact erf form); approximate="tanh" -> approximate=True."""

    torch = "torch.nn.GELU"
    examples = (
        ("nn.GELU()", "tf.keras.layers.Activation('gelu')"),
        ("nn.GELU(approximate='tanh')", "ActivationWith('gelu', approximate=True)"),
    )

    def keras(self, approximate="none"):
        form = const(approximate, None)
        if form == "none":
            return _activation("gelu")
        if form == "tanh":
            return _with("gelu", approximate="True")
        raise Unsupported(
            f"GELU(approximate={src(approximate)}) is not translated",
            "use a literal 'none' (exact erf form) or 'tanh'",
        )


@layer
class Softplus(LayerRule):
    """nn.Softplus -> Activation("softplus"); TorchSoftplus for other beta/threshold."""

    torch = "torch.nn.Softplus"
    examples = (("nn.Softplus(beta=2.0)", "TorchSoftplus(beta=2.0, threshold=20.0)"),)

    def keras(self, beta=1.0, threshold=20.0):
        # Above the threshold torch returns x, Keras x + log1p(exp(-x)): the same in float32 once
        # x > 20 (the difference, 2e-9, is far below an ulp of x).
        if _is(beta, 1.0) and _is(threshold, 20.0):
            return _activation("softplus")
        return keras_call("TorchSoftplus", beta=src(beta), threshold=src(threshold))


@layer
class Hardtanh(LayerRule):
    """nn.Hardtanh -> Activation("hard_tanh"); TorchHardtanh for other bounds."""

    torch = "torch.nn.Hardtanh"
    examples = (("nn.Hardtanh(-2.0, 2.0)", "TorchHardtanh(-2.0, 2.0)"),)

    def keras(self, min_val=-1.0, max_val=1.0, inplace=False, min_value=None, max_value=None):
        # min_value/max_value are torch's deprecated spellings; they win when given.
        low = min_val if src(min_value) == "None" else min_value
        high = max_val if src(max_value) == "None" else max_value
        if _is(low, -1.0) and _is(high, 1.0):
            return _activation("hard_tanh")
        return keras_call("TorchHardtanh", src(low), src(high))


def _dim(dim: Any, name: str, channels_last: bool) -> str:
    """The axis as source: a literal as it is; a value known only at run time (a layer class
    used as a value, built later with its dim) through ``int()``, so a None fails loudly there
    instead of meaning Keras's all axes. On a channels-last map only a literal can be moved."""
    value = const(dim, None)
    if value is None:
        if src(dim) == "None":
            raise Unsupported(
                f"{name}() without dim uses torch's deprecated implicit dimension "
                "(0 for 0-, 1- and 3-D input, else 1)",
                "pass dim= explicitly",
            )
        if channels_last:
            raise Unsupported(f"{name} dim= on a feature map must be a literal integer")
        return f"int({src(dim)})"
    if not isinstance(value, int) or isinstance(value, bool):
        raise Unsupported(f"{name} dim= must be a literal integer")
    return repr(value)


@layer
class Softmax(LayerRule):
    """nn.Softmax(dim) -> Softmax(axis=dim); dim=None (torch's implicit dim) is refused."""

    torch = "torch.nn.Softmax"
    examples = (("nn.Softmax(dim=1)", "tf.keras.layers.Softmax(axis=1)"),)

    def rank_sensitive(self, arguments):
        return const(arguments["dim"], None) not in (-2, -1, 0, 1)

    def keras(self, dim=None):
        return keras_call("tf.keras.layers.Softmax", axis=_dim(dim, "Softmax", self.channels_last))


@layer
class LogSoftmax(LayerRule):
    """nn.LogSoftmax(dim) -> Activation("log_softmax") on the last axis, else ActivationWith."""

    torch = "torch.nn.LogSoftmax"
    examples = (("nn.LogSoftmax(dim=-1)", "tf.keras.layers.Activation('log_softmax')"),)

    def rank_sensitive(self, arguments):
        return const(arguments["dim"], None) not in (-2, -1, 0, 1)

    def keras(self, dim=None):
        axis = _dim(dim, "LogSoftmax", self.channels_last)
        return _activation("log_softmax") if axis == "-1" else _with("log_softmax", axis=axis)


@layer
class Softmin(LayerRule):
    """nn.Softmin(dim) -> TorchSoftmin(axis=dim), softmax(-x): Keras has no softmin."""

    torch = "torch.nn.Softmin"
    examples = (("nn.Softmin(dim=1)", "TorchSoftmin(axis=1)"),)

    def rank_sensitive(self, arguments):
        return const(arguments["dim"], None) not in (-2, -1, 0, 1)

    def keras(self, dim=None):
        return keras_call("TorchSoftmin", axis=_dim(dim, "Softmin", self.channels_last))


@layer
class GLU(LayerRule):
    """nn.GLU(dim) -> Activation("glu") on the last axis, else ActivationWith (same halves)."""

    torch = "torch.nn.GLU"
    examples = (("nn.GLU()", "tf.keras.layers.Activation('glu')"),)

    def rank_sensitive(self, arguments):
        return const(arguments["dim"], None) not in (-2, -1, 0, 1)

    def keras(self, dim=-1):
        return _activation("glu") if _is(dim, -1) else _with("glu", axis=src(dim))


@layer
class Softshrink(LayerRule):
    """nn.Softshrink(lambd) -> Activation("soft_shrink") (threshold 0.5), else ActivationWith."""

    torch = "torch.nn.Softshrink"
    examples = (("nn.Softshrink(0.5)", "tf.keras.layers.Activation('soft_shrink')"),)

    def keras(self, lambd=0.5):
        if _is(lambd, 0.5):
            return _activation("soft_shrink")
        return _with("soft_shrink", threshold=src(lambd))


@layer
class Hardshrink(LayerRule):
    """nn.Hardshrink(lambd) -> Activation("hard_shrink") (threshold 0.5), else ActivationWith."""

    torch = "torch.nn.Hardshrink"
    examples = (("nn.Hardshrink(0.5)", "tf.keras.layers.Activation('hard_shrink')"),)

    def keras(self, lambd=0.5):
        if _is(lambd, 0.5):
            return _activation("hard_shrink")
        return _with("hard_shrink", threshold=src(lambd))


@layer
class Threshold(LayerRule):
    """nn.Threshold(t, v) -> keras activations.threshold: x if x > t else v."""

    torch = "torch.nn.Threshold"
    examples = (
        (
            "nn.Threshold(0.1, 20.0)",
            "ActivationWith('threshold', threshold=0.1, default_value=20.0)",
        ),
    )

    def keras(self, threshold, value, inplace=False):
        return _with("threshold", threshold=src(threshold), default_value=src(value))


BY_NAME = "torch_activation"


def by_name_source() -> str:
    """Source of ``torch_activation(name)``: the Keras maker of the torch.nn activation class
    ``getattr(nn, name)`` names, picked at run time from the activations translated here;
    any other name raises, so nothing untranslated runs."""
    entries = []
    for qualified, rule in LAYERS.items():
        if rule.__module__ != __name__ and qualified != "torch.nn.ReLU":
            continue
        made = constructor(rule)
        if made is None:  # an argument's value needed: defaults only (arguments then raise)
            try:
                made = ("", rule().keras())
            except Unsupported:  # no default translates: left out, so it raises
                continue
        entries.append(f'        "{qualified.rsplit(".", 1)[1]}": lambda {made[0]}: {made[1]},')
    table = "\n".join(entries)
    return (
        f"def {BY_NAME}(name):\n"
        '    """getattr(torch.nn, name), an activation named at run time -> its Keras maker."""\n'
        f"    makers = {{\n{table}\n    }}\n"
        "    if name not in makers:\n"
        "        raise NotImplementedError(\n"
        '            f"torch.nn.{name} is not a translated activation: {sorted(makers)} are"\n'
        "        )\n"
        "    return makers[name]\n"
    )
