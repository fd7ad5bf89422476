"""A model class extended by a subclass that adds a head after super().__init__()."""

import torch
import torch.nn as nn


class Base(nn.Module):
    def __init__(self, d_in, d_hidden):
        super().__init__()
        self.fc = nn.Linear(d_in, d_hidden)

    def forward(self, x):
        return torch.relu(self.fc(x))


class WithHead(Base):
    def __init__(self, d_in, d_hidden, d_out):
        super().__init__(d_in, d_hidden)
        self.head = nn.Linear(d_hidden, d_out)

    def forward(self, x):
        return self.head(super().forward(x))
