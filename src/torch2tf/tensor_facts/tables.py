"""The torch layers, functions and methods the tensor facts follow onto feature maps."""

from __future__ import annotations

# Layers whose input must be a channels-last map of this rank; they keep it one.
_MAP_LAYERS = {
    **{f"torch.nn.{n}1d": 3 for n in ("MaxPool", "AvgPool", "AdaptiveAvgPool", "Dropout")},
    **{f"torch.nn.{n}1d": 3 for n in ("AdaptiveMaxPool",)},
    **{f"torch.nn.{n}2d": 4 for n in ("MaxPool", "AvgPool", "AdaptiveAvgPool", "Dropout")},
    **{f"torch.nn.{n}2d": 4 for n in ("AdaptiveMaxPool", "BatchNorm", "InstanceNorm")},
    "torch.nn.InstanceNorm1d": 3,
    **{f"torch.nn.{n}3d": 5 for n in ("MaxPool", "AvgPool", "AdaptiveAvgPool", "Dropout")},
    **{f"torch.nn.{n}3d": 5 for n in ("AdaptiveMaxPool", "BatchNorm")},
    **{f"torch.nn.{n}2d": 4 for n in ("UpsamplingNearest", "UpsamplingBilinear")},
    **{f"torch.nn.Pixel{n}": 4 for n in ("Shuffle", "Unshuffle")},
    **{f"torch.nn.{n}Pad1d": 3 for n in ("Zero", "Constant", "Reflection", "Replication")},
    **{f"torch.nn.{n}Pad2d": 4 for n in ("Zero", "Constant", "Reflection", "Replication")},
    "torch.nn.CircularPad1d": 3,
    "torch.nn.CircularPad2d": 4,
    "torch.nn.Upsample": None,  # a map of rank 3 or 4
    "torch.nn.LocalResponseNorm": None,  # a map of any rank
}
_CONVS = {"torch.nn.Conv1d": 3, "torch.nn.Conv2d": 4, "torch.nn.Conv3d": 5}
_CONVS.update({"torch.nn.ConvTranspose1d": 3, "torch.nn.ConvTranspose2d": 4})
CHANNELS_LAST_LAYERS = frozenset(_MAP_LAYERS) | frozenset(_CONVS)
"""Layers that exist only on channels-last maps: the pass must have followed each one."""
_ELEMENTWISE_LAYERS = {
    f"torch.nn.{n}"
    for n in (
        "ReLU ReLU6 LeakyReLU ELU CELU SELU GELU SiLU Mish Sigmoid Tanh Hardtanh Hardswish "
        "Hardsigmoid Softplus Softsign Tanhshrink Softshrink Hardshrink Threshold LogSigmoid "
        "Dropout AlphaDropout Identity"
    ).split()
}
_F = "torch.nn.functional."
_ELEMENTWISE_FUNCTIONS = {
    *(
        _F + n
        for n in (
            "relu relu6 leaky_relu elu celu selu gelu silu mish sigmoid tanh softplus softsign "
            "hardtanh hardswish hardsigmoid logsigmoid tanhshrink softshrink hardshrink "
            "threshold dropout"
        ).split()
    ),
    *(
        f"torch.{n}"
        for n in (
            "relu sigmoid tanh exp log log1p sqrt rsqrt abs neg negative sign square clamp clip pow"
        ).split()
    ),
}
_ELEMENTWISE_METHODS = set(
    (
        "relu sigmoid tanh exp log log1p sqrt rsqrt abs neg negative sign square clamp clip pow "
        "contiguous clone detach float double half to type_as"
    ).split()
)
# torch.nn.functional forms that need a map of this rank (None: 3, 4 or 5); their rules
# translate only calls the pass marks ``_channels_last=True``.
MAP_FUNCTIONS = {
    **{f"{_F}{n}1d": 3 for n in ("max_pool", "avg_pool", "adaptive_avg_pool", "dropout")},
    **{f"{_F}{n}2d": 4 for n in ("max_pool", "avg_pool", "adaptive_avg_pool", "dropout")},
    f"{_F}adaptive_max_pool1d": 3,
    f"{_F}adaptive_max_pool2d": 4,
    **{f"{_F}{n}3d": 5 for n in ("max_pool", "avg_pool", "adaptive_avg_pool", "dropout")},
    f"{_F}adaptive_max_pool3d": 5,
    f"{_F}interpolate": None,
    f"{_F}upsample": None,
    f"{_F}pad": None,
    f"{_F}local_response_norm": None,
    f"{_F}batch_norm": None,  # also on a plain tensor: torch's axes, its channels at 1
    **{f"{_F}conv{d}d": d + 2 for d in (1, 2, 3)},
}
# The torch BatchNorm layers a project class may derive from: the rank of the map it takes.
BATCH_NORM_RANKS = {"torch.nn.BatchNorm2d": 4, "torch.nn.BatchNorm3d": 5}
# (qualified function or Tensor.method) -> (dim parameter, its positional index as written)
_SOFTMAX = {
    _F + "softmax": ("dim", 1),
    _F + "log_softmax": ("dim", 1),
    "torch.softmax": ("dim", 1),
    "torch.log_softmax": ("dim", 1),
    "Tensor.softmax": ("dim", 0),
    "Tensor.log_softmax": ("dim", 0),
}
_REDUCTIONS = {
    **{f"torch.{n}": ("dim", 1) for n in ("sum", "mean", "amax", "amin")},
    **{f"Tensor.{n}": ("dim", 0) for n in ("sum", "mean", "amax", "amin")},
}
