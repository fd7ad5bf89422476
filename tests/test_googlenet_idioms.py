"""GoogLeNet's idioms on small models of our own: a channel of a map picked and unsqueezed
back (``transform_input``), layer classes passed as a list (``conv_block = blocks[0]``),
``nn.Conv2d(..., **kwargs)`` forwarded, ``F.relu(x, inplace=True)`` where nothing reads the
input again, init loops testing ``isinstance(m, A) or isinstance(m, B)``, and modules set to
None in the model converted. Each converted and checked against torch in eval and train
mode, or refused precisely."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf
import torch
from layer_harness import HEADER, convert_checked
from test_cnn import images
from test_cnn_idioms import net

import torch2tf
from torch2tf.generated import load_generated
from torch2tf.translate import translate_source

TRANSFORM = net(
    """
    self.flag = flag
    self.conv = nn.Conv2d(3, 8, 3)
    self.pool = nn.MaxPool2d(3, stride=2, ceil_mode=True)
    """,
    """
    x = self._transform_input(x)
    x, extra = self._forward(x)
    return x
    """,
    params=", flag=False",
) + (
    "\n    def _transform_input(self, x):\n"
    "        if self.flag:\n"
    "            first = torch.unsqueeze(x[:, 0], 1) * 2.0 + 0.5\n"
    "            second = x[:, 1].unsqueeze(1) - 1.0\n"
    "            third = torch.unsqueeze(x[:, -1], dim=1)\n"
    "            x = torch.cat((first, second, third), 1)\n"
    "        return x\n"
    "\n    def _forward(self, x):\n"
    "        x = self.pool(self.conv(x))\n"
    "        return torch.flatten(x, 1), None\n"
)


@pytest.mark.parametrize("flag", [False, True])
def test_a_channel_picked_and_unsqueezed_back_is_a_one_channel_map(tmp_path, flag):
    """GoogLeNet's transform_input: ``torch.unsqueeze(x[:, k], 1)`` is channel k as a map,
    ``x[..., k]`` expanded last in Keras; the map followed through methods to the pool."""
    conversion = convert_checked(tmp_path, TRANSFORM, images(3, 10), kwargs={"flag": flag})
    code = conversion.source
    assert "tf.expand_dims(x[..., 0], axis=3) * 2.0 + 0.5" in code
    assert "tf.expand_dims(x[..., 1], axis=3) - 1.0" in code
    assert "tf.expand_dims(x[..., -1], axis=3)" in code
    assert "tf.concat((first, second, third), axis=3)" in code
    assert "tf.transpose" not in code


def test_a_picked_channel_alone_is_in_torch_order(tmp_path):
    """``x[:, k]`` of a map is (N, *S) in both layouts: Keras's ``x[..., k]``, as it is."""
    source = net("self.conv = nn.Conv2d(3, 8, 3)", "return self.conv(x)[:, 2] * 3.0")
    conversion = convert_checked(tmp_path, source, images(3, 9))
    assert "[..., 2] * 3.0" in conversion.source


BLOCKS = f"""{HEADER}import torch.nn.functional as F


class BasicConv(nn.Module):
    def __init__(self, in_channels, out_channels, **kwargs):
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, bias=False, **kwargs)
        self.bn = nn.BatchNorm2d(out_channels, eps=0.001)

    def forward(self, x):
        x = self.conv(x)
        x = self.bn(x)
        return F.relu(x, inplace=True)


class Head(nn.Module):
    def __init__(self, in_channels, classes):
        super().__init__()
        self.fc1 = nn.Linear(in_channels * 4, 16)
        self.fc2 = nn.Linear(16, classes)

    def forward(self, x):
        x = torch.flatten(F.adaptive_avg_pool2d(x, (2, 2)), 1)
        x = F.relu(self.fc1(x), inplace=True)
        return self.fc2(x)


class Net(nn.Module):
    def __init__(self, aux=False, blocks=None):
        super().__init__()
        if blocks is None:
            blocks = [BasicConv, Head]
        conv_block = blocks[0]
        head_block = blocks[1]
        self.conv1 = conv_block(3, 8, kernel_size=3, stride=2, padding=1)
        self.conv2 = conv_block(8, 8, kernel_size=1)
        if aux:
            self.aux = head_block(8, 5)
        else:
            self.aux = None
        self.pool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(8, 5)
        for m in self.modules():
            if isinstance(m, nn.Conv2d) or isinstance(m, nn.Linear):
                torch.nn.init.trunc_normal_(m.weight, mean=0.0, std=0.1, a=-0.2, b=0.2)
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.constant_(m.weight, 1)

    def forward(self, x):
        x = self.conv1(x)
        aux = None
        if self.aux is not None:
            aux = self.aux(x)
        x = self.conv2(x)
        x = torch.flatten(self.pool(x), 1)
        return self.fc(x) if aux is None else self.fc(x) + aux
"""


