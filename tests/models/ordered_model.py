from collections import OrderedDict

import torch.nn as nn


class Named(nn.Module):
    def __init__(self, n):
        super().__init__()
        self.body = nn.Sequential(
            OrderedDict([("fc1", nn.Linear(n, 8)), ("act", nn.ReLU()), ("fc2", nn.Linear(8, 2))])
        )
        self.head = nn.Sequential(OrderedDict({"out": nn.Linear(2, 1)}))

    def forward(self, x):
        return self.head(self.body(x))
