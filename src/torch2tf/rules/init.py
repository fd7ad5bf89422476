"""torch.nn.init functions -> Keras initializers with the same distribution.

Fans agree once a Linear weight (out, in) becomes a Dense kernel (in, out). Keras's He/Glorot
*normal* initializers are truncated, torch's are not, hence ``untruncated_normal`` below.
"""

from __future__ import annotations

import math

from torch2tf.rules.registry import Unsupported, const, initializer, keras_call, src

_GAINS_SQUARED = {
    "linear": 1.0,
    "conv1d": 1.0,
    "conv2d": 1.0,
    "conv3d": 1.0,
    "sigmoid": 1.0,
    "tanh": 25 / 9,
    "relu": 2.0,
    "selu": 9 / 16,
}


def gain_squared(nonlinearity: str, param: float | None = None) -> float:
    """torch.nn.init.calculate_gain(nonlinearity, param) ** 2."""
    if nonlinearity == "leaky_relu":
        slope = 0.01 if param is None else param
        return 2.0 / (1 + slope**2)
    if nonlinearity not in _GAINS_SQUARED:
        raise Unsupported(f"unknown nonlinearity {nonlinearity!r} for calculate_gain")
    return _GAINS_SQUARED[nonlinearity]


def _scale(gain) -> str:
    value = const(gain, None)
    if isinstance(value, (int, float)):
        return repr(float(value) ** 2)
    return f"({src(gain)}) ** 2"


def _variance_scaling(scale: str, mode: str, distribution: str) -> str:
    return keras_call(
        "tf.keras.initializers.VarianceScaling", scale, repr(mode), repr(distribution)
    )


@initializer(
    "torch.nn.init.xavier_uniform_",
    examples=(
        (
            "nn.init.xavier_uniform_(self.layer.weight)",
            "kernel_initializer=tf.keras.initializers.GlorotUniform()",
        ),
    ),
)
def xavier_uniform_(tensor, gain=1.0, generator=None):
    """GlorotUniform; with a gain, VarianceScaling(gain**2, fan_avg, uniform)."""
    if const(gain, None) == 1.0:
        return "tf.keras.initializers.GlorotUniform()"
    return _variance_scaling(_scale(gain), "fan_avg", "uniform")


@initializer(
    "torch.nn.init.xavier_normal_",
    examples=(
        (
            "nn.init.xavier_normal_(self.layer.weight, gain=2.0)",
            (
                "kernel_initializer=tf.keras.initializers.VarianceScaling(4.0, 'fan_avg', "
                "'untruncated_normal')"
            ),
        ),
    ),
)
def xavier_normal_(tensor, gain=1.0, generator=None):
    """VarianceScaling(gain**2, fan_avg, untruncated_normal): GlorotNormal truncates."""
    return _variance_scaling(_scale(gain), "fan_avg", "untruncated_normal")


def _kaiming(a, mode, nonlinearity, distribution: str) -> str:
    mode_value, nl, slope = const(mode, None), const(nonlinearity, None), const(a, None)
    if mode_value not in ("fan_in", "fan_out") or not isinstance(nl, str):
        raise Unsupported("kaiming init needs literal mode= and nonlinearity= arguments")
    if not isinstance(slope, (int, float)):
        raise Unsupported("kaiming init needs a literal a= argument")
    scale = gain_squared(nl, slope if nl == "leaky_relu" else None)
    return _variance_scaling(repr(scale), mode_value, distribution)


@initializer(
    "torch.nn.init.kaiming_uniform_",
    examples=(
        (
            "nn.init.kaiming_uniform_(self.layer.weight, a=math.sqrt(5))",
            (
                "kernel_initializer=tf.keras.initializers.VarianceScaling(0.33333333333333326, "
                "'fan_in', 'uniform')"
            ),
        ),
    ),
)
def kaiming_uniform_(tensor, a=0, mode="fan_in", nonlinearity="leaky_relu", generator=None):
    """VarianceScaling(gain**2, mode, uniform) with torch's gain for the nonlinearity."""
    return _kaiming(a, mode, nonlinearity, "uniform")


@initializer(
    "torch.nn.init.kaiming_normal_",
    examples=(
        (
            "nn.init.kaiming_normal_(self.layer.weight, mode='fan_out', nonlinearity='relu')",
            (
                "kernel_initializer=tf.keras.initializers.VarianceScaling(2.0, 'fan_out', "
                "'untruncated_normal')"
            ),
        ),
    ),
)
def kaiming_normal_(tensor, a=0, mode="fan_in", nonlinearity="leaky_relu", generator=None):
    """VarianceScaling(gain**2, mode, untruncated_normal): HeNormal truncates, fan_in only."""
    return _kaiming(a, mode, nonlinearity, "untruncated_normal")


@initializer(
    "torch.nn.init.normal_",
    examples=(
        (
            "nn.init.normal_(self.layer.weight, std=0.02)",
            "kernel_initializer=tf.keras.initializers.RandomNormal(0.0, 0.02)",
        ),
    ),
)
def normal_(tensor, mean=0.0, std=1.0, generator=None):
    """RandomNormal(mean, std), torch's default std 1 (Keras's: 0.05)."""
    return keras_call("tf.keras.initializers.RandomNormal", src(mean), src(std))


