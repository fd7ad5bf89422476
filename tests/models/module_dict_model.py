"""An nn.ModuleDict subclass filled by add_module in a loop and run over self.items(), and
modules added to a model and to one of its Sequentials by add_module (a DenseNet-style MLP)."""

import torch
import torch.nn as nn


class Experts(nn.ModuleDict):
    def __init__(self, width: int, count: int) -> None:
        super().__init__()
        for i in range(count):
            self.add_module("expert%d" % i, nn.Sequential(nn.Linear(width, width), nn.Tanh()))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        total = x
        for name, expert in self.items():
            total = total + expert(x)
        return total


class Mixture(nn.Module):
    def __init__(self, width: int, count: int, classes: int) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.Linear(width, width))
        self.body.add_module("experts", Experts(width, count))
        self.body.add_module("drop", nn.Dropout(0.1))
        self.add_module("head", nn.Linear(width, classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(x))
