import torch.nn as nn
from torch.nn import init


def init_weights(module):
    """Initialise like many RL codebases do."""
    if isinstance(module, nn.Linear):
        nn.init.orthogonal_(module.weight, gain=nn.init.calculate_gain("tanh"))
        nn.init.constant_(module.bias, 0.0)


class Applied(nn.Module):
    def __init__(self, n):
        super().__init__()
        self.fc1 = nn.Linear(n, 32)
        self.fc2 = nn.Linear(32, 4)
        self.apply(init_weights)

    def forward(self, x):
        return self.fc2(self.fc1(x).tanh())


class Method(nn.Module):
    def __init__(self, n):
        super().__init__()
        self.fc1 = nn.Linear(n, 32)
        self.bn = nn.BatchNorm1d(32)
        self.fc2 = nn.Linear(32, 4)
        init.kaiming_normal_(self.fc1.weight, mode="fan_out", nonlinearity="relu")
        self.apply(self._init)

    def _init(self, m):
        if isinstance(m, nn.BatchNorm1d):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
        elif isinstance(m, nn.Linear):
            m.bias.data.fill_(0.01)

    def forward(self, x):
        return self.fc2(self.bn(self.fc1(x)))


class Ordered(nn.Module):
    """Init code only reaches layers that exist when it runs; later init code wins."""

    def __init__(self, n):
        super().__init__()
        self.early = nn.Linear(n, n)
        nn.init.zeros_(self.early.weight)
        self.apply(self._ones)
        self.late = nn.Linear(n, n)

    def _ones(self, m):
        if isinstance(m, nn.Linear):
            nn.init.ones_(m.weight)

    def forward(self, x):
        return self.late(self.early(x))
