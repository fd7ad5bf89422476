"""Private classes (a leading underscore, as rtdl_num_embeddings' _NLinear and tabm's
_MLPBackboneBase): Keras names their layers "_n_linear", a name scope TensorFlow refuses
when Keras traces the layer to build it. A private root class has a public subclass and a
private one without an __init__ of its own; a private class has no __init__ at all."""

import torch
from torch import nn
from torch.nn.parameter import Parameter


class _NLinear(nn.Module):
    """n separate linear maps, one per feature."""

    def __init__(self, n: int, in_features: int, out_features: int) -> None:
        super().__init__()
        self.weight = Parameter(torch.empty(n, in_features, out_features))
        self.bias = Parameter(torch.empty(n, out_features))
        self.reset_parameters()

    def reset_parameters(self):
        bound = self.weight.shape[-2] ** -0.5
        nn.init.uniform_(self.weight, -bound, bound)
        nn.init.uniform_(self.bias, -bound, bound)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.transpose(0, 1)
        x = x @ self.weight
        x = x.transpose(0, 1)
        return x + self.bias


class _Block(nn.Module):
    def __init__(self, d: int) -> None:
        super().__init__()
        self.linear = nn.Linear(d, d)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear(x)


class Block(_Block):
    pass


class _ReluBlock(Block):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.linear(x))


class _Twice(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return 2.0 * x


class Features(nn.Module):
    def __init__(self, n: int = 3, d: int = 4) -> None:
        super().__init__()
        self.embed = _NLinear(n, d, d)
        self.block = Block(d)
        self.relu_block = _ReluBlock(d)
        self.twice = _Twice()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.twice(self.relu_block(self.block(self.embed(x))))
