"""DLRM-style dense and over arches: MLPs named per layer through OrderedDicts built in loops."""

from collections import OrderedDict

import torch
import torch.nn as nn
from recsys_utils import _log_api_usage_once


class DenseArch(nn.Module):
    def __init__(self, in_features, layer_sizes):
        super().__init__()
        _log_api_usage_once(self)
        dims = [in_features, *layer_sizes]
        layers = []
        for i, (a, b) in enumerate(zip(dims[:-1], dims[1:])):
            layers.append((f"fc{i}", nn.Linear(a, b)))
            layers.append((f"relu{i}", nn.ReLU()))
        self.mlp = nn.Sequential(OrderedDict(layers))
        for m in self.modules():
            if isinstance(m, nn.Linear):
                nn.init.xavier_uniform_(m.weight)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)

    def forward(self, x):
        return self.mlp(x)


class OverArch(nn.Module):
    def __init__(self, d, depth, out_features):
        super().__init__()
        _log_api_usage_once(self)
        self.mlp = nn.Sequential(OrderedDict((f"layer{i}", nn.Linear(d, d)) for i in range(depth)))
        self.out = nn.Linear(d, out_features)
        for layer in self.mlp:
            nn.init.normal_(layer.weight, std=0.02)
            nn.init.zeros_(layer.bias)

    def forward(self, x):
        return self.out(torch.relu(self.mlp(x)))


class DLRMStyle(nn.Module):
    def __init__(self, in_features, dense_sizes=(32, 16), over_depth=2, out_features=1):
        super().__init__()
        self.dense = DenseArch(in_features, dense_sizes)
        self.over = OverArch(dense_sizes[-1], over_depth, out_features)

    def forward(self, x):
        return torch.sigmoid(self.over(self.dense(x)))
