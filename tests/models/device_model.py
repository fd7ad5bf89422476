import torch
import torch.nn as nn


def get_device():
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


class OnDevice(nn.Module):
    def __init__(self, n, device=None):
        super().__init__()
        self.device = device or get_device()
        self.fc = nn.Linear(n, n, device=self.device)
        self.to(self.device)

    def forward(self, x):
        x = x.to(self.device)
        return self.fc(x).cpu()
