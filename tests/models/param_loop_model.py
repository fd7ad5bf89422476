"""A gated feed-forward block initialised the transformer way: every matrix Xavier, every bias
zero, decided per parameter in a loop over named_parameters()."""

import torch
import torch.nn as nn


class GatedFeedForward(nn.Module):
    def __init__(self, d: int, hidden: int) -> None:
        super().__init__()
        self.up = nn.Linear(d, hidden)
        self.norm = nn.LayerNorm(hidden)
        self.down = nn.Linear(hidden, d)
        self.gate = nn.Parameter(torch.empty(hidden, d))
        self.scale = nn.Parameter(torch.ones(d))
        self._reset_parameters()

    def _reset_parameters(self) -> None:
        for name, p in self.named_parameters():
            if p.dim() > 1:
                nn.init.xavier_uniform_(p)
            elif "bias" in name:
                nn.init.zeros_(p)

    def forward(self, x):
        h = self.norm(self.up(x)) * torch.sigmoid(x @ self.gate.t())
        return self.scale * self.down(torch.relu(h))
