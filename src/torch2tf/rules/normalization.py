"""torch.nn normalisation layers -> Keras layers, each with its weight mapping.

BatchNorm1d lives in ``layers.py``. Both frameworks use the biased variance here, so with torch's
epsilon the built-in Keras layers are exact; only the defaults differ (Keras epsilon 1e-3/1e-6).
"""

from __future__ import annotations

from typing import Any

from torch2tf.rules.layers import BatchNorm1d, _array, _no_dtype
from torch2tf.rules.registry import (
    LayerRule,
    Unsupported,
    const,
    function,
    keras_call,
    layer,
    src,
)


def _axis(normalized_shape: Any, name: str) -> str | None:
    """Keras ``axis`` source for torch's trailing ``normalized_shape`` (None: the default -1)."""
    shape = const(normalized_shape, None)
    if isinstance(shape, int):
        return None
    if isinstance(shape, (tuple, list)) and all(isinstance(n, int) for n in shape):
        if not shape:
            raise Unsupported(f"{name} with an empty normalized_shape is not translated")
        return None if len(shape) == 1 else repr(list(range(-len(shape), 0)))
    # A name or an expression: an int or a sequence, known only when the code runs.
    return f"torch_normalized_axes({src(normalized_shape)})"


def _flag(value: Any, what: str) -> bool:
    flag = const(value, None)
    if not isinstance(flag, bool):
        raise Unsupported(f"{what} must be a literal True or False")
    return flag


@layer
class LayerNorm(LayerRule):
    """nn.LayerNorm -> LayerNormalization over the trailing axes, epsilon 1e-5 (Keras's: 1e-3)."""

    torch = "torch.nn.LayerNorm"
    examples = (("nn.LayerNorm(16)", "tf.keras.layers.LayerNormalization(epsilon=1e-05)"),)

    def rank_sensitive(self, arguments):
        return not isinstance(const(arguments["normalized_shape"], None), int)

    initializers = {"weight": "gamma_initializer", "bias": "beta_initializer"}

    def keras(
        self,
        normalized_shape,
        eps=1e-5,
        elementwise_affine=True,
        bias=True,
        device=None,
        dtype=None,
    ):
        _no_dtype(dtype)
        affine = _flag(elementwise_affine, "LayerNorm elementwise_affine=")
        with_bias = _flag(bias, "LayerNorm bias=") and affine
        return keras_call(
            "tf.keras.layers.LayerNormalization",
            axis=_axis(normalized_shape, "LayerNorm"),
            epsilon=src(eps),
            center=None if with_bias else "False",
            scale=None if affine else "False",
            gamma_initializer=self.initializer("weight", None) if affine else None,
            beta_initializer=self.initializer("bias", None) if with_bias else None,
        )

    @staticmethod
    def weights(module):
        return [_array(t) for t in (module.weight, module.bias) if t is not None]


@layer
class RMSNorm(LayerRule):
    """nn.RMSNorm -> RMSNormalization; TorchRMSNorm for eps=None (dtype's epsilon) or no weight."""

    torch = "torch.nn.RMSNorm"
    examples = (("nn.RMSNorm(16)", "TorchRMSNorm()"),)

    def rank_sensitive(self, arguments):
        return not isinstance(const(arguments["normalized_shape"], None), int)

    def keras(self, normalized_shape, eps=None, elementwise_affine=True, device=None, dtype=None):
        _no_dtype(dtype)
        affine = _flag(elementwise_affine, "RMSNorm elementwise_affine=")
        axis = _axis(normalized_shape, "RMSNorm")
        if affine and isinstance(const(eps, None), (int, float)):
            return keras_call("tf.keras.layers.RMSNormalization", axis=axis, epsilon=src(eps))
        return keras_call(
            "TorchRMSNorm",
            axis=axis,
            epsilon=None if src(eps) == "None" else src(eps),
            scale=None if affine else "False",
        )

    @staticmethod
    def weights(module):
        return [] if module.weight is None else [_array(module.weight)]


