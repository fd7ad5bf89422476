"""MONAI's U-Nets (issue 11) and the idioms they use, on small models of our own: a registry
of layer classes with entries the model never builds, a layer class looked up in it and then
constructed, a Sequential subclass adding its layers in a loop over an ordering string, a
skip block built recursively by a method and concatenating along ``dim=self.dim``."""

from __future__ import annotations

import ast

import pytest
import torch
from layer_harness import HEADER, load_module

import torch2tf

REGISTRY = (
    HEADER
    + '''

class Registry:
    """A table of layer classes by (name, dims), looked up as registry[name, dims]."""

    def __init__(self):
        self.entries = {}

    def add(self, name, factory):
        self.entries[name] = factory

    def __getitem__(self, key):
        name, dims = key
        return self.entries[name](dims)


Layers = Registry()
Layers.add("conv", lambda dims: (nn.Conv1d, nn.Conv2d)[dims - 1])
Layers.add("up", lambda dims: (nn.ConvTranspose1d, nn.ConvTranspose2d)[dims - 1])
Layers.add("norm", lambda dims: (nn.BatchNorm1d, nn.BatchNorm2d)[dims - 1])
Layers.add("sync", lambda dims: nn.SyncBatchNorm)  # never built by the model below


class NormAct(nn.Sequential):
    """Norm and activation in the order a string gives, added under computed names."""

    def __init__(self, channels, dims=2, ordering="NA"):
        super().__init__()
        made = {"N": Layers["norm", dims](channels), "A": nn.PReLU()}
        for item in ordering:
            self.add_module(item, made[item])


class ConvBlock(nn.Sequential):
    def __init__(self, cin, cout, dims=2, stride=1, up=False):
        super().__init__()
        conv_type = Layers["up" if up else "conv", dims]
        if up:
            conv = conv_type(cin, cout, 3, stride=stride, padding=1, output_padding=stride - 1)
        else:
            conv = conv_type(cin, cout, 3, stride=stride, padding=1)
        self.add_module("conv", conv)
        self.add_module("norm_act", NormAct(cout, dims))


class Skip(nn.Module):
    def __init__(self, inner, dim=1, mode="cat"):
        super().__init__()
        self.inner = inner
        self.dim = dim
        self.mode = mode

    def forward(self, x):
        y = self.inner(x)
        if self.mode == "cat":
            return torch.cat([x, y], dim=self.dim)
        return torch.add(x, y)


class TinyUNet(nn.Module):
    def __init__(self, channels=(4, 8, 16)):
        super().__init__()
        self.model = self._block(1, 2, channels, top=True)

    def _block(self, cin, cout, channels, top=False):
        c = channels[0]
        if len(channels) > 2:
            inner = self._block(c, c, channels[1:])
            up_in = c * 2
        else:
            inner = ConvBlock(c, channels[1])
            up_in = c + channels[1]
        down = ConvBlock(cin, c, stride=2)
        up = ConvBlock(up_in, cout, stride=2, up=True)
        return nn.Sequential(down, Skip(inner), up)

    def forward(self, x):
        return self.model(x)
'''
)


@pytest.fixture(scope="module")
def tiny_result(tmp_path_factory):
    module = load_module(tmp_path_factory.mktemp("registry"), REGISTRY)
    torch.manual_seed(0)
    with torch2tf.recording():
        model = module.TinyUNet()
    return torch2tf.convert(model, inputs=(torch.randn(2, 1, 16, 16),))


def test_registry_layers_and_recursive_skips_convert_exactly(tiny_result):
    assert tiny_result.passed, tiny_result.table()
    assert tiny_result.max_abs_error < 1e-5
    assert "torch_map_axis(self.dim, 4)" in tiny_result.source  # cat along a dim attribute


def test_registry_layers_and_recursive_skips_agree_per_layer(tiny_result):
    # the innermost block a recursive skip holds: checked with the outer one's layouts
    table = tiny_result.table()
    assert " NO" not in table, table


def test_a_registry_entry_the_model_never_builds_is_left_out_loudly(tiny_result):
    left = [e for e in tiny_result.left_out if e.get("name") == "torch.nn.SyncBatchNorm"]
    assert left and left[0]["kind"] == "value", tiny_result.left_out
    tree = ast.parse(tiny_result.source)
    stub = next(n for n in tree.body if getattr(n, "name", "") == "nn_syncbatchnorm_left_out")
    namespace: dict = {}
    exec(compile(ast.Module([stub], []), "<stub>", "exec"), namespace)  # noqa: S102
    with pytest.raises(NotImplementedError, match="SyncBatchNorm was not translated"):
        namespace["nn_syncbatchnorm_left_out"](8)


