import torch
import torch.nn as nn
import torch.nn.functional as F


class FDrop(nn.Module):
    def __init__(self, n):
        super().__init__()
        self.fc = nn.Linear(n, n)

    def forward(self, x):
        return F.dropout(F.relu(self.fc(x)), p=0.5, training=self.training)
