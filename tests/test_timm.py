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
``**dd`` (``device=None, dtype=None``, also as ``device=device, dtype=dtype``). Functions the
model's construction runs (``make_blocks``, ``downsample_conv``) count as used code (a
construction is profiled again), and the layers they build (the ``downsample`` Sequential a
block receives) are taken on channels-last maps where the tensor facts cannot follow them,
checked layer by layer. ``resnet18`` now converts and verifies, every layer in eval and train
mode; its ``init_weights``/``zero_init_last`` init is torch's. So does ``resnet50``.

``efficientnet_b0`` does not convert yet (timm 1.0.22; EFFICIENTNET_B0 below). Solved for
it: its norm layers, ``BatchNormAct2d`` (layers/norm_act.py), a subclass of ``nn.BatchNorm2d``
whose forward calls ``F.batch_norm`` (tests/test_batch_norm_subclass.py), with ``_assert``
imported from trace_utils and called; a block's ``self.conv_s2d(x)`` under ``if
self.conv_s2d is not None`` (None in the live model: it decides no layout); squeeze-excitation
on ``x.mean((2, 3), keepdim=True)``; ``nn.BatchNorm2d`` recorded as ``norm_layer`` and given
to ``get_norm_act_layer`` (a class named as torch's, so the lookup by ``__name__`` finds
``BatchNormAct2d``); block arguments the constructor changes (``ba.pop('block_type')``, the
recorded arguments are those passed). What stops it is ``_init_weight_goog``, the init
function ``efficientnet_init_weights`` applies to every module through ``init_fn``: its
``nn.init`` calls are not translated there. (With that function patched out, the next stop
is ``feature_info``, which the builder calls at construction: it reads
``self.conv_pw.out_channels`` off the Keras ``Conv2D``, which has no such attribute.)
"""

from __future__ import annotations

import types
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf
import torch
from torchvision_loader import import_torchvision

import torch2tf
from torch2tf.constructor_records import constructor_arguments
from torch2tf.live_tree import keras_argument
from torch2tf.weights import keras_layer_at

import_torchvision()  # timm's data package imports torchvision
timm = pytest.importorskip("timm")

BLOCKS = [f"layer{stage}.{index}" for stage in (1, 2, 3, 4) for index in (0, 1)]


def _resnet18(dtype: torch.dtype = torch.float32, **kwargs) -> tuple[torch.nn.Module, tuple]:
    torch.manual_seed(0)
    with torch2tf.recording():
        model = timm.create_model("resnet18", pretrained=False, num_classes=10, **kwargs)
    sample = torch.randn(2, 3, 64, 64, generator=torch.Generator().manual_seed(0))
    return model.eval().to(dtype), (sample.to(dtype),)


@pytest.fixture(scope="module")
def resnet18_conversion():
    model, inputs = _resnet18()
    return model, torch2tf.convert(model, inputs=inputs)


def test_resnet18_converts_and_verifies_every_layer_in_eval_and_train(resnet18_conversion):
    """timm's resnet18 (num_classes=10) built under ``recording()``, converted from its
    installed source: every layer within 1e-5 abs + 1e-4 rel of torch in eval and train
    mode, and the untaken ``grad_checkpointing`` branch listed as left out."""
    model, conversion = resnet18_conversion
    assert conversion.passed, conversion.table()
    assert [c.mode for c in conversion.checks] == ["eval", "train"]
    for check in conversion.checks:
        failed = [layer.layer for layer in check.layers if not layer.passed]
        assert not failed, conversion.table()
        paths = {layer.layer for layer in check.layers}
        assert {f"{b}.downsample" for b in BLOCKS if b.endswith(".0") and b != "layer1.0"} <= paths
    assert any(item["kind"] == "branch" for item in conversion.left_out)
    assert "self.init_weights(zero_init_last=zero_init_last)" in conversion.source


def _fresh_keras(conversion, model, **changes):
    """The Keras twin built anew (its own init) with the model's recorded arguments."""
    args, kwargs = constructor_arguments(model, None, None)
    generated = types.SimpleNamespace(**type(conversion.keras_model).__init__.__globals__)
    args = [keras_argument(a, generated, "") for a in args]
    kwargs = {k: keras_argument(v, generated, k) for k, v in {**kwargs, **changes}.items()}
    tf.keras.utils.set_random_seed(1)
    fresh = type(conversion.keras_model)(*args, **kwargs)
    fresh(tf.zeros((1, 64, 64, 3)))
    return fresh


