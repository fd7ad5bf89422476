"""A model built from a private class (a leading underscore, as rtdl_num_embeddings' _Periodic):
Keras names its layer "_periodic", a name TensorFlow refuses as a root name scope."""

import math

import torch
from torch import nn


class _Periodic(nn.Module):
    def __init__(self, n_features: int, k: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(n_features, k))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = 2 * math.pi * self.weight * x[..., None]
        return torch.cat([torch.cos(x), torch.sin(x)], -1)


class PeriodicFeatures(nn.Module):
    def __init__(self, n_features: int, k: int = 4) -> None:
        super().__init__()
        self.periodic = _Periodic(n_features, k)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.periodic(x)
