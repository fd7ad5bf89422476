"""Building blocks of a tabular-learning package, written the way such packages write them."""

import logging
import math
import warnings

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.nn import init
from torch.nn.parameter import Parameter

logger = logging.getLogger(__name__)


class LinearBlock(nn.Module):
    """y = x W^T + b, with torch's own Linear initialisation spelt out."""

    def __init__(self, in_features: int, out_features: int, bias: bool = True) -> None:
        super().__init__()
        torch._C._log_api_usage_once("tabkit.LinearBlock")
        if in_features <= 0 or out_features <= 0:
            raise ValueError(f"sizes must be positive, got {in_features} and {out_features}")
        self.in_features = in_features
        self.out_features = out_features
        self.weight = Parameter(torch.empty((out_features, in_features)))
        if bias:
            self.bias = Parameter(torch.empty(out_features))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            fan_in, _ = init._calculate_fan_in_and_fan_out(self.weight)
            bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0
            init.uniform_(self.bias, -bound, bound)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 2:
            raise ValueError(f"expected a 2-D batch, got {x.dim()}-D")
        return F.linear(x, self.weight, self.bias)


class ResidualBlock(nn.Module):
    """Pre-norm residual MLP block with a learned, zero-centred residual gate."""

    def __init__(self, d: int, hidden: int, dropout: float = 0.1) -> None:
        super().__init__()
        assert 0.0 <= dropout < 1.0, "dropout must be in [0, 1)"
        if hidden < d:
            warnings.warn("hidden is narrower than the input", stacklevel=2)
        logger.debug("ResidualBlock(%d, %d)", d, hidden)
        self.norm = nn.BatchNorm1d(d)
        self.up = LinearBlock(d, hidden)
        self.down = LinearBlock(hidden, d, bias=False)
        self.dropout = nn.Dropout(dropout)
        self.gate = Parameter(torch.Tensor(d))
        nn.init.constant_(self.gate, 0.5)

    def forward(self, x):
        h = F.relu(self.up(self.norm(x)))
        return x + self.gate * self.down(self.dropout(h))


class TabularResNet(nn.Module):
    def __init__(
        self, n_features: int, d: int = 16, hidden: int = 32, n_blocks: int = 2, n_classes: int = 3
    ) -> None:
        super().__init__()
        self.stem = LinearBlock(n_features, d)
        self.blocks = nn.ModuleList([ResidualBlock(d, hidden) for _ in range(n_blocks)])
        self.head = nn.Linear(d, n_classes)

    def forward(self, x):
        x = self.stem(x)
        for block in self.blocks:
            x = block(x)
        return self.head(x)
