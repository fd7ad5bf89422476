"""Layers chosen by name or as values, statistics pairs and container iteration, written the
way tabular-model packages write them."""

from typing import Optional

import torch
import torch.nn as nn


class ActivationByName(nn.Module):
    """The activation class is looked up on torch.nn by a constructor argument."""

    def __init__(self, d_in: int, d_out: int, activation: str = "ReLU", slope_name: str = "LeakyReLU") -> None:
        super().__init__()
        self.linear = nn.Linear(d_in, d_out)
        self.activation = getattr(nn, activation)()
        self.leaky = getattr(nn, slope_name)(0.2)
        self.gelu = getattr(torch.nn, "GELU")()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.gelu(self.leaky(self.activation(self.linear(x))))


NORMALISERS = {"softmax": nn.Softmax, "logsoftmax": nn.LogSoftmax, "softmin": nn.Softmin}


class NormaliserFromRegistry(nn.Module):
    """A registry holds layer classes whose dim comes with the constructor's arguments."""

    def __init__(self, d_in: int, kind: str = "softmax", dim: int = -1) -> None:
        super().__init__()
        self.linear = nn.Linear(d_in, 4)
        self.normalise = NORMALISERS[kind](dim=dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.normalise(self.linear(x).reshape(x.shape[0], 2, 2))


class LinearChosen(nn.Module):
    """A layer class picked by a conditional and called later with its arguments."""

    def __init__(self, d_in: int, d_out: int, shared: bool = True) -> None:
        super().__init__()
        Linear = nn.Linear if shared else nn.Identity
        self.first = Linear(d_in, d_out) if shared else Linear()
        make_linear = nn.Linear
        self.head = make_linear(d_out if shared else d_in, 3, bias=False)

    def forward(self, x):
        return self.head(torch.relu(self.first(x)))


class StatsNorm(nn.Module):
    """A hand-written normalisation from torch.var_mean / std_mean and legacy constants."""

    def __init__(self, d_in: int, d_out: int, eps: float = 1e-5) -> None:
        super().__init__()
        self.linear = nn.Linear(d_in, d_out)
        self.eps = eps
        self.shift = torch.tensor([0.5, -0.5, 1.0, 2.0])

    def output_shape(self) -> torch.Size:
        return torch.Size((self.linear.out_features,))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.linear(x)
        variance, mean = torch.var_mean(h, dim=-1, keepdim=True)
        std, center = torch.std_mean(h, dim=1, correction=0, keepdim=True)
        all_var, all_mean = torch.var_mean(h, unbiased=False)
        scale = torch.sqrt(torch.FloatTensor([0.5]).to(x.device))
        out = (h - mean) / torch.sqrt(variance + self.eps) * scale
        return out + (h - center) / (std + self.eps) + all_var + all_mean + self.shift


class IteratedBlocks(nn.Module):
    """Sequential and ModuleList walked in forward: loops, len, indices, slices, zip, enumerate."""

    def __init__(self, d: int, n_blocks: int = 3, dropout: float = 0.1) -> None:
        super().__init__()
        self.stem = nn.Sequential(nn.Linear(d, d), nn.BatchNorm1d(d), nn.ReLU(), nn.Dropout(dropout))
        self.blocks = nn.ModuleList([nn.Linear(d, d) for _ in range(n_blocks)])
        self.norms = nn.ModuleList([nn.LayerNorm(d) for _ in range(n_blocks)])
        self.head = nn.Sequential(nn.Linear(d, d), nn.Tanh(), nn.Linear(d, 2))

    def forward(self, x: torch.Tensor, skip: Optional[int] = None) -> torch.Tensor:
        for layer in self.stem:
            x = layer(x)
        for i in range(len(self.blocks)):
            x = x + self.blocks[i](x)
        for block, norm in zip(self.blocks, self.norms):
            x = norm(block(x))
        for i, layer in enumerate(self.head):
            if i < len(self.head) - 1:
                x = layer(x)
        x = self.blocks[-1](x)
        for layer in self.stem[:2]:
            x = layer(x)
        return self.head[-1](x) + self.head[0](x)[:, :2]