@pytest.mark.parametrize("aux", [False, True])
def test_layer_classes_from_a_list_and_kwargs_forwarded_to_conv2d(tmp_path, aux):
    """GoogLeNet's blocks: the classes a list holds, ``**kwargs`` forwarded to nn.Conv2d
    (through ``nn_conv2d``, which takes torch's arguments), in-place ReLUs on fresh tensors,
    the aux head None (or a flattened map's Linear) in the model converted."""
    conversion = convert_checked(tmp_path, BLOCKS, images(3, 12), kwargs={"aux": aux})
    code = conversion.source
    assert "self.conv = nn_conv2d(in_channels, out_channels, bias=False, **kwargs)" in code
    assert "def nn_conv2d(\n    in_channels,\n    out_channels,\n    kernel_size," in code
    assert "return tf.nn.relu(x)" in code and "x = tf.nn.relu(self.fc1(x))" in code
    paths = {layer.layer for layer in conversion.checks[0].layers}
    assert {"conv1.conv", "conv1.bn", "conv2"} <= paths
    assert ("aux.fc1" in paths) == aux
    assert conversion.flattened_rows == ({"aux.fc1": 8} if aux else {})


def test_the_init_loop_or_of_isinstance_reaches_both_types():
    """``isinstance(m, nn.Conv2d) or isinstance(m, nn.Linear)``: one test of both Keras
    classes, run on the layers of nested modules before they are built."""
    code = translate_source(BLOCKS, "blocks.py")
    assert "tf.keras.layers.Dense," in code
    tf.keras.utils.set_random_seed(0)
    model = load_generated(code, "googlenet_blocks").Net(aux=True)
    model(tf.zeros([2, 12, 12, 3]), training=True)
    padded = model.conv1.conv.layers  # ZeroPadding2D, then the conv
    for kernel in (model.fc.kernel, model.aux.fc1.kernel, padded[-1].kernel):
        values = kernel.numpy()
        assert np.abs(values).max() <= 0.2  # truncated at a=-0.2, b=0.2
        assert 0.05 < values.std() < 0.1  # torch's default would be far smaller for fc1


def test_an_or_of_isinstance_in_init_on_attributes():
    """The same test on layers made in __init__ itself: decided at translation."""
    source = net(
        """
        self.conv = nn.Conv2d(3, 8, 3)
        self.fc = nn.Linear(8, 4)
        self.norm = nn.BatchNorm1d(4)
        for m in self.modules():
            if isinstance(m, nn.Conv2d) or isinstance(m, (nn.Linear,)):
                nn.init.constant_(m.weight, 0.25)
        """,
        "return self.norm(self.fc(self.conv(x).mean((2, 3))))",
    )
    model = load_generated(translate_source(source, "net.py"), "or_init").Net()
    model(tf.zeros([2, 9, 9, 3]))
    assert np.all(model.conv.kernel.numpy() == 0.25) and np.all(model.fc.kernel.numpy() == 0.25)
    assert np.all(model.norm.gamma.numpy() == 1.0)


INPLACE_KEPT = [
    "y = self.conv(x)\nif self.training:\n    y = F.relu(y, inplace=True)\nreturn y",
    "x = self.conv(x)\nx = x * 2.0\nreturn F.relu(x, inplace=True)",
    "x = F.relu(self.conv(x), inplace=True)\nreturn x",
    "y = self.conv(x)\nz = F.relu(y, inplace=True)\nreturn z * 2.0",
]


@pytest.mark.parametrize("body", INPLACE_KEPT)
def test_inplace_relu_on_a_tensor_nothing_reads_again(tmp_path, body):
    source = net("self.conv = nn.Conv2d(3, 8, 3)", body)
    conversion = convert_checked(tmp_path, source, images(3, 9))
    assert "inplace" not in conversion.source.split("class Net")[1]


