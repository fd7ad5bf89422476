"""Layers without an exact Keras twin: each is reported where it is built, with what to use
instead where a translated layer computes the same."""

import torch
from torch import nn


class Scorer(nn.Module):
    def __init__(self, d: int = 8) -> None:
        super().__init__()
        self.pair = nn.Bilinear(d, d, 1)
        self.gate = nn.RReLU()  # random slopes in training: no Keras layer draws them
        self.norm = nn.Softmax2d()

    def forward(self, a, b):
        return self.norm(self.gate(self.pair(a, b)))

# output
# diag_unsupported_layers.py:11:21: error: torch.nn.Bilinear is not translated (hint: see `torch2tf --list-rules` for what is translated)
# diag_unsupported_layers.py:12:21: error: torch.nn.RReLU is not translated (hint: see `torch2tf --list-rules` for what is translated)
# diag_unsupported_layers.py:13:21: error: torch.nn.Softmax2d is not translated (hint: use nn.Softmax(dim=-3), the same computation, instead)
