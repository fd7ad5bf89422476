"""timm's models (issue 9, 11): the largest collection of torch CNNs people convert.

timm's model files import the whole ``timm.layers`` package, whose registries (activations,
norms, attention) reach some 60 layer files; ResNet-18 uses a handful. ``convert`` must report
only the problems in code the model uses, and convert once those are solved. Solved so far
(tests/test_timm_idioms.py): layers a conditional expression or a factory builds
(``drop_block() if ... else nn.Identity()``, ``create_aa``, ``create_attn``), a Sequential of
a starred list literal, checks of what torch provides (``'silu' in dir(F)``), ``torch._assert``
with its fallback, adaptive pooling of a size passed in, branches of other layouts decided by
the live model (``SelectAdaptivePool2d``), ``named_modules()`` init loops in ``__init__``,
``self.add_module(*stage)`` with ``self.layer1(x)``, ``nn.Sequential(*filter(None, [...]))``,
``nn.BatchNorm1d`` as a registry value (on (N, C) input only), ``self.init_weights(...)``
(a method __init__ calls with arguments, its ``named_modules()`` loops run on the Keras
layers), ``if hasattr(m, 'zero_init_last'): m.zero_init_last()`` in such a loop and the
block's ``zero_init_last`` itself (kept as methods; the layer of ``self.bn2 = norm_layer(c)``
told by the live model), the ``grad_checkpointing`` branch of ``forward_features`` with
``checkpoint_seq`` (never taken by the live model: a raise of its problem, listed as left
out), ``self.global_pool, self.fc = create_classifier(...)`` (the pool's class told by the
live model), ``nn.AdaptiveAvgPool2d(output_size)`` flattened (the size the live model's pools
were built with: 1, so the flatten keeps torch's order), an unused ``from .trace_utils import
_assert`` (a torch name that file's translation drops), and layers used as values built with
``**dd`` (``device=None, dtype=None``). Functions the model's construction runs
(``make_blocks``, ``downsample_conv``) count as used code (a construction is profiled again),
so their problems are reported, not stubbed. What remains (timm 1.0.22):

- models/resnet.py:292:9 ``nn.Conv2d`` in ``downsample_conv``, a function ``make_blocks``
  calls, whose ``nn.Sequential`` reaches ``BasicBlock`` as its ``downsample=`` argument
  (``block_fn(...)``, a class from a list): the tensor facts do not follow it there, so they
  cannot place the conv's channels-last maps.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torchvision_loader import import_torchvision

import torch2tf

import_torchvision()  # timm's data package imports torchvision
timm = pytest.importorskip("timm")

# The files whose code timm's resnet18 runs (construction or forward), inside timm.
RESNET18_FILES = {
    "models/resnet.py",
    "layers/create_act.py",
    "layers/create_norm.py",
    "layers/adaptive_avgmax_pool.py",
    "layers/classifier.py",
    "layers/fast_norm.py",
    "layers/trace_utils.py",
}

# What still stops resnet18 (timm 1.0.22): see the module docstring.
REMAINING = {("models/resnet.py", 292)}


def _resnet18() -> tuple[torch.nn.Module, torch.Tensor]:
    torch.manual_seed(0)
    with torch2tf.recording():
        model = timm.create_model("resnet18", pretrained=False, num_classes=10)
    return model.eval(), torch.randn(2, 3, 64, 64, generator=torch.Generator().manual_seed(0))


def test_resnet18_problems_are_only_in_code_it_uses() -> None:
    """Of the problems in the files resnet18 reaches, convert names only those in code it
    uses (none from the unused layer files: evo_norm.py alone holds 69): 1 now, 32 at first
    (the module docstring lists them); once those are solved, it converts and verifies."""
    model, sample = _resnet18()
    root = Path(timm.__file__).parent
    try:
        result = torch2tf.convert(model, inputs=sample)
    except torch2tf.TranslationError as error:
        files = {Path(d.path).relative_to(root).as_posix() for d in error.diagnostics}
        assert files <= RESNET18_FILES, files - RESNET18_FILES
        assert "models/resnet.py" in files
        where = {(Path(d.path).relative_to(root).as_posix(), d.line) for d in error.diagnostics}
        if timm.__version__ == "1.0.22":  # the positions the module docstring lists
            assert where == REMAINING, sorted(where ^ REMAINING)
    else:
        assert result.passed, result.table()
