"""Rules: one per torch name, keyed by its qualified name (see :mod:`torch2tf.rules.registry`).

Importing this package registers every rule: the registry is complete once it is imported,
with nothing else to call. Rule modules import the registry, never this package, so the
imports stay acyclic.
"""

from __future__ import annotations

from torch2tf.rules import (  # noqa: F401 - imported for the rules they register
    activation_functions,
    activations,
    attention,
    containers,
    conv,
    creation,
    data,
    devices,
    einops_forms,
    elementwise,
    functional,
    functional_conv,
    functional_pooling,
    init,
    layers,
    losses,
    normalization,
    optimizers,
    pooling,
    recurrent,
    reductions,
    resampling,
    scripting,
    shapes,
    tensor,
    training,
    transformer,
    weight_norm,
)
from torch2tf.rules.registry import (
    FUNCTIONS,
    INITIALIZERS,
    LAYERS,
    METHODS,
    Arg,
    LayerRule,
    Unsupported,
    bind,
    class_reference,
    const,
    function,
    initializer,
    keras_call,
    layer,
    method,
    src,
)

__all__ = [
    "Arg",
    "Unsupported",
    "const",
    "src",
    "keras_call",
    "LayerRule",
    "class_reference",
    "LAYERS",
    "layer",
    "bind",
    "FUNCTIONS",
    "INITIALIZERS",
    "METHODS",
    "method",
    "function",
    "initializer",
]
