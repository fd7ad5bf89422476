"""Models whose module tree depends on more than the constructor arguments the source shows."""

import torch
from torch import nn

# Module-level settings a program may change at run time, before it builds its models.
SETTINGS = {"depth": 2}


def make_blocks(width):
    """A ModuleList built by a helper, whose length comes from the settings."""
    return nn.ModuleList([nn.Linear(width, width) for _ in range(SETTINGS["depth"])])


class Gated(nn.Module):
    """Which activation and whether a norm exists depends on arguments."""

    def __init__(self, width, kind="relu", norm=False):
        super().__init__()
        self.fc = nn.Linear(width, width)
        if kind == "relu":
            self.act = nn.ReLU()
        else:
            self.act = nn.Tanh()
        self.norm = nn.LayerNorm(width) if norm else None

    def forward(self, x):
        x = self.act(self.fc(x))
        if self.norm is not None:
            x = self.norm(x)
        return x


class Stack(nn.Module):
    """Blocks from a helper function."""

    def __init__(self, width):
        super().__init__()
        self.blocks = make_blocks(width)
        self.head = nn.Linear(width, 1)

    def forward(self, x):
        for block in self.blocks:
            x = torch.relu(block(x))
        return self.head(x)


class Head(nn.Module):
    """A backbone given as an argument, then a linear head."""

    def __init__(self, backbone, width, out):
        super().__init__()
        self.backbone = backbone
        self.out = nn.Linear(width, out)

    def forward(self, x):
        return self.out(self.backbone(x))


class SharedLayers(nn.Module):
    """One module held under two names, which torch's module tree lists once."""

    def __init__(self, width, p=0.1):
        super().__init__()
        self.fc = nn.Linear(width, width)
        self.again = self.fc
        self.drop1 = nn.Dropout(p)
        self.drop2 = self.drop1

    def forward(self, x):
        return self.drop2(self.again(self.drop1(torch.relu(self.fc(x)))))
