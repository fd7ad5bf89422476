"""Idioms of timm's EfficientNet blocks, each in a small model converted and checked per
layer in eval and train mode: a layer the live model never built (``self.conv_s2d = None``)
called under ``if self.conv_s2d is not None``, squeeze-excitation on ``x.mean((2, 3),
keepdim=True)``, a torch layer class recorded as a constructor argument and looked up by its
``__name__``, and constructor arguments the constructor changes (``ba.pop('block_type')``)."""

from __future__ import annotations

import torch
from layer_harness import HEADER, load_module
from test_cnn import images

import torch2tf
from torch2tf.constructor_records import constructor_arguments

BLOCKS = (
    HEADER
    + '''

def make_conv(cin, cout, k, stride=1):
    """A factory: which layer it builds, only the live model tells."""
    return nn.Conv2d(cin, cout, k, stride=stride, padding=k // 2)


class SqueezeExcite(nn.Module):
    def __init__(self, c, rd):
        super().__init__()
        self.conv_reduce = nn.Conv2d(c, rd, 1)
        self.act1 = nn.ReLU()
        self.conv_expand = nn.Conv2d(rd, c, 1)
        self.gate = nn.Sigmoid()

    def forward(self, x):
        x_se = x.mean((2, 3), keepdim=True)
        x_se = self.conv_reduce(x_se)
        x_se = self.act1(x_se)
        x_se = self.conv_expand(x_se)
        return x * self.gate(x_se)


class BatchNormAct2d(nn.BatchNorm2d):
    def __init__(self, num_features, eps=1e-5, momentum=0.1, apply_act=True):
        super().__init__(num_features, eps=eps, momentum=momentum)
        self.act = nn.SiLU() if apply_act else nn.Identity()

    def forward(self, x):
        x = F.batch_norm(x, self.running_mean, self.running_var, self.weight, self.bias,
                         self.training, self.momentum, self.eps)
        return self.act(x)


NORM_ACT = {"batchnorm2d": BatchNormAct2d}


def norm_act_of(norm_layer):
    """timm's get_norm_act_layer: the norm+act class of a norm class, by its name."""
    return NORM_ACT[norm_layer.__name__.lower()]


class Block(nn.Module):
    def __init__(self, c, norm_layer, s2d=0):
        super().__init__()
        norm_act = norm_act_of(norm_layer)
        if s2d == 1:
            self.conv_s2d = make_conv(c, c, 2, stride=2)
        else:
            self.conv_s2d = None
        self.conv_dw = make_conv(c, c, 3)
        self.bn1 = norm_act(c)
        self.se = SqueezeExcite(c, 2)
        self.bn2 = norm_act(c, apply_act=False)

    def forward(self, x):
        shortcut = x
        if self.conv_s2d is not None:
            x = self.conv_s2d(x)
        x = self.bn1(self.conv_dw(x))
        x = self.bn2(self.se(x))
        return x + shortcut


class Net(nn.Module):
    def __init__(self, blocks, norm_layer=None):
        super().__init__()
        norm_layer = norm_layer or nn.BatchNorm2d
        self.stem = nn.Conv2d(3, 8, 3, padding=1)
        self.bn = norm_layer(8)
        layers = []
        for args in blocks:
            kind = args.pop("kind")
            assert kind == "ds"
            layers.append(Block(8, norm_layer, **args))
        self.blocks = nn.Sequential(*layers)

    def forward(self, x):
        return self.blocks(self.bn(self.stem(x)))
'''
).replace("import torch.nn as nn\n", "import torch.nn as nn\nimport torch.nn.functional as F\n")


def test_efficientnet_style_blocks_convert_with_recorded_arguments(tmp_path):
    module = load_module(tmp_path, BLOCKS)
    torch.manual_seed(0)
    with torch2tf.recording():
        model = module.Net([{"kind": "ds"}, {"kind": "ds", "s2d": 0}], norm_layer=nn_bn())
    inputs = images(3, 8)
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.add_(torch.randn_like(parameter) * 0.3)
        model.train()
        model(inputs)
    conversion = torch2tf.convert(model.eval(), inputs=inputs)
    assert [c.mode for c in conversion.checks] == ["eval", "train"]
    assert conversion.passed, conversion.table()
    for check in conversion.checks:
        assert all(layer.passed for layer in check.layers), conversion.table()
        paths = {layer.layer for layer in check.layers}
        assert {"blocks.0.se", "blocks.1.bn1", "blocks.1.bn2", "bn"} <= paths
    code = conversion.source
    assert "x.mean" not in code and "transpose" not in code
    assert type(conversion.keras_model.blocks.layers[0].bn1).__name__ == "BatchNormAct2d"


def nn_bn():
    return torch.nn.BatchNorm2d


def test_recorded_arguments_stay_as_passed_when_a_constructor_changes_them(tmp_path):
    """The constructor pops from its dicts (timm's ``ba.pop('block_type')``): the recorded
    arguments are a copy taken when it was called, and each reading of them is a fresh copy,
    so constructing again (a second profiling, the Keras twin) finds them as passed."""
    module = load_module(tmp_path, BLOCKS)
    blocks = [{"kind": "ds"}, {"kind": "ds", "s2d": 0}]
    with torch2tf.recording():
        model = module.Net(blocks)
    assert blocks == [{}, {"s2d": 0}]  # torch's constructor changed the caller's dicts
    args, _ = constructor_arguments(model, None, None)
    assert args == [[{"kind": "ds"}, {"kind": "ds", "s2d": 0}]]
    module.Net(*args)  # pops from this copy ...
    again, _ = constructor_arguments(model, None, None)
    assert again == [[{"kind": "ds"}, {"kind": "ds", "s2d": 0}]]  # ... not from the record