@layer
class BatchNorm2d(BatchNorm1d):
    """nn.BatchNorm2d -> TorchBatchNorm on NHWC: axis -1, momentum 1-m, eps 1e-5, unbiased var."""

    torch = "torch.nn.BatchNorm2d"
    examples = (("nn.BatchNorm2d(16)", "TorchBatchNorm(axis=-1, momentum=0.9, epsilon=1e-05)"),)

    def __init__(self, init_overrides=None, channels_last=True):
        super().__init__(init_overrides, channels_last=True)

    def fed_features(self, arguments):
        return None  # a map's channels: never built on 2-D input


@layer
class BatchNorm3d(BatchNorm2d):
    """nn.BatchNorm3d -> TorchBatchNorm on NDHWC: axis -1, momentum 1-m, eps 1e-5, unbiased var."""

    torch = "torch.nn.BatchNorm3d"
    examples = (("nn.BatchNorm3d(16)", "TorchBatchNorm(axis=-1, momentum=0.9, epsilon=1e-05)"),)


@layer
class GroupNorm(LayerRule):
    """nn.GroupNorm -> GroupNormalization(groups, epsilon=1e-5), axis -1 on a channels-last map."""

    torch = "torch.nn.GroupNorm"
    examples = (
        ("nn.GroupNorm(4, 16)", "tf.keras.layers.GroupNormalization(4, axis=1, epsilon=1e-05)"),
    )
    initializers = {"weight": "gamma_initializer", "bias": "beta_initializer"}

    def rank_sensitive(self, arguments):
        return True

    def keras(self, num_groups, num_channels, eps=1e-5, affine=True, device=None, dtype=None):
        _no_dtype(dtype)
        is_affine = _flag(affine, "GroupNorm affine=")
        return keras_call(
            "tf.keras.layers.GroupNormalization",
            src(num_groups),
            axis=None if self.channels_last else "1",  # torch's (N, C, *) when not a map
            epsilon=src(eps),
            center=None if is_affine else "False",
            scale=None if is_affine else "False",
            gamma_initializer=self.initializer("weight", None) if is_affine else None,
            beta_initializer=self.initializer("bias", None) if is_affine else None,
        )

    @staticmethod
    def weights(module):
        return [_array(module.weight), _array(module.bias)] if module.affine else []


class _InstanceNorm(LayerRule):
    dims: int
    initializers = {"weight": "gamma_initializer", "bias": "beta_initializer"}

    def rank_sensitive(self, arguments):
        return True

    def keras(
        self,
        num_features,
        eps=1e-5,
        momentum=0.1,
        affine=False,
        track_running_stats=False,
        device=None,
        dtype=None,
    ):
        _no_dtype(dtype)
        name = f"InstanceNorm{self.dims}d"
        if _flag(track_running_stats, f"{name} track_running_stats="):
            raise Unsupported(
                f"{name}(track_running_stats=True) is not translated yet",
                "Keras has no layer switching from instance to running statistics in eval",
            )
        # affine=<a name>: Keras's center and scale take it as torch does when it runs
        is_affine = True if const(affine, None) is None else _flag(affine, f"{name} affine=")
        flag = None if const(affine, None) is True else src(affine) if is_affine else "False"
        # groups=-1: one group per channel, statistics over the spatial axes of each sample
        return keras_call(
            "tf.keras.layers.GroupNormalization",
            "-1",
            epsilon=src(eps),
            center=flag,
            scale=flag,
            gamma_initializer=self.initializer("weight", None) if is_affine else None,
            beta_initializer=self.initializer("bias", None) if is_affine else None,
        )

    @staticmethod
    def weights(module):
        return [_array(module.weight), _array(module.bias)] if module.affine else []


@layer
class InstanceNorm1d(_InstanceNorm):
    """nn.InstanceNorm1d -> GroupNormalization(-1, epsilon=1e-5) on (N, L, C); affine optional."""

    torch = "torch.nn.InstanceNorm1d"
    examples = (
        (
            "nn.InstanceNorm1d(16, affine=True)",
            "tf.keras.layers.GroupNormalization(-1, epsilon=1e-05)",
        ),
    )
    dims = 1


