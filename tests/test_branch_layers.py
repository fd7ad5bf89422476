"""Layers whose construction the tensor facts read beyond one plain assignment: an attribute
assigned in each branch of an ``if`` of ``__init__`` (the generated code keeps the ``if``), a
layer held by a local name, ``nn.Sequential(first, *rest)``, attributes set with ``setattr``
from a literal list of names, ``m is <layer>`` in an init loop over modules, and a
module-level function (a channel shuffle) called on a feature map. Each model is converted
and checked against torch in eval and train mode, or refused precisely."""

from __future__ import annotations

import textwrap

import numpy as np
import pytest
from layer_harness import HEADER, convert_checked
from test_cnn import images

import torch2tf
from torch2tf.generated import load_generated
from torch2tf.translate import translate_source

BRANCHES = HEADER + textwrap.dedent(
    """
    class Net(nn.Module):
        def __init__(self, wide: bool = True):
            super().__init__()
            if wide:
                self.features = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU())
            else:
                self.features = nn.Sequential()
            self.head = nn.Conv2d(8 if wide else 3, 4, 1)

        def forward(self, x):
            return torch.flatten(self.head(self.features(x)), 1)
    """
)


@pytest.mark.parametrize("wide", [True, False])
def test_an_attribute_assigned_in_each_branch_converts_for_either(tmp_path, wide):
    conversion = convert_checked(tmp_path, BRANCHES, images(3, 6), kwargs={"wide": wide})
    assert "        if wide:\n            self.features = tf.keras.Sequential(" in conversion.source
    # the empty nn.Sequential: a named placeholder add_module would replace
    assert '[tf.keras.layers.Identity(name="torch_empty")], name="features"' in conversion.source
    assert "tf.transpose" not in conversion.source


def test_branches_giving_other_layouts_are_refused():
    source = BRANCHES.replace("nn.Sequential()", "nn.Sequential(nn.Flatten())")
    with pytest.raises(torch2tf.TranslationError) as caught:
        translate_source(source)
    assert "self.features is assigned in branches whose layers give other layouts" in str(
        caught.value
    )


SHUFFLE = HEADER + textwrap.dedent(
    """
    def channel_shuffle(x, groups: int):
        batchsize, num_channels, height, width = x.size()
        channels_per_group = num_channels // groups
        x = x.view(batchsize, groups, channels_per_group, height, width)
        x = torch.transpose(x, 1, 2).contiguous()
        return x.view(batchsize, num_channels, height, width)


    def first(x):
        return x[:, 0]


    class Unit(nn.Module):
        def __init__(self, channels: int, stride: int) -> None:
            super().__init__()
            self.stride = stride
            if stride > 1:
                self.branch1 = nn.Sequential(nn.Conv2d(channels, channels, 3, 2, 1), nn.ReLU())
            else:
                self.branch1 = nn.Sequential()
            half = channels if stride > 1 else channels // 2
            self.branch2 = nn.Conv2d(half, half, 1, stride)

        def forward(self, x):
            if self.stride == 1:
                x1, x2 = x.chunk(2, dim=1)
                out = torch.cat((x1, self.branch2(x2)), dim=1)
            else:
                out = torch.cat((self.branch1(x), self.branch2(x)), dim=1)
            return channel_shuffle(out, 2)


    class Net(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.stem = nn.Conv2d(3, 4, 3)
            for name, stride in zip([f"stage{i}" for i in [1, 2]], [2, 1]):
                setattr(self, name, Unit(4 if stride > 1 else 8, stride))
            self.fc = nn.Linear(8, 3)

        def forward(self, x):
            x = self.stage2(self.stage1(self.stem(x)))
            return self.fc(x.mean([2, 3]))
    """
)


def test_a_module_level_channel_shuffle_on_maps_converts(tmp_path):
    conversion = convert_checked(tmp_path, SHUFFLE, images(3, 9))
    code = conversion.source
    shuffle = code.split("def channel_shuffle")[1].split("\nclass ")[0]
    assert "tf.reshape(x, (batchsize, height, width, groups, channels_per_group))" in shuffle
    assert "tf.keras.ops.swapaxes(x, 3, 4)" in shuffle
    assert "tf.transpose" not in code
    assert "setattr(self, name, Unit(" in code
    paths = {layer.layer for layer in conversion.checks[1].layers}
    assert {"stage1.branch1.0", "stage1.branch2", "stage2.branch2"} <= paths


