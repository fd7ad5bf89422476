"""Combinations of recurrent layers seen in real code (issue 12): a Conv1d feature extractor
before a GRU (the map's channels-last layout from the tensor facts), attention pooling over
LSTM outputs, and LayerNorm on RNN outputs; each converted and checked per layer."""

from __future__ import annotations

import torch
from layer_harness import HEADER, convert_checked

CRNN = f"""{HEADER}

class ConvGRU(nn.Module):
    def __init__(self, channels=4, hidden=16, classes=3):
        super().__init__()
        self.conv = nn.Conv1d(channels, 8, kernel_size=3, padding=1)
        self.bn = nn.BatchNorm1d(8)
        self.gru = nn.GRU(8, hidden, batch_first=True, bidirectional=True)
        self.fc = nn.Linear(2 * hidden, classes)

    def forward(self, x):
        features = torch.relu(self.bn(self.conv(x)))  # (N, C, L)
        out, h = self.gru(features.permute(0, 2, 1))  # (N, L, C) into the GRU
        return self.fc(torch.cat((h[-2], h[-1]), dim=1))
"""

ATTENTION_POOLING = f"""{HEADER}

class AttentionPooled(nn.Module):
    def __init__(self, features=5, hidden=12, classes=2):
        super().__init__()
        self.lstm = nn.LSTM(features, hidden, batch_first=True)
        self.score = nn.Linear(hidden, 1)
        self.norm = nn.LayerNorm(hidden)
        self.fc = nn.Linear(hidden, classes)

    def forward(self, x):
        out, _ = self.lstm(x)
        out = self.norm(out)
        weights = torch.softmax(self.score(out).squeeze(-1), dim=1)  # (N, T)
        pooled = torch.sum(weights.unsqueeze(-1) * out, dim=1)
        return self.fc(pooled)
"""


def test_conv1d_features_before_a_gru(tmp_path):
    x = torch.randn(3, 4, 10, generator=torch.Generator().manual_seed(0))  # (N, C, L)
    conversion = convert_checked(tmp_path, CRNN, x, class_name="ConvGRU")
    model_code = conversion.source.split("class ConvGRU", 1)[1]
    assert "transpose" not in model_code  # the map is (N, L, C) already: the permute goes


def test_attention_pooling_and_layer_norm_over_lstm_outputs(tmp_path):
    x = torch.randn(4, 7, 5, generator=torch.Generator().manual_seed(1))
    convert_checked(tmp_path, ATTENTION_POOLING, x, class_name="AttentionPooled")