UP_BLOCKS = (
    HEADER
    + '''
import enum

import torch.nn.functional as F


class Mode(enum.Enum):
    NEAREST = "nearest"
    LINEAR = "linear"


NORMS = {"instance": lambda dims: (nn.InstanceNorm1d, nn.InstanceNorm2d)[dims - 1]}


class Up(nn.Sequential):
    """Upsampling by a transposed conv, or (a branch the model below does not take) by
    interpolation in a mode an enum gives (then cin == cout)."""

    def __init__(self, cin, cout, trainable=True, mode=Mode.NEAREST):
        super().__init__()
        if trainable:
            self.add_module("deconv", nn.ConvTranspose2d(cin, cout, 2, stride=2))
        else:
            self.add_module("interp", nn.Upsample(scale_factor=2, mode=mode.value))


class UpCat(nn.Module):
    def __init__(self, cin, cskip, cout):
        super().__init__()
        self.up = Up(cin, cin // 2)
        self.conv = nn.Conv2d(cskip + cin // 2, cout, 3, padding=1)
        self.norm = NORMS["instance"](2)(cout, affine=True)

    def forward(self, x, x_e):
        x_0 = self.up(x)
        if x_e is not None and torch.jit.isinstance(x_e, torch.Tensor):
            dims = len(x.shape) - 2
            pads = [0] * (dims * 2)
            for i in range(dims):
                if x_e.shape[-i - 1] != x_0.shape[-i - 1]:
                    pads[i * 2 + 1] = 1
            x_0 = F.pad(x_0, pads, "replicate")
            x = self.conv(torch.cat([x_e, x_0], dim=1))
        else:
            x = self.conv(x_0)
        return self.norm(x)


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = nn.Conv2d(1, 4, 3, padding=1)
        self.down = nn.Sequential(nn.MaxPool2d(2), nn.Conv2d(4, 8, 3, padding=1))  # 9 -> 4
        self.upcat = UpCat(8, 4, 4)

    def forward(self, x):
        x1 = self.stem(x)
        x2 = self.down(x1)
        return self.upcat(x2, x1)
'''
)


def test_an_up_block_with_a_skip_input_converts_exactly(tmp_path):
    """A second input joined to a map (its layout: the layer the join feeds), a type test of
    it, ``x.shape`` of maps in torch's order, a registry's InstanceNorm with ``affine`` given
    when built, and an nn.Upsample of a mode an enum gives in a branch the model does not
    take: left out, raising if built."""
    module = load_module(tmp_path, UP_BLOCKS)
    torch.manual_seed(0)
    with torch2tf.recording():
        model = module.Net()
    result = torch2tf.convert(model, inputs=(torch.randn(2, 1, 9, 9),))
    table = result.table()
    assert result.passed, table
    assert " NO" not in table, table
    assert "torch_map_order(tf.keras.ops.shape(x_e))" in result.source
    assert "nn_upsample_left_out()" in result.source
    assert any(e.get("name") == "torch.nn.Upsample" for e in result.left_out), result.left_out


DECORATED_FACTORY = (
    HEADER
    + """

class Registry:
    def __init__(self):
        self.factories = {}

    def factory(self, name):
        def add(func):
            self.factories[name] = func
            return func

        return add


Acts = Registry()


@Acts.factory("relu")
def relu_factory():
    return nn.ReLU


@Acts.factory("rrelu")
def rrelu_factory():
    torch.lobpcg(torch.eye(4))  # not translated; the model below never calls it
    return nn.ReLU


class Net(nn.Module):
    def __init__(self, act="relu"):
        super().__init__()
        self.fc = nn.Linear(4, 3)
        self.act = Acts.factories[act]()()

    def forward(self, x):
        return self.act(self.fc(x))
"""
)


def test_a_left_out_registry_factory_keeps_its_registration(tmp_path):
    """A decorated factory the model does not use, failing to translate, becomes a raising
    function under its decorators: the registry still holds it, and looking it up raises."""
    module = load_module(tmp_path, DECORATED_FACTORY)
    torch.manual_seed(0)
    with torch2tf.recording():
        model = module.Net()
    result = torch2tf.convert(model, inputs=(torch.randn(5, 4),))
    assert result.passed, result.table()
    assert '@Acts.factory("rrelu")\ndef rrelu_factory(*args, **kwargs):' in result.source
    generated = type(result.keras_model).__init__.__globals__  # the generated module's
    with pytest.raises(NotImplementedError, match="rrelu_factory was not translated"):
        generated["Acts"].factories["rrelu"]()


monai = pytest.importorskip("monai")


def _unet():
    from monai.networks.nets import UNet

    torch.manual_seed(0)
    with torch2tf.recording():
        return UNet(
            spatial_dims=2,
            in_channels=1,
            out_channels=2,
            channels=(8, 16, 32),
            strides=(2, 2),
            num_res_units=1,
        ).eval()


@pytest.fixture(scope="module")
def unet_result():
    torch.manual_seed(1)
    return torch2tf.convert(_unet(), inputs=(torch.randn(2, 1, 32, 32),))


def test_monai_unet_converts_from_its_installed_source(unet_result):
    assert unet_result.passed, unet_result.table()
    assert unet_result.max_abs_error < 1e-5
    names = {e["name"] for e in unet_result.left_out if e.get("kind") == "value"}
    assert {"torch.nn.GroupNorm", "torch.nn.SyncBatchNorm"} <= names


def test_monai_unet_every_layer_agrees(unet_result):
    table = unet_result.table()
    assert " NO" not in table, table


def test_monai_basic_unet_converts():
    from monai.networks.nets import BasicUNet

    torch.manual_seed(0)
    with torch2tf.recording():
        model = BasicUNet(
            spatial_dims=2, in_channels=1, out_channels=2, features=(8, 8, 16, 32, 64, 8)
        ).eval()
    result = torch2tf.convert(model, inputs=(torch.randn(2, 1, 32, 32),))
    table = result.table()
    assert result.passed, table
    assert result.max_abs_error < 1e-5
    assert " NO" not in table, table


def test_monai_unet_in_float64():
    model = _unet().double()
    torch.manual_seed(1)
    inputs = (torch.randn(2, 1, 32, 32, dtype=torch.float64),)
    result = torch2tf.convert(model, inputs=inputs, atol=1e-10, rtol=1e-10)
    assert result.passed, result.table()
    assert result.max_abs_error < 1e-10
