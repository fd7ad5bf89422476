"""Containers as people write them: Sequential (positional and *list), ModuleList, ModuleDict."""

import torch.nn as nn


class Block(nn.Module):
    def __init__(self, width, p):
        super().__init__()
        self.linear = nn.Linear(width, width)
        self.drop = nn.Dropout(p)

    def forward(self, x):
        return self.drop(self.linear(x)) + x


class Stacked(nn.Module):
    def __init__(self, in_features, width, depth, out_features):
        super().__init__()
        self.stem = nn.Sequential(nn.Linear(in_features, width), nn.ReLU(), nn.BatchNorm1d(width))
        self.blocks = nn.ModuleList([Block(width, 0.1) for _ in range(depth)])
        layers = [nn.Linear(width, width), nn.ReLU()]
        self.body = nn.Sequential(*layers)
        self.heads = nn.ModuleDict(
            {"main": nn.Linear(width, out_features), "aux": nn.Linear(width, 1)}
        )

    def forward(self, x):
        x = self.stem(x)
        for block in self.blocks:
            x = block(x)
        x = self.body(x)
        return self.heads["main"](x), self.heads["aux"](x)
