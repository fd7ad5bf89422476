"""An actor-critic feature extractor in the style of RL libraries (written for tests)."""

from typing import Dict, List, Tuple, Type, Union

import torch as th
from torch import nn


class ActorCriticMlp(nn.Module):
    """Separate policy and value MLPs on shared features, as RL libraries build them."""

    def __init__(
        self,
        feature_dim: int,
        net_arch: Union[List[int], Dict[str, List[int]]],
        activation_fn: Type[nn.Module],
        device: Union[th.device, str] = "auto",
    ) -> None:
        super().__init__()
        policy_net: List[nn.Module] = []
        value_net: List[nn.Module] = []
        width_pi = feature_dim
        width_vf = feature_dim

        if isinstance(net_arch, dict):
            pi_layers_dims = net_arch.get("pi", [])
            vf_layers_dims = net_arch.get("vf", [])
        else:
            pi_layers_dims = vf_layers_dims = net_arch
        for width in pi_layers_dims:
            policy_net.append(nn.Linear(width_pi, width))
            policy_net.append(activation_fn())
            width_pi = width
        for width in vf_layers_dims:
            value_net.append(nn.Linear(width_vf, width))
            value_net.append(activation_fn())
            width_vf = width

        self.latent_dim_pi = width_pi
        self.latent_dim_vf = width_vf

        self.policy_net = nn.Sequential(*policy_net)
        self.value_net = nn.Sequential(*value_net)

    def forward(self, features: th.Tensor) -> Tuple[th.Tensor, th.Tensor]:
        """Both heads' latent features."""
        return self.forward_actor(features), self.forward_critic(features)

    def forward_actor(self, features: th.Tensor) -> th.Tensor:
        return self.policy_net(features)

    def forward_critic(self, features: th.Tensor) -> th.Tensor:
        return self.value_net(features)
