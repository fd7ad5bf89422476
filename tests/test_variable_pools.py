"""Pools whose kernel size and stride are constructor variables (exact without padding), as in
the series decomposition of Autoformer-style forecasters; and what stays refused."""

from __future__ import annotations

import pytest
import torch
from layer_harness import convert_checked
from test_cnn import images

from torch2tf import TranslationError
from torch2tf.translate import translate_source

DECOMPOSITION = """
import torch
import torch.nn as nn


class MovingAvg(nn.Module):
    \"\"\"A moving average over time, the series' ends repeated as padding.\"\"\"

    def __init__(self, kernel_size, stride):
        super().__init__()
        self.kernel_size = kernel_size
        self.avg = nn.AvgPool1d(kernel_size=kernel_size, stride=stride, padding=0)

    def forward(self, x):
        front = x[:, 0:1, :].repeat(1, (self.kernel_size - 1) // 2, 1)
        end = x[:, -1:, :].repeat(1, (self.kernel_size - 1) // 2, 1)
        x = torch.cat([front, x, end], dim=1)
        x = self.avg(x.permute(0, 2, 1))
        return x.permute(0, 2, 1)


class SeriesDecomp(nn.Module):
    def __init__(self, kernel_size, d_model):
        super().__init__()
        self.moving_avg = MovingAvg(kernel_size, stride=1)
        self.proj = nn.Linear(d_model, d_model)

    def forward(self, x):
        trend = self.moving_avg(x)
        return self.proj(x - trend), trend
"""


@pytest.mark.parametrize("kernel_size", [3, 25])
def test_series_decomposition_with_a_variable_kernel_is_exact(tmp_path, kernel_size):
    series = torch.randn(4, 48, 7, generator=torch.Generator().manual_seed(0))
    result = convert_checked(
        tmp_path, DECOMPOSITION, series, class_name="SeriesDecomp", args=(kernel_size, 7)
    )
    squashed = "".join(result.source.split())
    assert "tf.keras.layers.AveragePooling1D(kernel_size,strides=stride," in squashed
    assert "transpose" not in squashed  # the permutes around the pool: its channels-last input


NET = """
import torch.nn as nn
import torch.nn.functional as F


class Net(nn.Module):
    def __init__(self, k, s=None):
        super().__init__()
        self.k = k
        self.conv = nn.Conv2d(3, 4, 1)
        self.pool = nn.MaxPool2d(k, s)
        self.avg = nn.AvgPool2d(k, stride=s, padding=0)

    def forward(self, x):
        x = self.conv(x)
        return self.pool(x) + self.avg(x) + F.max_pool2d(x, self.k)
"""


@pytest.mark.parametrize(("k", "s"), [(2, None), ((2, 3), None), (3, 3), (2, (2, 2))])
def test_variable_pool_sizes_on_maps_are_exact(tmp_path, k, s):
    convert_checked(tmp_path, NET, images(3, 12), args=(k, s))


@pytest.mark.parametrize(
    ("layer", "message"),
    [
        ("nn.MaxPool2d(k, padding=1)", "kernel_size= and stride= must be literal with padding"),
        ("nn.AvgPool2d(k, ceil_mode=True)", "must be literal with ceil_mode=True"),
        ("nn.MaxPool2d(2, padding=p)", "padding= must be literal"),
    ],
)
def test_variable_sizes_that_need_torchs_windows_are_refused(layer, message):
    source = NET.replace("nn.MaxPool2d(k, s)", layer).replace("s=None", "s=None, p=0")
    with pytest.raises(TranslationError, match=message):
        translate_source(source)
