"""Models built by factory functions, the way torchvision builds its models: the block class
and the normalisation layer are constructor arguments, and the factory fills them in."""

from torch import nn


class Block(nn.Module):
    """A residual step: Linear, normalisation, activation, plus the input."""

    def __init__(self, features, norm_layer, activation=nn.ReLU):
        super().__init__()
        self.fc = nn.Linear(features, features)
        self.norm = norm_layer(features)
        self.act = activation()

    def forward(self, x):
        return x + self.act(self.norm(self.fc(x)))


class Net(nn.Module):
    """A stem, ``sum(layers)`` blocks of ``block`` and a classifier."""

    def __init__(self, block, layers, norm_layer, in_features=64, width=32, num_classes=10):
        super().__init__()
        self.stem = nn.Linear(in_features, width)
        self.blocks = nn.Sequential(*[block(width, norm_layer) for _ in range(sum(layers))])
        self.head = nn.Linear(width, num_classes)

    def forward(self, x):
        return self.head(self.blocks(self.stem(x)))


class Mlp(nn.Module):
    """Linear, normalisation and activation per pair of ``sizes``, then a classifier."""

    def __init__(self, sizes, norm_layer, activation=nn.ReLU, num_classes=10):
        super().__init__()
        layers = []
        for a, b in zip(sizes[:-1], sizes[1:], strict=True):
            layers += [nn.Linear(a, b), norm_layer(b), activation()]
        self.body = nn.Sequential(*layers)
        self.head = nn.Linear(sizes[-1], num_classes)

    def forward(self, x):
        return self.head(self.body(x))


def _net(block, layers, **kwargs):
    return Net(block, layers, **kwargs)


def small_net(**kwargs):
    """Two blocks; the caller gives ``norm_layer``."""
    return _net(Block, [1, 1], **kwargs)


def small_mlp(**kwargs):
    """64 -> 32 -> 16 -> 10 for 8x8 digits; the caller gives ``norm_layer``."""
    return Mlp([64, 32, 16], **kwargs)
