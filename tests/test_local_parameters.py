"""Parameters made from local tensors and initialised through a method with arguments (the
siren-pytorch idiom): ``w = torch.zeros(o, i)``, ``self.init_(w, b, c=c)`` with
``w.uniform_(-s, s)`` inside (``if exists(b):`` guarding the bias), ``self.w = nn.Parameter(w)``."""

from __future__ import annotations

import math
import textwrap

import numpy as np
import pytest
import tensorflow as tf
import torch
import torch.nn.functional as F
from torch import nn

import torch2tf
from torch2tf import TranslationError


def exists(value):
    return value is not None


class SineLayer(nn.Module):
    def __init__(self, dim_in, dim_out, w0=30.0, c=6.0, is_first=False, use_bias=True):
        super().__init__()
        self.dim_in = dim_in
        self.is_first = is_first
        self.w0 = w0
        weight = torch.zeros(dim_out, dim_in)
        bias = torch.zeros(dim_out) if use_bias else None
        self.init_(weight, bias, c=c, w0=w0)
        self.weight = nn.Parameter(weight)
        self.bias = nn.Parameter(bias) if use_bias else None

    def init_(self, weight, bias, c, w0):
        dim = self.dim_in
        bound = (1 / dim) if self.is_first else (math.sqrt(c / dim) / w0)
        weight.uniform_(-bound, bound)
        if exists(bias):
            bias.uniform_(-bound, bound)

    def forward(self, x):
        return torch.sin(self.w0 * F.linear(x, self.weight, self.bias))


@pytest.mark.parametrize("use_bias", [True, False])
def test_a_sine_layer_converts_and_draws_from_torchs_distribution(use_bias):
    torch.manual_seed(0)
    model = SineLayer(64, 256, is_first=False, use_bias=use_bias)
    args = (64, 256, 30.0, 6.0, False, use_bias)
    result = torch2tf.convert(model, args=args, inputs=torch.randn(16, 64))
    assert result.passed, result.table()
    assert "torch" not in result.source.split("class SineLayer")[1]
    tf.keras.utils.set_random_seed(0)
    fresh = type(result.keras_model)(*args)
    bound = math.sqrt(6.0 / 64) / 30.0
    for variable in [fresh.weight] + ([fresh.bias] if use_bias else []):
        values = variable.numpy()
        assert np.abs(values).max() <= bound and np.abs(values).max() > 0.95 * bound
        # U(-b, b): standard deviation b / sqrt(3), within 5 standard errors of it
        spread = values.std() / (bound / math.sqrt(3))
        assert abs(spread - 1) < 5 * 0.5 / math.sqrt(values.size)
    assert (fresh.bias is None) is (not use_bias)


def test_a_local_tensor_changed_otherwise_is_refused():
    source = textwrap.dedent(
        """
        import torch
        from torch import nn

        class M(nn.Module):
            def __init__(self, d):
                super().__init__()
                w = torch.zeros(d, d)
                nn.init.eye_(w)
                w.mul_(2)
                self.w = nn.Parameter(w)

            def forward(self, x):
                return x @ self.w
        """
    )
    with pytest.raises(TranslationError, match=r"the local tensor w becomes self\.w"):
        torch2tf.translate_source(source)


def test_an_init_function_on_a_local_tensor_made_a_parameter():
    source = textwrap.dedent(
        """
        import torch
        from torch import nn

        class M(nn.Module):
            def __init__(self, d):
                super().__init__()
                w = torch.empty(d, 2 * d)
                nn.init.xavier_uniform_(w)
                self.w = nn.Parameter(w)

            def forward(self, x):
                return x @ self.w
        """
    )
    code = torch2tf.translate_source(source)
    assert "torch" not in code.split("class M")[1]
    assert "shape=(d, 2 * d)" in code and "GlorotUniform" in code
