"""The torch model of bench_rnn.py (convert reads a class's source from its own file)."""

import torch
from torch import nn


class Classifier(nn.Module):
    """An LSTM over a sequence, a linear head on the last hidden state."""

    def __init__(self, features: int, hidden: int, classes: int) -> None:
        super().__init__()
        self.lstm = nn.LSTM(features, hidden, batch_first=True)
        self.fc = nn.Linear(hidden, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out, (h, c) = self.lstm(x)
        return self.fc(h[-1])
