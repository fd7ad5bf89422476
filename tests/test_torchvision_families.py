"""More of torchvision's classifier families (issue 11), converted through the public API
from their installed source, checked per layer in eval and train mode at float32 atol 1e-5,
rtol 1e-4 on small inputs. A family that does not convert yet is a strict xfail naming its
first blocker.

torchvision is imported only through ``torchvision_loader`` (see ``test_torchvision.py``).
"""

from __future__ import annotations

import importlib
import re
from pathlib import Path

import pytest
import torch
from torchvision_loader import import_torchvision

import torch2tf
from torch2tf import TranslationError

torchvision = import_torchvision()
from torchvision.models import mobilenetv2, vgg  # noqa: E402

ATOL, RTOL = 1e-5, 1e-4


def sample(*shape: int) -> torch.Tensor:
    return torch.randn(*shape, generator=torch.Generator().manual_seed(0))


def _assert_verified(result, min_layers: int, deep: tuple[str, ...] = ()) -> None:
    """Every layer within the project's tolerance, but the ``deep`` containers in train mode:
    their check runs the whole depth from torch's input, float32 errors growing through each
    train-mode BatchNorm (float64 keeps them at 1e-12); those within 5e-4."""
    assert [c.mode for c in result.checks] == ["eval", "train"]
    for check in result.checks:
        failed = [
            layer.__dict__
            for layer in check.layers
            if not layer.passed
            and not (check.mode == "train" and layer.layer in deep and layer.max_abs_error < 5e-4)
        ]
        assert check.passed and not failed, (check.mode, failed)
        assert len(check.layers) >= min_layers  # every layer, inside blocks too
    assert result.passed