def test_a_function_called_on_maps_and_on_other_tensors_is_refused():
    source = SHUFFLE.replace(
        "return self.fc(x.mean([2, 3]))",
        "return self.fc(channel_shuffle(x.mean([2, 3]), 2))",
    )
    with pytest.raises(torch2tf.TranslationError) as caught:
        translate_source(source)
    assert "channel_shuffle is called on tensors of another layout elsewhere" in str(caught.value)


def test_a_function_returning_a_sequential_of_a_layer_and_a_starred_list(tmp_path):
    source = HEADER + textwrap.dedent(
        """
        class Block(nn.Module):
            def __init__(self, cin: int, cout: int) -> None:
                super().__init__()
                self.conv = nn.Conv2d(cin, cout, 3, padding=1)
                self.bn = nn.BatchNorm2d(cout)

            def forward(self, x):
                return torch.relu(self.bn(self.conv(x)))


        def stack(cin: int, cout: int, repeats: int) -> nn.Sequential:
            first = Block(cin, cout)
            remaining = []
            for _ in range(1, repeats):
                remaining.append(Block(cout, cout))
            return nn.Sequential(first, *remaining)


        class Net(nn.Module):
            def __init__(self) -> None:
                super().__init__()
                self.layers = nn.Sequential(nn.Conv2d(3, 4, 1), stack(4, 6, 3), stack(6, 8, 1))
                self.fc = nn.Linear(8, 2)

            def forward(self, x):
                return self.fc(self.layers(x).mean([2, 3]))
        """
    )
    conversion = convert_checked(tmp_path, source, images(3, 7))
    paths = {layer.layer for layer in conversion.checks[0].layers}
    assert {"layers.1.0.conv", "layers.1.2.bn", "layers.2.0.conv"} <= paths


IDENTITY = HEADER + textwrap.dedent(
    """
    class Fire(nn.Module):
        def __init__(self, channels: int) -> None:
            super().__init__()
            self.expand = nn.Conv2d(channels, channels, 3, padding=1)

        def forward(self, x):
            return torch.relu(self.expand(x))


    class Net(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.features = nn.Sequential(nn.Conv2d(3, 8, 1), Fire(8))
            final_conv = nn.Conv2d(8, 4, 3, padding=2)  # padded: a Keras Sequential
            self.classifier = nn.Sequential(nn.ReLU(), final_conv, nn.AdaptiveAvgPool2d(1))
            for m in self.modules():
                if isinstance(m, nn.Conv2d):
                    if m is final_conv:
                        nn.init.constant_(m.weight, 0.5)
                    else:
                        nn.init.constant_(m.weight, -0.25)
                    if m.bias is not None:
                        nn.init.constant_(m.bias, 0)

        def forward(self, x):
            return torch.flatten(self.classifier(self.features(x)), 1)
    """
)


def test_an_identity_test_in_an_init_loop_initialises_that_layer_only(tmp_path):
    code = translate_source(IDENTITY)
    assert "if m is final_conv.layers[-1]:" in code  # the conv its padding wrapper holds
    assert "for m in torch_modules(self):" in code  # Fire's conv is reached too
    model = load_generated(code, "identity_init").Net()
    model(np.zeros((1, 5, 5, 3), "float32"))
    kernels = {
        "stem": model.features.layers[0].kernel,
        "fire": model.features.layers[1].expand.kernel,  # padding="same"
        "final": model.classifier.layers[1].layers[-1].kernel,
    }
    assert np.all(kernels["final"].numpy() == 0.5)
    assert np.all(kernels["stem"].numpy() == -0.25)
    assert np.all(kernels["fire"].numpy() == -0.25)
    convert_checked(tmp_path, IDENTITY, images(3, 5))


def test_an_identity_test_with_a_layer_not_built_by_name_is_refused():
    source = IDENTITY.replace("if m is final_conv:", "if m is self.classifier[1]:")
    with pytest.raises(torch2tf.TranslationError) as caught:
        translate_source(source)
    assert "self.classifier[1] is not a layer __init__ builds once, by name" in str(caught.value)
