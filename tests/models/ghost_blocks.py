"""Tabular blocks in pytorch-tabnet's style: init functions with a computed gain applied to a
layer that may be shared (passed in) or new, and ghost batch norm over virtual batches."""

import numpy as np
import torch
from torch import nn


def gated_init(layer, fan_in, fan_out):
    gain = np.sqrt((fan_in + fan_out) / np.sqrt(fan_in))
    nn.init.xavier_normal_(layer.weight, gain=gain)


class GhostNorm(nn.Module):
    """Batch norm over virtual batches: torch.chunk into ceil(B / size) pieces."""

    def __init__(self, features, virtual_batch=8, momentum=0.05):
        super().__init__()
        self.virtual_batch = virtual_batch
        self.norm = nn.BatchNorm1d(features, momentum=momentum)

    def forward(self, x):
        pieces = x.chunk(int(np.ceil(x.shape[0] / self.virtual_batch)), 0)
        return torch.cat([self.norm(piece) for piece in pieces], dim=0)


class GatedUnit(nn.Module):
    def __init__(self, d_in, d_out, shared=None, virtual_batch=8):
        super().__init__()
        self.d_out = d_out
        if shared:
            self.proj = shared
        else:
            self.proj = nn.Linear(d_in, 2 * d_out, bias=False)
        gated_init(self.proj, d_in, 2 * d_out)
        self.norm = GhostNorm(2 * d_out, virtual_batch)

    def forward(self, x):
        h = self.norm(self.proj(x))
        return h[:, : self.d_out] * torch.sigmoid(h[:, self.d_out :])


class SharedGates(nn.Module):
    """Two stacks of gated units sharing their first projection."""

    def __init__(self, d_in, d_out, virtual_batch=8):
        super().__init__()
        first = nn.Linear(d_in, 2 * d_out, bias=False)
        self.left = GatedUnit(d_in, d_out, shared=first, virtual_batch=virtual_batch)
        self.right = GatedUnit(d_in, d_out, shared=first, virtual_batch=virtual_batch)
        self.head = GatedUnit(d_out, d_out, virtual_batch=virtual_batch)

    def forward(self, x):
        return self.head(self.left(x) + self.right(x))


class Heads(nn.Module):
    """One head, or one per task (a local layer initialised, then appended, in a loop); the
    features mixed by a fixed matrix (the identity by default)."""

    def __init__(self, d_in, out, mix=None):
        super().__init__()
        self.multi = isinstance(out, list)
        self.mix = torch.eye(d_in) if mix is None else mix
        if self.multi:
            self.heads = nn.ModuleList()
            for d_out in out:
                head = nn.Linear(d_in, d_out)
                gated_init(head, d_in, d_out)
                self.heads.append(head)
        else:
            self.head = nn.Linear(d_in, out)
            gated_init(self.head, d_in, out)

    def forward(self, x):
        x = torch.matmul(x, self.mix)
        if self.multi:
            return [head(x) for head in self.heads]
        return self.head(x)