@initializer(
    "torch.nn.init.uniform_",
    examples=(
        (
            "nn.init.uniform_(self.layer.bias, -0.1, 0.1)",
            "bias_initializer=tf.keras.initializers.RandomUniform(-0.1, 0.1)",
        ),
    ),
)
def uniform_(tensor, a=0.0, b=1.0, generator=None):
    """RandomUniform(a, b), torch's default [0, 1) (Keras's: +-0.05)."""
    return keras_call("tf.keras.initializers.RandomUniform", src(a), src(b))


@initializer(
    "torch.nn.init.constant_",
    examples=(
        (
            "nn.init.constant_(self.layer.bias, 0.5)",
            "bias_initializer=tf.keras.initializers.Constant(0.5)",
        ),
    ),
)
def constant_(tensor, val):
    """Constant(val)."""
    return keras_call("tf.keras.initializers.Constant", src(val))


@initializer(
    "torch.nn.init.zeros_",
    examples=(
        ("nn.init.zeros_(self.layer.bias)", "bias_initializer=tf.keras.initializers.Zeros()"),
    ),
)
def zeros_(tensor):
    """Zeros()."""
    return "tf.keras.initializers.Zeros()"


@initializer(
    "torch.nn.init.ones_",
    examples=(
        ("nn.init.ones_(self.layer.weight)", "kernel_initializer=tf.keras.initializers.Ones()"),
    ),
)
def ones_(tensor):
    """Ones()."""
    return "tf.keras.initializers.Ones()"


@initializer(
    "torch.nn.init.eye_",
    examples=(
        ("nn.init.eye_(self.layer.weight)", "kernel_initializer=tf.keras.initializers.Identity()"),
    ),
)
def eye_(tensor):
    """Identity() on the transposed kernel."""
    return "tf.keras.initializers.Identity()"


@initializer(
    "torch.nn.init.orthogonal_",
    examples=(
        (
            "nn.init.orthogonal_(self.layer.weight, gain=math.sqrt(2))",
            "kernel_initializer=tf.keras.initializers.Orthogonal(math.sqrt(2))",
        ),
    ),
)
def orthogonal_(tensor, gain=1, generator=None):
    """Orthogonal(gain): both Haar-distributed (QR with sign correction)."""
    return keras_call("tf.keras.initializers.Orthogonal", src(gain))


@initializer(
    "torch.nn.init.trunc_normal_",
    examples=(
        (
            "nn.init.trunc_normal_(self.layer.weight, std=0.02)",
            "kernel_initializer=tf.keras.initializers.RandomNormal(0.0, 0.02)",
        ),
        (
            "nn.init.trunc_normal_(self.layer.weight, std=0.5, a=-1.0, b=1.0)",
            "kernel_initializer=tf.keras.initializers.TruncatedNormal(0.0, 0.5)",
        ),
        (
            "nn.init.trunc_normal_(self.layer.weight, 0.0, 0.1, a=-0.3, b=0.3)",
            "kernel_initializer=TorchTruncatedNormal(0.0, 0.1, -0.3, 0.3)",
        ),
    ),
)
def trunc_normal_(tensor, mean=0.0, std=1.0, a=-2.0, b=2.0, generator=None):
    """TruncatedNormal when torch's absolute bounds are mean +- 2 std, RandomNormal when they
    are beyond 8 std; else the TorchTruncatedNormal helper (torch's bounds, any values)."""
    values = [const(v, None) for v in (mean, std, a, b)]
    if all(isinstance(v, (int, float)) for v in values):
        mu, sigma, low, high = values
        if math.isclose(low, mu - 2 * sigma) and math.isclose(high, mu + 2 * sigma):
            # Keras truncates at mean +- 2 std, exactly torch's bounds here.
            return keras_call("tf.keras.initializers.TruncatedNormal", src(mean), src(std))
        if low <= mu - 8 * sigma and high >= mu + 8 * sigma:
            # torch's bounds are absolute: beyond 8 std they never cut: a plain normal.
            return keras_call("tf.keras.initializers.RandomNormal", src(mean), src(std))
    return f"TorchTruncatedNormal({src(mean)}, {src(std)}, {src(a)}, {src(b)})"


# Keras initializers whose result depends on which axes are fans: Keras reads them at the end
# of the shape (in, out), torch at the start (out, in, *kernel).
LAYOUT_SENSITIVE = ("VarianceScaling", "Glorot", "He", "Lecun", "Orthogonal", "Identity")


def for_torch_layout(source: str, rank: int | None) -> str:
    """An initializer for a variable kept in torch's layout (an ``nn.Parameter``), where the
    rule's ``source`` is written for a Keras kernel: wrapped in ``TorchLayout``, which draws in
    Keras's layout and transposes, so fans and orthogonality are torch's."""
    if not any(f"initializers.{name}" in source for name in LAYOUT_SENSITIVE):
        return source
    if rank is None:
        raise Unsupported("its shape is not known, which this initializer needs")
    if rank < 2:
        raise Unsupported(
            f"torch cannot apply this init to a {rank}-D tensor (it raises ValueError)"
        )
    if "Identity" in source and rank != 2:
        raise Unsupported("eye_ needs a 2-D tensor (torch raises ValueError)")
    return f"TorchLayout({source})"
