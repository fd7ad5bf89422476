"""A temporal convolutional network in the TCN style: residual blocks of two dilated Conv1d,
each weight-normalised, over (N, C, L) sequences (padded to keep the length, as the
non-causal TCN variants do); written for the tests, with the init of ``weight`` after
weight_norm that torch ignores (weight is recomputed from g and v before every forward)."""

import torch
from torch import nn
from torch.nn.utils import parametrizations, weight_norm


class DilatedBlock(nn.Module):
    def __init__(self, n_in, n_out, kernel_size, dilation, dropout=0.1):
        super().__init__()
        pad = dilation * (kernel_size - 1) // 2
        self.conv1 = weight_norm(
            nn.Conv1d(n_in, n_out, kernel_size, padding=pad, dilation=dilation)
        )
        self.drop1 = nn.Dropout(dropout)
        self.conv2 = nn.utils.weight_norm(
            nn.Conv1d(n_out, n_out, kernel_size, padding=pad, dilation=dilation), dim=1
        )
        self.drop2 = nn.Dropout(dropout)
        self.skip = nn.Conv1d(n_in, n_out, 1)
        self.reset()

    def reset(self):
        self.conv1.weight.data.normal_(0, 0.01)
        self.conv2.weight.data.normal_(0, 0.01)

    def forward(self, x):
        out = self.drop1(torch.relu(self.conv1(x)))
        out = self.drop2(torch.relu(self.conv2(out)))
        return torch.relu(out + self.skip(x))


class TinyTCN(nn.Module):
    def __init__(self, channels=3, hidden=8, classes=4, kernel_size=3):
        super().__init__()
        self.block1 = DilatedBlock(channels, hidden, kernel_size, dilation=1)
        self.block2 = DilatedBlock(hidden, hidden, kernel_size, dilation=2)
        self.head = parametrizations.weight_norm(nn.Linear(hidden, classes), dim=None)

    def forward(self, x):
        y = self.block2(self.block1(x))
        return self.head(y.mean(dim=2))
