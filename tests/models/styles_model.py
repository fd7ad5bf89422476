from typing import Optional

import functools

import torch
from torch import nn
from torch.nn import Linear, ReLU


def mlp_block(in_dim: int, out_dim: int, activation_fn: type[nn.Module] = nn.ReLU) -> nn.Module:
    """A Linear followed by an activation, built by a module-level factory."""
    return nn.Sequential(Linear(in_dim, out_dim), activation_fn())


class Base(nn.Module):
    """A project's own base class."""

    def num_layers(self) -> int:
        return 2


class Policy(Base):
    hidden_default = 16

    def __init__(
        self, obs_dim: int, act_dim: int, hidden: Optional[int] = None, norm: bool = False
    ):
        super().__init__()
        hidden = hidden or self.hidden_default
        self.body = mlp_block(obs_dim, hidden)
        self.hidden_layers = nn.ModuleList([mlp_block(hidden, hidden, nn.ReLU) for _ in range(2)])
        self.norm = nn.BatchNorm1d(hidden) if norm else None
        self.head = Linear(hidden, act_dim)
        self.act = ReLU()
        self.leaky = functools.partial(nn.LeakyReLU, 0.2)()

    @property
    def depth(self) -> int:
        return len(self.hidden_layers)

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        x = self.body(obs)
        for layer in self.hidden_layers:
            x = layer(x)
        if self.norm is not None:
            x = self.norm(x)
        return self.head(self.act(x))


class Configurable(nn.Module):
    """Layer classes and partials passed as values, constructed later."""

    def __init__(self, width: int, activation_fn=nn.Tanh, out_activation=None):
        super().__init__()
        self.fc = nn.Linear(width, width)
        self.act = activation_fn()
        self.out = out_activation() if out_activation is not None else nn.Identity()

    def forward(self, x):
        return self.out(self.act(self.fc(x)))


class Wrapped(nn.Module):
    """A backbone built outside and passed in, with a head of its own."""

    def __init__(self, backbone: nn.Module, outputs: int):
        super().__init__()
        self.backbone = backbone
        self.head = nn.Linear(8, outputs)

    def forward(self, x):
        return self.head(self.backbone(x))