@pytest.mark.parametrize(
    "body",
    [
        "return F.relu(x, inplace=True)",  # the caller's tensor
        "y = self.conv(x)\nz = F.relu(y, inplace=True)\nreturn z + y",  # read after
        "y = self.conv(x)\nreturn F.relu(y, inplace=True) + y",  # read in its statement
        "y = self.conv(x)\ns = y\nreturn F.relu(y, inplace=True) + s",  # held by s too
        "y = self.conv(x)\nreturn F.relu(y.view(y.size(0), -1), inplace=True) + y.flatten(1)",
        "y = self.conv(x)\nfor _ in range(2):\n    y = F.relu(y, inplace=True)\nreturn y",
        # nn.Dropout returns x itself in eval mode, nn.Identity always: not taken as new
        "x = self.conv(x)\ny = self.drop(x)\nreturn F.relu(y, inplace=True) + x",
        "x = self.conv(x)\nreturn F.relu(self.same(x), inplace=True) + x",
        "x = self.conv(x)\nx = self.same(x)\nreturn F.relu(x, inplace=True)",
    ],
)
def test_inplace_relu_whose_input_may_be_read_again_is_refused(body):
    layers = "self.conv = nn.Conv2d(3, 8, 3)\nself.drop = nn.Dropout()\nself.same = nn.Identity()"
    source = net(layers, body)
    with pytest.raises(torch2tf.TranslationError, match="inplace=True also overwrites"):
        translate_source(source, "net.py")


def test_kwargs_forwarded_with_an_argument_nn_conv2d_does_not_take_are_refused():
    source = f"""{HEADER}

class Conv(nn.Module):
    def __init__(self, **kwargs):
        super().__init__()
        self.conv = nn.Conv2d(3, 8, padding_mode="reflect", **kwargs)

    def forward(self, x):
        return self.conv(x)
"""
    with pytest.raises(torch2tf.TranslationError) as caught:
        translate_source(source, "conv.py")
    assert "conv.py:8:21: error: cannot translate torch.nn.Conv2d with **-arguments: " in str(
        caught.value
    )
    assert "padding_mode is not translated when the rest is forwarded" in str(caught.value)


def test_nn_conv2d_fails_loudly_on_an_argument_it_does_not_translate():
    """What ``**kwargs`` brings at run time: torch's parameters, else a TypeError."""
    code = translate_source(BLOCKS, "blocks.py")
    module = load_generated(code, "googlenet_blocks_kwargs")
    layer = module.nn_conv2d(3, 8, kernel_size=3, stride=2, padding=1)
    assert layer(tf.zeros([1, 9, 9, 3])).shape == (1, 5, 5, 8)
    with pytest.raises(TypeError, match="padding_mode"):
        module.BasicConv(3, 8, kernel_size=3, padding_mode="reflect")
    torch_conv = torch.nn.Conv2d(3, 8, 3, padding=1, padding_mode="reflect")
    assert torch_conv.padding_mode == "reflect"  # torch takes it: the Keras side refuses it


TUPLES = net(
    "self.conv = nn.Conv2d(3, 8, 3)\nself.pool = nn.MaxPool2d(2, ceil_mode=True)",
    """
    pair = self._with_scale(x)
    y, scale = self._with_scale(x)
    return self.pool(pair[0]) * pair[1] + self.pool(y) * scale
    """,
) + ("\n    def _with_scale(self, x):\n        y = self.conv(x)\n        return y, 2.0\n")


def test_a_map_in_a_tuple_a_helper_method_returns_is_followed(tmp_path):
    """GoogLeNet's ``x, aux2, aux1 = self._forward(x)``: each element keeps its fact,
    unpacked or indexed, so the pools take their maps."""
    conversion = convert_checked(tmp_path, TUPLES, images(3, 9))
    assert 'TorchPool("max", [2, 2], [2, 2], [0, 0], ceil_mode=True' in conversion.source
    assert {layer.layer for layer in conversion.checks[1].layers} >= {"conv", "pool"}


def test_a_tuple_holding_a_map_is_refused_where_its_elements_lose_their_facts():
    """A loop takes one fact for all elements: a map and a number are not one."""
    source = net(
        "self.conv = nn.Conv2d(3, 8, 3)",
        "pair = (self.conv(x), 2.0)\nout = 0\nfor t in pair:\n    out = out + t\nreturn out",
    )
    with pytest.raises(torch2tf.TranslationError, match="a loop over a tuple holding a feature"):
        translate_source(source, "net.py")
