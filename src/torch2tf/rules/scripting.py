"""TorchScript and activation checkpointing: annotations for torch's compilers and a memory
saving, none of which changes what a module computes.

``torch.jit.is_scripting()``/``is_tracing()`` are ``False`` in eager code, which is what a Keras
model runs (``tf.function`` traces Python, it does not script it). Checkpointing recomputes a
function's activations in the backward pass instead of keeping them; calling the function
directly gives the same values and the same gradients (torch even restores the random state
for the recomputation), at the memory cost the checkpoint saved. The decorators
``@torch.jit.unused``/``ignore``/``export`` are dropped and ``@torch.jit._overload_method``
declarations removed by the engine (``translation/structure.py``).
"""

from __future__ import annotations

from torch2tf.rules.registry import Unsupported, function, src


@function(
    "torch.jit.is_scripting",
    "torch.jit.is_tracing",
    examples=(("scripted = torch.jit.is_scripting()", "scripted = False"),),
)
def is_scripting():
    """torch.jit.is_scripting() -> False: the Keras model runs the Python code itself."""
    return "False"


@function(
    "torch.utils.checkpoint.checkpoint",
    examples=(
        (
            "y = torch.utils.checkpoint.checkpoint(f, x, use_reentrant=False)",
            "y = f(x)",
        ),
    ),
)
def checkpoint(function, *args, use_reentrant=None, preserve_rng_state=True, **kwargs):
    """checkpoint(f, *args) -> f(*args): the same values and gradients, activations kept."""
    if kwargs:
        raise Unsupported(
            f"checkpoint's keyword arguments {', '.join(sorted(kwargs))} are not translated",
            "call the function directly",
        )
    return f"{src(function)}({', '.join(src(a) for a in args)})"


@function(
    "torch._assert",
    examples=(
        (
            "torch._assert(x.shape[1] == 8, 'eight features')",
            "tf.debugging.Assert(tf.keras.ops.shape(x)[1] == 8, ['eight features'])",
        ),
    ),
)
def torch_assert(condition, message):
    """torch._assert(c, m) (a traceable ``assert c, m``) -> tf.debugging.Assert(c, [m]): stops
    the same calls (with TensorFlow's InvalidArgumentError), in eager and graph code."""
    return f"tf.debugging.Assert({src(condition)}, [{src(message)}])"


@function(
    "torch.jit.isinstance",
    examples=(("ok = torch.jit.isinstance(x, torch.Tensor)", "ok = isinstance(x, tf.Tensor)"),),
)
def jit_isinstance(obj, target_type):
    """torch.jit.isinstance(obj, T) -> isinstance(obj, T): in eager code torch runs the same
    check (TorchScript also refines types by it); a subscripted type (``List[int]``) is
    refused, as isinstance refuses it."""
    if "[" in src(target_type):
        raise Unsupported(f"torch.jit.isinstance of {src(target_type)} is not translated")
    return f"isinstance({src(obj)}, {src(target_type)})"
