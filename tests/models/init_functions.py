"""Init functions real MLP packages use: a module-level function applied to a layer's weight
(pytorch-tabnet style) and an init function passed as a default argument (torchtuples style)."""


import numpy as np
import torch
from torch import nn


def initialize_non_glu(module, input_dim, output_dim):
    gain_value = np.sqrt((input_dim + output_dim) / np.sqrt(4 * input_dim))
    torch.nn.init.xavier_normal_(module.weight, gain=gain_value)
    return


class GainBlock(nn.Module):
    def __init__(self, d_in, d_out):
        super().__init__()
        self.fc = nn.Linear(d_in, d_out, bias=False)
        initialize_non_glu(self.fc, d_in, d_out)
        self.head = nn.Linear(d_out, 2)
        initialize_non_glu(self.head, d_out, 2)

    def forward(self, x):
        return self.head(torch.relu(self.fc(x)))


class DefaultInitBlock(nn.Module):
    def __init__(
        self,
        in_features,
        out_features,
        bias=True,
        w_init_=lambda w: nn.init.kaiming_normal_(w, nonlinearity="relu"),
    ):
        super().__init__()
        self.linear = nn.Linear(in_features, out_features, bias)
        if w_init_:
            w_init_(self.linear.weight.data)
        self.norm = nn.BatchNorm1d(out_features)

    def forward(self, x):
        return self.norm(torch.relu(self.linear(x)))


class DefaultInitMLP(nn.Module):
    """The default init function only passed on to each block (torchtuples' MLPVanilla)."""

    def __init__(
        self,
        in_features,
        num_nodes,
        out_features,
        w_init_=lambda w: nn.init.kaiming_normal_(w, nonlinearity="relu"),
    ):
        super().__init__()
        sizes = [in_features, *num_nodes]
        net = []
        for n_in, n_out in zip(sizes[:-1], sizes[1:]):
            net.append(DefaultInitBlock(n_in, n_out, True, w_init_))
        net.append(nn.Linear(sizes[-1], out_features))
        self.net = nn.Sequential(*net)

    def forward(self, x):
        return self.net(x)
