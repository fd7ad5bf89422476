"""Models that take token ids: a bag-of-embeddings classifier, and ids plus float features."""

import torch
import torch.nn as nn


class BagOfEmbeddings(nn.Module):
    """Token ids -> embeddings -> mean over the sequence -> class scores."""

    def __init__(self, vocab_size: int, dim: int, classes: int):
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, dim)
        self.classifier = nn.Linear(dim, classes)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.embedding(ids).mean(dim=1))


class IdsAndFeatures(nn.Module):
    """Token ids and a float feature vector per row, combined before the head."""

    def __init__(self, vocab_size: int, dim: int, features: int, classes: int):
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, dim)
        self.features = nn.Linear(features, dim)
        self.norm = nn.LayerNorm(dim)
        self.head = nn.Linear(dim, classes)

    def forward(self, ids, features):
        pooled = self.embedding(ids).mean(dim=1)
        return self.head(torch.relu(self.norm(pooled + self.features(features))))
