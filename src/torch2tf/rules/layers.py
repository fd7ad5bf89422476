"""torch.nn layers -> Keras layers, each with its weight mapping."""

from __future__ import annotations

import re
from typing import Any

from torch2tf.rules.registry import Arg, LayerRule, Unsupported, const, keras_call, layer, src


def _no_dtype(dtype: Any) -> None:
    if dtype is not None:
        raise Unsupported(
            "dtype= on a layer is not translated",
            "drop it; convert() gives the Keras model the torch model's dtype",
        )


def _array(tensor: Any) -> Any:
    return tensor.detach().cpu().numpy()


@layer
class Linear(LayerRule):
    """nn.Linear -> Dense with kernel = weight.T and torch's default U(+-1/sqrt(in)) init."""

    torch = "torch.nn.Linear"
    examples = (
        (
            "nn.Linear(8, 4)",
            (
                "tf.keras.layers.Dense(4, kernel_initializer=torch_default_kernel(), "
                "bias_initializer=torch_default_bias(8))"
            ),
        ),
        (
            "nn.Linear(8, 4, bias=False)",
            "tf.keras.layers.Dense(4, use_bias=False, kernel_initializer=torch_default_kernel())",
        ),
    )
    initializers = {"weight": "kernel_initializer", "bias": "bias_initializer"}

    def keras(self, in_features, out_features, bias=True, device=None, dtype=None):
        _no_dtype(dtype)
        with_bias = const(bias, None)
        units = src(out_features)
        if re.search(r"\b(np|numpy)\.", units):  # np.prod(shape): Keras wants a Python int
            units = f"int({units})"
        return keras_call(
            "tf.keras.layers.Dense",
            units,
            use_bias=None if with_bias is True else src(bias),
            kernel_initializer=self.initializer("weight", "torch_default_kernel()"),
            bias_initializer=None
            if with_bias is False
            else self.initializer("bias", f"torch_default_bias({src(in_features)})"),
        )

    def input_features(self, in_features, out_features, bias=True, device=None, dtype=None):
        return Arg(in_features) if isinstance(in_features, Arg) else Arg(repr(in_features))

    def output_features(self, arguments):
        return arguments["out_features"]

    @staticmethod
    def weights(module):
        kernel = [_array(module.weight).T]
        return kernel if module.bias is None else kernel + [_array(module.bias)]


@layer
class ReLU(LayerRule):
    """nn.ReLU -> ReLU (identical)."""

    torch = "torch.nn.ReLU"
    examples = (("nn.ReLU(inplace=True)", "tf.keras.layers.ReLU()"),)

    def keras(self, inplace=False):
        return "tf.keras.layers.ReLU()"


@layer
class Dropout(LayerRule):
    """nn.Dropout -> Dropout: both are inverted dropout (kept values scaled by 1/(1-p))."""

    torch = "torch.nn.Dropout"
    examples = (("nn.Dropout(0.1)", "tf.keras.layers.Dropout(0.1)"),)
    takes_training = True

    def keras(self, p=0.5, inplace=False):
        rate = const(p, None)
        if rate is not None and not 0 <= rate < 1:
            raise Unsupported(f"Dropout(p={rate}) is not translated: Keras needs 0 <= rate < 1")
        return keras_call("tf.keras.layers.Dropout", src(p))


@layer
class BatchNorm1d(LayerRule):
    """nn.BatchNorm1d -> TorchBatchNorm: momentum 1-m, eps 1e-5, axis 1 (-1 on (N, L, C))."""

    torch = "torch.nn.BatchNorm1d"
    flat_value = ("TorchBatchNorm", "TorchFlatBatchNorm")
    examples = (
        ("nn.BatchNorm1d(16)", "TorchBatchNorm(momentum=0.9, epsilon=1e-05)"),
        (
            "nn.BatchNorm1d(16, eps=1e-3, momentum=0.01)",
            "TorchBatchNorm(momentum=0.99, epsilon=0.001)",
        ),
    )
    takes_training = True

    def rank_sensitive(self, arguments):
        return True  # features on 2-D input, channels on 3-D: the engine checks which

    def fed_features(self, arguments):
        return arguments["num_features"]  # after Linear(.., n): features, whatever the rank

    initializers = {"weight": "gamma_initializer", "bias": "beta_initializer"}

    def input_features(self, num_features, *args, **kwargs):
        return Arg(num_features) if isinstance(num_features, Arg) else Arg(repr(num_features))

    def keras(
        self,
        num_features,
        eps=1e-5,
        momentum=0.1,
        affine=True,
        track_running_stats=True,
        device=None,
        dtype=None,
    ):
        _no_dtype(dtype)
        m = const(momentum, None)
        if m is None and src(momentum) == "None":
            raise Unsupported(
                "BatchNorm momentum=None (cumulative moving average) is not translated",
                "give a numeric momentum",
            )
        keras_momentum = (
            repr(round(1 - m, 12)) if isinstance(m, (int, float)) else f"1 - ({momentum})"
        )
        is_affine = const(affine, None)
        if is_affine is None:
            raise Unsupported("BatchNorm affine= must be a literal True or False")
        tracks = const(track_running_stats, None)
        if tracks is None:
            raise Unsupported("BatchNorm track_running_stats= must be a literal True or False")
        return keras_call(
            "TorchBatchNorm",
            axis="-1" if self.channels_last else None,
            momentum=keras_momentum,
            epsilon=src(eps),
            center=None if is_affine else "False",
            scale=None if is_affine else "False",
            track_running_stats=None if tracks else "False",
            gamma_initializer=self.initializer("weight", None) if is_affine else None,
            beta_initializer=self.initializer("bias", None) if is_affine else None,
        )

    @staticmethod
    def weights(module):
        affine = [_array(module.weight), _array(module.bias)] if module.affine else []
        if module.running_mean is None:  # track_running_stats=False: Keras still owns the stats
            import numpy as np

            size = module.num_features
            dtype = _array(module.weight).dtype if module.affine else np.float32
            return affine + [np.zeros(size, dtype), np.ones(size, dtype)]
        return affine + [_array(module.running_mean), _array(module.running_var)]


