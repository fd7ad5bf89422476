"""Tabular GAN networks in the style of tabular-synthesis libraries (written for tests)."""

import torch
from torch.nn import BatchNorm1d, Dropout, LeakyReLU, Linear, Module, ReLU, Sequential


class PackedCritic(Module):
    """Scores packs of rows: several samples are concatenated before the first layer."""

    def __init__(self, input_dim, discriminator_dim, pac=10):
        super(PackedCritic, self).__init__()
        dim = input_dim * pac
        self.pac = pac
        self.pacdim = dim
        seq = []
        for item in list(discriminator_dim):
            seq += [Linear(dim, item), LeakyReLU(0.2), Dropout(0.5)]
            dim = item

        seq += [Linear(dim, 1)]
        self.seq = Sequential(*seq)

    def forward(self, input_):
        """Score the packed rows."""
        assert input_.size()[0] % self.pac == 0
        return self.seq(input_.view(-1, self.pacdim))


class WideningBlock(Module):
    """Linear-BatchNorm-ReLU whose output is concatenated with its input."""

    def __init__(self, i, o):
        super(WideningBlock, self).__init__()
        self.fc = Linear(i, o)
        self.bn = BatchNorm1d(o)
        self.relu = ReLU()

    def forward(self, input_):
        """Concatenate the block output with its input."""
        out = self.fc(input_)
        out = self.bn(out)
        out = self.relu(out)
        return torch.cat([out, input_], dim=1)


class RowGenerator(Module):
    """Residual blocks that widen the representation, then a Linear head."""

    def __init__(self, embedding_dim, generator_dim, data_dim):
        super(RowGenerator, self).__init__()
        dim = embedding_dim
        seq = []
        for item in list(generator_dim):
            seq += [WideningBlock(dim, item)]
            dim += item
        seq.append(Linear(dim, data_dim))
        self.seq = Sequential(*seq)

    def forward(self, input_):
        """Generate rows from noise."""
        data = self.seq(input_)
        return data