@layer
class InstanceNorm2d(_InstanceNorm):
    """nn.InstanceNorm2d -> GroupNormalization(-1, epsilon=1e-5) on NHWC; affine optional."""

    torch = "torch.nn.InstanceNorm2d"
    examples = (
        (
            "nn.InstanceNorm2d(16)",
            "tf.keras.layers.GroupNormalization(-1, epsilon=1e-05, center=False, scale=False)",
        ),
    )
    dims = 2


@layer
class LocalResponseNorm(LayerRule):
    """nn.LocalResponseNorm -> TorchLocalResponseNorm on a channels-last map (torch's window)."""

    torch = "torch.nn.LocalResponseNorm"
    examples = (
        ("nn.LocalResponseNorm(5)", "TorchLocalResponseNorm(5)"),
        (
            "nn.LocalResponseNorm(4, alpha=1e-3, beta=0.5, k=2.0)",
            "TorchLocalResponseNorm(4, alpha=1e-3, beta=0.5, k=2.0)",
        ),
    )

    def keras(self, size, alpha=1e-4, beta=0.75, k=1.0):
        count, given = _response_norm(size, alpha, beta, k)
        return keras_call("TorchLocalResponseNorm", count, **given)


def _response_norm(size, alpha, beta, k) -> tuple[str, dict[str, str | None]]:
    """The size and the keyword arguments (torch's defaults left out) of the helpers."""
    count = const(size, None)
    if count is not None and (not isinstance(count, int) or count < 1):
        raise Unsupported("LocalResponseNorm size must be a positive int")
    defaults = {"alpha": (alpha, 1e-4), "beta": (beta, 0.75), "k": (k, 1.0)}
    return src(size), {n: None if const(v, None) == d else src(v) for n, (v, d) in defaults.items()}


@function(
    "torch.nn.functional.local_response_norm",
    examples=(("F.local_response_norm(x, 5)", "torch_local_response_norm(x, 5)"),),
)
def local_response_norm(input, size, alpha=1e-4, beta=0.75, k=1.0, *, _channels_last=False):
    """torch_local_response_norm helper on a channels-last map (torch's window over channels)."""
    if not _channels_last:
        raise Unsupported(
            "F.local_response_norm is translated only on a feature map the tensor facts follow",
            "torch normalises over axis 1, Keras's channels are the last axis",
        )
    count, given = _response_norm(size, alpha, beta, k)
    return keras_call("torch_local_response_norm", src(input), count, **given)


@function(
    "torch.nn.functional.batch_norm",
    examples=(
        ("F.batch_norm(x, mean, var)", "torch_batch_norm(x, mean, var, axis=-1)"),  # x: a map
        (
            "F.batch_norm(x, m, v, w, b, self.training, 0.01, 1e-3)",
            "torch_batch_norm(x, m, v, w, b, training=training, momentum=0.01, eps=0.001, axis=-1)",
        ),
    ),
)
def batch_norm(
    input,
    running_mean,
    running_var,
    weight=None,
    bias=None,
    training=False,
    momentum=0.1,
    eps=1e-5,
    *,
    _channels_last=False,
):
    """torch_batch_norm helper: channels a map's last axis, else torch's 1; exact running stats.

    Batch statistics in training (the running ones updated in place with the unbiased
    variance) or without running ones; the tensor facts mark channels-last maps."""
    if const(momentum, 0.1) is None:
        raise Unsupported("F.batch_norm(momentum=None) is not translated", "pass a number")
    weights = [src(w) for w in (weight, bias)]
    while weights and weights[-1] == "None":
        weights.pop()
    return keras_call(
        "torch_batch_norm",
        src(input),
        src(running_mean),
        src(running_var),
        *weights,
        training=None if const(training, None) is False else src(training),
        momentum=None if const(momentum, None) == 0.1 else src(momentum),
        eps=None if const(eps, None) == 1e-5 else src(eps),
        axis="-1" if _channels_last else None,
    )
