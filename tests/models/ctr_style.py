"""Click-through-rate models in the style of recommender packages: init loops over one
attribute's named_parameters(), over a literal list of parameters, and over the slices of a
stacked parameter; torch.tensordot contractions."""

import torch
import torch.nn as nn


class DeepTower(nn.Module):
    """An MLP whose hidden weights are initialised through the container's named_parameters()."""

    def __init__(self, inputs_dim, hidden_units, init_std=0.05):
        super().__init__()
        hidden_units = [inputs_dim] + list(hidden_units)
        self.linears = nn.ModuleList(
            [nn.Linear(hidden_units[i], hidden_units[i + 1]) for i in range(len(hidden_units) - 1)]
        )
        self.out = nn.Linear(hidden_units[-1], 1)
        for name, tensor in self.linears.named_parameters():
            if "weight" in name:
                nn.init.normal_(tensor, mean=0, std=init_std)
        for p in self.out.parameters():
            nn.init.zeros_(p)

    def forward(self, inputs):
        x = inputs
        for i in range(len(self.linears)):
            x = torch.relu(self.linears[i](x))
        return self.out(x)


class CrossLayers(nn.Module):
    """Stacked cross kernels, each slice initialised on its own (fans of one slice)."""

    def __init__(self, in_features, layer_num=2):
        super().__init__()
        self.layer_num = layer_num
        self.kernels = nn.Parameter(torch.Tensor(self.layer_num, in_features, in_features))
        self.bias = nn.Parameter(torch.Tensor(self.layer_num, in_features, 1))
        for i in range(self.kernels.shape[0]):
            nn.init.xavier_normal_(self.kernels[i])
        for i in range(len(self.bias)):
            nn.init.zeros_(self.bias[i])

    def forward(self, inputs):
        x_0 = inputs.unsqueeze(2)
        x_l = x_0
        for i in range(self.layer_num):
            xl_w = torch.matmul(self.kernels[i], x_l)
            x_l = x_0 * (xl_w + self.bias[i]) + x_l
        return torch.squeeze(x_l, dim=2)


class AttentionPooling(nn.Module):
    """Attention over field embeddings with raw parameters initialised through lists."""

    def __init__(self, embedding_size, attention_factor=4):
        super().__init__()
        self.attention_W = nn.Parameter(torch.Tensor(embedding_size, attention_factor))
        self.attention_b = nn.Parameter(torch.Tensor(attention_factor))
        self.projection_h = nn.Parameter(torch.Tensor(attention_factor, 1))
        for tensor in [self.attention_W, self.projection_h]:
            nn.init.xavier_normal_(tensor)
        for tensor in [self.attention_b]:
            nn.init.zeros_(tensor)

    def forward(self, embeddings):
        hidden = torch.relu(
            torch.tensordot(embeddings, self.attention_W, dims=([-1], [0])) + self.attention_b
        )
        scores = torch.softmax(torch.tensordot(hidden, self.projection_h, dims=([-1], [0])), 1)
        return torch.sum(scores * embeddings, dim=1)
