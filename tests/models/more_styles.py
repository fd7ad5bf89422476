"""More MLP styles: flattened images, pre-norm residual blocks on 3-D input, a VAE."""

import torch
import torch.nn as nn
import torch.nn.functional as F


class MnistMLP(nn.Module):
    def __init__(self, hidden=(128, 64), num_classes=10, dropout=0.2):
        super().__init__()
        self.flatten = nn.Flatten()
        self.layers = nn.ModuleList()
        in_dim = 28 * 28
        for h in hidden:
            self.layers.append(nn.Linear(in_dim, h))
            in_dim = h
        self.dropout = nn.Dropout(p=dropout)
        self.classifier = nn.Linear(in_dim, num_classes)
        self.apply(self._init_weights)

    def _init_weights(self, module):
        if isinstance(module, nn.Linear):
            module.weight.data.normal_(mean=0.0, std=0.02)
            if module.bias is not None:
                module.bias.data.zero_()

    def forward(self, x):
        x = self.flatten(x)
        for i, layer in enumerate(self.layers):
            x = F.gelu(layer(x))
            if i < len(self.layers) - 1:
                x = self.dropout(x)
        return F.log_softmax(self.classifier(x), dim=-1)


class PreNormBlock(nn.Module):
    def __init__(self, dim, expansion=4, dropout=0.0):
        super().__init__()
        self.norm = nn.LayerNorm(dim)
        self.mlp = nn.Sequential(
            nn.Linear(dim, dim * expansion),
            nn.GELU(),
            nn.Dropout(dropout),
            nn.Linear(dim * expansion, dim),
        )

    def forward(self, x):
        return x + self.mlp(self.norm(x))


class ResMLP(nn.Module):
    def __init__(self, in_dim, dim, depth, out_dim):
        super().__init__()
        self.embed = nn.Linear(in_dim, dim)
        self.blocks = nn.Sequential(*[PreNormBlock(dim) for _ in range(depth)])
        self.head = nn.Linear(dim, out_dim)

    def forward(self, x):
        h = self.blocks(self.embed(x))
        return self.head(h.mean(dim=1)) if h.dim() == 3 else self.head(h)


class VAE(nn.Module):
    def __init__(self, x_dim, z_dim, h_dim=32):
        super().__init__()
        self.enc = nn.Sequential(nn.Linear(x_dim, h_dim), nn.ReLU())
        self.mu = nn.Linear(h_dim, z_dim)
        self.logvar = nn.Linear(h_dim, z_dim)
        self.dec = nn.Sequential(nn.Linear(z_dim, h_dim), nn.ReLU(), nn.Linear(h_dim, x_dim), nn.Sigmoid())

    def encode(self, x):
        h = self.enc(x)
        return self.mu(h), self.logvar(h)

    def reparameterize(self, mu, logvar):
        if self.training:
            std = torch.exp(0.5 * logvar)
            eps = torch.randn_like(std)
            return mu + eps * std
        return mu

    def forward(self, x):
        mu, logvar = self.encode(x)
        z = self.reparameterize(mu, logvar)
        return self.dec(z), mu, logvar
