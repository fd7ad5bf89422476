import torch.nn as nn

from ..base import BaseNet
from ..blocks import Residual


class ResMLP(BaseNet):
    def __init__(self, inputs, width, outputs, depth=2):
        super().__init__()
        self.stem = nn.Linear(inputs, width)
        self.blocks = nn.ModuleList([Residual(width) for _ in range(depth)])
        self.head = nn.Linear(width, outputs)

    def forward(self, x):
        x = self.stem(x)
        for block in self.blocks:
            x = block(x)
        return self.head(x)
