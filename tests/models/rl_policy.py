"""A PPO-style Gaussian actor-critic with the usual orthogonal initialisation."""

import math

import torch
import torch.nn as nn


class ActorCritic(nn.Module):
    def __init__(self, obs_dim, act_dim, hidden_sizes=(64, 64)):
        super().__init__()
        layers = []
        last = obs_dim
        for size in hidden_sizes:
            layers.append(nn.Linear(last, size))
            layers.append(nn.Tanh())
            last = size
        self.trunk = nn.Sequential(*layers)
        self.pi = nn.Linear(last, act_dim)
        self.v = nn.Linear(last, 1)
        self.log_std = nn.Parameter(torch.zeros(act_dim))
        self._init_weights()

    def _init_weights(self):
        """Orthogonal init: sqrt(2) in the trunk, small for the policy head, 1 for the value."""
        for m in self.trunk:
            if isinstance(m, nn.Linear):
                nn.init.orthogonal_(m.weight, gain=math.sqrt(2))
                nn.init.zeros_(m.bias)
        nn.init.orthogonal_(self.pi.weight, gain=0.01)
        nn.init.orthogonal_(self.v.weight, gain=1.0)
        for head in [self.pi, self.v]:
            nn.init.zeros_(head.bias)

    def forward(self, obs):
        h = self.trunk(obs)
        mean = self.pi(h)
        std = torch.exp(self.log_std).expand_as(mean)
        return torch.cat([mean, std, self.v(h)], dim=-1)
