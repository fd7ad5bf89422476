"""A KAN-style layer: a SiLU base path plus learnable per-edge coefficients on fixed RBF bases."""

import math

import torch
import torch.nn as nn
import torch.nn.functional as F


class KANLinear(nn.Module):
    def __init__(self, in_features, out_features, num_bases=5, scale_spline=1.0):
        super().__init__()
        self.in_features = in_features
        self.out_features = out_features
        self.num_bases = num_bases
        self.scale_spline = scale_spline
        self.base_weight = nn.Parameter(torch.Tensor(out_features, in_features))
        self.spline_weight = nn.Parameter(torch.empty(out_features, in_features, num_bases))
        self.spline_scaler = torch.nn.Parameter(torch.empty(out_features, in_features))
        centers = torch.arange(num_bases, dtype=torch.float32) * (2 / (num_bases - 1)) - 1
        self.register_buffer("centers", centers)
        self.reset_parameters()

    def reset_parameters(self):
        nn.init.kaiming_uniform_(self.base_weight, a=math.sqrt(5))
        with torch.no_grad():
            nn.init.xavier_uniform_(self.spline_weight, gain=self.scale_spline)
            std = 1.0 / math.sqrt(self.base_weight.size(1))
            self.spline_scaler.normal_(1.0, std)

    def forward(self, x):
        base = F.linear(F.silu(x), self.base_weight)
        bases = torch.exp(-((x.unsqueeze(-1) - self.centers) ** 2))
        weights = self.spline_weight * self.spline_scaler.unsqueeze(-1)
        return base + torch.einsum("bik,oik->bo", bases, weights)


class KAN(nn.Module):
    def __init__(self, widths, num_bases=5):
        super().__init__()
        self.layers = nn.ModuleList(
            [KANLinear(a, b, num_bases) for a, b in zip(widths[:-1], widths[1:])]
        )

    def forward(self, x):
        for layer in self.layers:
            x = layer(x)
        return x