def test_sequential_subclasses_convert_and_verify(tmp_path: Path, monkeypatch) -> None:
    """The golden case sequential_subclass: nn.Sequential subclasses building their layers
    as a list, a subclass binding the conv class, a depthwise conv, ReLU6 passed as a class."""
    case = Path(__file__).parent / "cases" / "sequential_subclass.py"
    source = case.read_text(encoding="utf-8").partition("\n# output\n")[0]
    (tmp_path / "sequential_subclass_model.py").write_text(source, encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    module = importlib.import_module("sequential_subclass_model")
    torch.manual_seed(0)
    result = torch2tf.convert(module.Net(), inputs=sample(2, 3, 16, 16), atol=ATOL, rtol=RTOL)
    _assert_verified(result, 10)
    paths = [layer.layer for layer in result.checks[1].layers]
    assert {"features.1.0", "features.1.1", "features.1.2", "head.1"} <= set(paths)
    assert "class ConvNormAct(tf.keras.Sequential):" in result.source
    assert "super().__init__(layers)" in result.source


@pytest.fixture(scope="module")
def mobilenet_v2_source() -> str:
    return torch2tf.translate_file(Path(mobilenetv2.__file__), classes=["MobileNetV2"])


def test_mobilenet_v2_translates_to_readable_keras(mobilenet_v2_source: str) -> None:
    code = mobilenet_v2_source
    assert "class MobileNetV2(tf.keras.Model):" in code
    assert "class InvertedResidual(tf.keras.Model):" in code
    assert "from ..ops.misc import Conv2dNormActivation" in code  # translated beside it
    assert "ReLU(max_value=6.0)" in code
    assert "tf.transpose" not in code and "permute" not in code
    flat = re.sub(r"\s+", " ", code)
    assert "tf.keras.layers.Conv2D( oup, 1, use_bias=False," in flat  # the pw-linear conv
    # torch's init loop over Conv2d reaches the depthwise convs (Keras's DepthwiseConv2D) too
    assert "isinstance(m, (tf.keras.layers.Conv2D, tf.keras.layers.DepthwiseConv2D))" in code


@pytest.mark.slow  # about 90 s on 2 busy cores
def test_mobilenet_v2_from_its_factory_converts_and_verifies_per_layer() -> None:
    torch.manual_seed(0)
    with torch2tf.recording():
        model = mobilenetv2.mobilenet_v2(num_classes=10, width_mult=0.5)
    result = torch2tf.convert(model, inputs=sample(2, 3, 64, 64), atol=ATOL, rtol=RTOL)
    _assert_verified(result, 150, deep=("features",))
    paths = {layer.layer for layer in result.checks[0].layers}
    assert {"features.0.0", "features.2.conv.1.0", "features.18", "classifier.1"} <= paths
    misc = result.sources["torchvision/ops/misc.py"]
    assert "class ConvNormActivation(tf.keras.Sequential):" in misc
    assert "class Conv2dNormActivation(ConvNormActivation):" in misc
    # conv_layer(..., groups=groups): depthwise decided where the layer is made
    assert "tf.keras.layers.DepthwiseConv2D(" in misc and "if groups == in_channels" in misc
    layers = result.keras_model._flatten_layers(include_self=False, recursive=True)
    kinds = [type(layer).__name__ for layer in layers]
    assert kinds.count("DepthwiseConv2D") == 17  # one per inverted residual block
    convs = [layer for layer, kind in zip(layers, kinds, strict=True) if kind == "Conv2D"]
    assert len(convs) == 35 and {layer.groups for layer in convs} == {1}  # no grouped Conv2D


def test_vgg_translates_with_its_features_passed_in() -> None:
    """VGG's features come from make_layers through _vgg, outside the class: the module
    passed in takes the model's input, so both are maps where the avgpool needs one."""
    code = torch2tf.translate_file(Path(vgg.__file__), classes=["VGG"])
    assert "self.features = features" in code
    assert "tf.keras.layers.AdaptiveAveragePooling2D(7" in code
    assert "tf.transpose" not in code
    assert "def make_layers" not in code  # not reached from VGG: built live, then converted


@pytest.mark.slow  # a 100M-parameter classifier: about 3 minutes on 2 busy cores
def test_vgg11_bn_from_its_factory_converts_and_verifies_per_layer() -> None:
    torch.manual_seed(0)
    with torch2tf.recording():
        model = vgg.vgg11_bn(num_classes=10)
    result = torch2tf.convert(model, inputs=sample(2, 3, 32, 32), atol=ATOL, rtol=RTOL)
    _assert_verified(result, 35)
    paths = {layer.layer for layer in result.checks[1].layers}
    assert {"features.0", "features.1", "avgpool", "classifier.0"} <= paths
    # the first Linear reads torch's (C, 7, 7) flatten: its rows permuted to (7, 7, C)
    assert result.flattened_rows == {"classifier.0": 512}


# Families that do not translate yet, each with the first problem translate reports.
NOT_YET = {
    "squeezenet:SqueezeNet": "squeezenet.py:43: self.features is assigned in each branch of "
    "an if (the facts follow the last); then a layer held by a local name in a Sequential "
    "(:96) and `if m is final_conv` in the init loop (:87)",
    "shufflenetv2:ShuffleNetV2": "shufflenetv2.py:60: branch1 built only `if self.stride > 1` "
    "(nn.Sequential() otherwise) and called inside torch.cat; channel_shuffle, a module-level "
    "function, receives the map (:157)",
    "densenet:DenseNet": "densenet.py:36: _DenseLayer's layers applied in bn_function, a "
    "method taking a list of maps; torch.utils.checkpoint, torch.jit (:59-83); "
    "_DenseBlock(nn.ModuleDict) (:96); _Transition(nn.Sequential) assigns its layers as "
    "attributes (:127)",
    "mnasnet:MNASNet": "mnasnet.py:139: _stack returns nn.Sequential(first, *remaining), a "
    "layer and a starred list, whose layers the facts do not follow",
    "efficientnet:EfficientNet": "efficientnet.py:167: the map goes to StochasticDepth "
    "(ops/stochastic_depth.py, torch.jit.is_scripting at :26); SqueezeExcitation's scale "
    "(ops/misc.py:248)",
    "convnext:ConvNeXt": "convnext.py:31: LayerNorm2d derives from nn.LayerNorm; "
    "partial(nn.LayerNorm, eps=1e-6) in __init__ (:49)",
    "regnet:RegNet": "regnet.py:145: the block class is chosen at run time (self.f), "
    "add_module (:182)",
    "mobilenetv3:MobileNetV3": "mobilenetv3.py:155: partial(nn.BatchNorm2d, eps=0.001, "
    "momentum=0.01) written in __init__; SqueezeExcitation's scale (ops/misc.py:248)",
}


@pytest.mark.parametrize(
    "target",
    [
        pytest.param(t, marks=pytest.mark.xfail(strict=True, raises=TranslationError, reason=r))
        for t, r in NOT_YET.items()
    ],
)
def test_family_translates_from_installed_source(target: str) -> None:
    """When one passes, replace its xfail with a conversion test as for MobileNetV2."""
    module, _, cls = target.partition(":")
    path = Path(importlib.import_module(f"torchvision.models.{module}").__file__)
    torch2tf.translate_file(path, classes=[cls])
