"""torch.nn.utils.weight_norm (both APIs) -> the TorchWeightNorm helper around the Keras layer.

torch replaces a layer's ``weight`` by ``g * v / ||v||`` (the norm over every dim but ``dim``;
``dim=None`` or ``-1``: the whole tensor), ``g`` and ``v`` trained, ``g`` starting at
``||v||``. The old API keeps them as ``weight_g``/``weight_v``, the parametrization API as
``parametrizations.weight.original0``/``original1``. The wrapped layer keeps its own kernel
variable as ``v``, so its initializer is v's; ``g`` is the wrapper's variable.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from torch2tf.rules.registry import (
    LayerRule,
    Unsupported,
    const,
    function,
    keras_call,
    src,
)

NAMES = (
    "torch.nn.utils.weight_norm",
    "torch.nn.utils.weight_norm.weight_norm",
    "torch.nn.utils.parametrizations.weight_norm",
)
"""The functions wrapping a layer: analyses read the layer they are given."""

# The wrapped layers (their kernel is v): the rules of these torch classes know its layout.
WRAPPABLE = frozenset({"torch.nn.Linear", "torch.nn.Conv1d", "torch.nn.Conv2d"})

_NOT_LITERAL = object()


@function(
    *NAMES,
    examples=(
        (
            "nn.utils.weight_norm(nn.Linear(8, 4))",
            "TorchWeightNorm(tf.keras.layers.Dense(4, kernel_initializer=torch_default_kernel(), "
            "bias_initializer=torch_default_bias(8)), dim=0)",
        ),
    ),
)
def weight_norm(module, name="weight", dim=0):
    """A layer's weight as g * v / ||v||: the TorchWeightNorm helper (Keras 3 has none)."""
    if const(name, None) != "weight":
        raise Unsupported(
            f"weight_norm(name={src(name)}) is not translated: only the layer's 'weight'"
        )
    value = const(dim, _NOT_LITERAL)
    if value is not None and not (isinstance(value, int) and not isinstance(value, bool)):
        raise Unsupported(f"weight_norm(dim={src(dim)}): dim must be a literal int or None")
    return keras_call("TorchWeightNorm", src(module), dim=repr(value))


def weight_normed(module: Any) -> tuple[Any, Any, str, str] | None:
    """(g, v, g's name, v's name) of a live module whose weight is weight-normalised."""
    hooks = getattr(module, "_forward_pre_hooks", {}).values()
    if any(type(h).__name__ == "WeightNorm" and h.name == "weight" for h in hooks):
        return module.weight_g, module.weight_v, "weight_g", "weight_v"
    parametrizations = getattr(module, "parametrizations", None)
    plist = getattr(parametrizations, "weight", None) if parametrizations is not None else None
    if plist is not None and len(plist) == 1 and type(plist[0]).__name__ == "_WeightNorm":
        prefix = "parametrizations.weight."
        return plist.original0, plist.original1, prefix + "original0", prefix + "original1"
    return None


def torch_class(module: Any) -> type:
    """The layer class under a parametrization's generated subclass (ParametrizedLinear)."""
    cls = type(module)
    if cls.__name__.startswith("Parametrized") and cls.__bases__:
        return cls.__bases__[0]
    return cls


class _Kernel:
    """The live module as its rule reads it, with ``weight`` replaced (by v, or by g)."""

    def __init__(self, module: Any, weight: Any) -> None:
        self._module, self.weight = module, weight

    def __getattr__(self, name: str) -> Any:
        return getattr(self._module, name)


@cache
def weight_norm_rule(inner: type[LayerRule]) -> type[LayerRule]:
    """The rule of a weight-normalised ``inner`` layer: its tensors v, bias and g, put in
    Keras's layout by ``inner`` (g transposed as the kernel is), onto the kernel, bias and g."""

    class WeightNormed(inner):  # type: ignore[valid-type, misc]
        __doc__ = f"weight_norm({inner.torch}) -> TorchWeightNorm around its Keras layer."
        examples = ()

        def keras(self, *args: Any, **kwargs: Any) -> str:
            return f"TorchWeightNorm({super().keras(*args, **kwargs)})"

        @staticmethod
        def tensor_names(module: Any) -> list[str]:
            _, _, g_name, v_name = weight_normed(module)
            bias = ["bias"] if getattr(module, "bias", None) is not None else []
            return [v_name, *bias, g_name]

        @staticmethod
        def weights(module: Any) -> list[Any]:
            g, v, _, _ = weight_normed(module)
            arrays = inner.weights(_Kernel(module, v.detach()))
            g = g.detach()
            if g.dim() == 0:
                return [*arrays, g.cpu().numpy()]
            return [*arrays, inner.weights(_Kernel(module, g))[0]]

        @staticmethod
        def keras_variables(layer: Any) -> list[Any]:
            return [*inner.keras_variables(layer.layer), layer.g]

    WeightNormed.__name__ = WeightNormed.__qualname__ = f"WeightNormed{inner.__name__}"
    return WeightNormed