@layer
class Identity(LayerRule):
    """nn.Identity -> Identity (torch ignores the constructor's arguments, and so does this)."""

    torch = "torch.nn.Identity"
    examples = (("nn.Identity()", "tf.keras.layers.Identity()"),)

    def keras(self, *args, **kwargs):
        return "tf.keras.layers.Identity()"


@layer
class Flatten(LayerRule):
    """nn.Flatten -> Flatten for start_dim=1, end_dim=-1; TorchFlatten for any other axes."""

    torch = "torch.nn.Flatten"
    examples = (("nn.Flatten()", "tf.keras.layers.Flatten()"),)

    def rank_sensitive(self, arguments):
        return True

    def keras(self, start_dim=1, end_dim=-1):
        if const(start_dim, None) == 1 and const(end_dim, None) == -1:
            return "tf.keras.layers.Flatten()"
        return keras_call(
            "TorchFlatten",
            start_dim=None if const(start_dim, None) == 1 else src(start_dim),
            end_dim=None if const(end_dim, None) == -1 else src(end_dim),
        )


@layer
class Unflatten(LayerRule):
    """nn.Unflatten -> TorchUnflatten: Keras's Reshape would have to restate every other axis."""

    torch = "torch.nn.Unflatten"
    examples = (("nn.Unflatten(1, (2, 2))", "TorchUnflatten(1, (2, 2))"),)

    def rank_sensitive(self, arguments):
        return True

    def keras(self, dim, unflattened_size):
        sizes = const(unflattened_size, None)
        if isinstance(sizes, (tuple, list)) and not all(isinstance(s, int) for s in sizes):
            raise Unsupported(
                "Unflatten with a named shape is not translated", "give the sizes as integers"
            )
        return keras_call("TorchUnflatten", src(dim), src(unflattened_size))


@layer
class AlphaDropout(LayerRule):
    """nn.AlphaDropout -> AlphaDropout: the same SELU-preserving a*x + b correction."""

    torch = "torch.nn.AlphaDropout"
    examples = (("nn.AlphaDropout(0.1)", "tf.keras.layers.AlphaDropout(0.1)"),)
    takes_training = True

    def keras(self, p=0.5, inplace=False):
        rate = const(p, None)
        if rate is not None and not 0 <= rate < 1:
            raise Unsupported(
                f"AlphaDropout(p={rate}) is not translated: Keras needs 0 <= rate < 1"
            )
        return keras_call("tf.keras.layers.AlphaDropout", src(p))


@layer
class Embedding(LayerRule):
    """nn.Embedding -> Embedding with torch's N(0, 1) init; PaddedEmbedding for padding_idx."""

    torch = "torch.nn.Embedding"
    examples = (
        ("nn.Embedding(100, 16, padding_idx=0)", "PaddedEmbedding(100, 16, padding_idx=0)"),
    )
    initializers = {"weight": "embeddings_initializer"}
    swapped_fans = frozenset({"weight"})

    def keras(
        self,
        num_embeddings,
        embedding_dim,
        padding_idx=None,
        max_norm=None,
        norm_type=2.0,
        scale_grad_by_freq=False,
        sparse=False,
        _weight=None,
        _freeze=False,
        device=None,
        dtype=None,
    ):
        _no_dtype(dtype)
        if src(max_norm) != "None":
            raise Unsupported(
                "Embedding(max_norm=...) is not translated: torch renormalises the looked-up "
                "rows in place during forward, which no Keras layer does",
                "drop max_norm",
            )
        if const(scale_grad_by_freq, None) is not False:
            raise Unsupported(
                "Embedding(scale_grad_by_freq=...) is not translated: Keras does not scale "
                "gradients by word frequency"
            )
        if src(_weight) != "None" or const(_freeze, None) is not False:
            raise Unsupported(
                "Embedding(_weight=..., _freeze=...) is not translated",
                "build the layer plainly; convert() copies the weights",
            )
        if const(sparse, None) not in (True, False):
            raise Unsupported("Embedding sparse= must be a literal True or False")
        if src(padding_idx) == "None":
            return keras_call(
                "tf.keras.layers.Embedding",
                src(num_embeddings),
                src(embedding_dim),
                embeddings_initializer=self.initializer(
                    "weight", "tf.keras.initializers.RandomNormal(0.0, 1.0)"
                ),
            )
        return keras_call(
            "PaddedEmbedding",
            src(num_embeddings),
            src(embedding_dim),
            padding_idx=src(padding_idx),
            embeddings_initializer=self.initializer("weight", None),
        )

    @staticmethod
    def weights(module):
        return [_array(module.weight)]