@pytest.mark.parametrize("zero", [True, False])
def test_resnet18_init_is_torch_s(resnet18_conversion, zero):
    """``init_weights(zero_init_last=...)``: every block's last BatchNorm gamma is zero after
    construction when asked (ones otherwise), as in torch; every conv kernel is drawn from
    kaiming_normal_(mode="fan_out", nonlinearity="relu"), std sqrt(2 / fan_out) (seeded)."""
    model, conversion = resnet18_conversion
    torch_model, _ = _resnet18(zero_init_last=zero)
    fresh = _fresh_keras(conversion, model, zero_init_last=zero)
    for block in BLOCKS:
        ours = keras_layer_at(fresh, f"{block}.bn2").gamma.numpy()
        theirs = torch_model.get_submodule(f"{block}.bn2").weight.detach().numpy()
        np.testing.assert_array_equal(ours, np.zeros_like(ours) if zero else np.ones_like(ours))
        np.testing.assert_array_equal(ours, theirs)
    for path in ("conv1", "layer1.0.conv1", "layer3.1.conv2", "layer4.0.downsample.0"):
        kernel = keras_layer_at(fresh, path)
        kernel = kernel.layers[-1] if isinstance(kernel, tf.keras.Sequential) else kernel
        kernel = kernel.kernel.numpy()
        fan_out = kernel.shape[-1] * kernel.shape[0] * kernel.shape[1]
        torch_std = torch_model.get_submodule(path).weight.std().item()
        expected = (2.0 / fan_out) ** 0.5
        assert abs(kernel.std() / expected - 1) < 0.1, path  # torch's default: 0.4-0.6
        assert abs(torch_std / expected - 1) < 0.1, path


@pytest.mark.slow  # about a minute: a second conversion
def test_resnet18_in_float64_matches_torch_closely():
    """The same conversion in float64: the whole model within 1e-10 of torch."""
    model, inputs = _resnet18(torch.float64)
    conversion = torch2tf.convert(model, inputs=inputs, atol=1e-10, rtol=1e-10)
    assert conversion.passed, conversion.table()


@pytest.mark.slow  # about a minute and a half
def test_resnet50_converts_and_verifies_every_layer():
    """timm's resnet50 (Bottleneck blocks, the same idioms): every layer within 1e-5 abs +
    1e-4 rel in eval and train mode."""
    torch.manual_seed(0)
    with torch2tf.recording():
        model = timm.create_model("resnet50", pretrained=False, num_classes=10)
    sample = torch.randn(2, 3, 64, 64, generator=torch.Generator().manual_seed(0))
    conversion = torch2tf.convert(model.eval(), inputs=sample)
    assert conversion.passed, conversion.table()
    for check in conversion.checks:
        assert all(layer.passed for layer in check.layers), conversion.table()


# What stops efficientnet_b0 (timm 1.0.22), by (file under timm/, line, column): the
# nn.init calls of _init_weight_goog, which efficientnet_init_weights calls on every module
# through ``init_fn`` (a function of another file, not an init loop the engine reads).
EFFICIENTNET_B0 = {
    ("models/_efficientnet_builder.py", 557, 9),  # normal_ of a Conv2d's weight
    ("models/_efficientnet_builder.py", 559, 13),  # zeros_ of its bias
    ("models/_efficientnet_builder.py", 561, 9),  # ones_ of a BatchNorm2d's weight
    ("models/_efficientnet_builder.py", 562, 9),  # zeros_ of its bias
    ("models/_efficientnet_builder.py", 569, 9),  # uniform_ of a Linear's weight
    ("models/_efficientnet_builder.py", 570, 9),  # zeros_ of its bias
}


@pytest.mark.slow  # about 30 s
def test_efficientnet_b0_problems_are_listed():
    """timm's efficientnet_b0 does not convert yet: its BatchNormAct2d layers, blocks and
    squeeze-excitation translate, but not the init function every module is passed to. Only
    these problems are reported."""
    torch.manual_seed(0)
    with torch2tf.recording():
        model = timm.create_model("efficientnet_b0", pretrained=False, num_classes=10)
    sample = torch.randn(2, 3, 64, 64, generator=torch.Generator().manual_seed(0))
    with pytest.raises(torch2tf.TranslationError) as err:
        torch2tf.convert(model.eval(), inputs=sample)
    root = Path(timm.__file__).parent
    found = {
        (Path(d.path).relative_to(root).as_posix(), d.line, d.column) for d in err.value.diagnostics
    }
    if timm.__version__ == "1.0.22":
        assert found == EFFICIENTNET_B0, sorted(found ^ EFFICIENTNET_B0)
    else:
        assert found
