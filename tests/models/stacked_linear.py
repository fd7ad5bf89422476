"""A linear layer whose parameters may carry a leading stack dimension, created with a starred
shape (zuko style) and initialised from a size read off the weight."""

import torch
import torch.nn.functional as F
from torch import nn


class StackLinear(nn.Module):
    def __init__(self, in_features, out_features, bias=True, stack=None):
        super().__init__()
        shape = () if stack is None else (stack,)
        self.weight = nn.Parameter(torch.empty(*shape, out_features, in_features))
        if bias:
            self.bias = nn.Parameter(torch.empty(*shape, out_features))
        else:
            self.bias = None
        self.reset_parameters()

    def reset_parameters(self):
        bound = 1 / self.weight.shape[-1] ** 0.5
        nn.init.uniform_(self.weight, -bound, bound)
        if self.bias is not None:
            nn.init.uniform_(self.bias, -bound, bound)

    def forward(self, x):
        return F.linear(x, self.weight, self.bias)


class StackMLP(nn.Module):
    def __init__(self, d_in, d_hidden, d_out):
        super().__init__()
        self.first = StackLinear(d_in, d_hidden)
        self.last = StackLinear(d_hidden, d_out, bias=False)

    def forward(self, x):
        return self.last(torch.tanh(self.first(x)))
