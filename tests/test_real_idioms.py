"""Idioms of real model code (issue 9's corpus), each converted through the public API and
checked against torch in eval and train mode (float32: atol 1e-5, rtol 1e-4)."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

import pytest
import torch

import torch2tf
from torch2tf import translate_file

ATOL, RTOL = 1e-5, 1e-4


def _x(*shape: int) -> torch.Tensor:
    return torch.randn(*shape, generator=torch.Generator().manual_seed(0))


@pytest.fixture
def load(tmp_path: Path, monkeypatch):
    """Write ``source`` as a module of its own and import it: (module, its path)."""
    monkeypatch.syspath_prepend(str(tmp_path))

    def loaded(name: str, source: str):
        path = tmp_path / f"{name}.py"
        path.write_text(source, encoding="utf-8")
        sys.modules.pop(name, None)
        return importlib.import_module(name), path

    yield loaded


def _converts(model, inputs, args=(), kwargs=None) -> None:
    result = torch2tf.convert(
        model, args=args, kwargs=kwargs or {}, inputs=inputs, atol=ATOL, rtol=RTOL
    )
    assert [c.mode for c in result.checks] == ["eval", "train"]
    assert result.passed, result.table()


FUNCTION_ATTRIBUTES = """
import torch
from torch import nn


def scaled_tanh(x):
    return 2 * torch.tanh(x)


class Head(nn.Module):
    def __init__(self, d, squash=True, act=None):
        super().__init__()
        self.fc = nn.Linear(d, d)
        self.f = scaled_tanh
        self.g = torch.sigmoid if squash else (lambda x: x)
        self.drop = nn.Dropout(0.2)
        self.act = nn.ReLU() if act is None else act

    def forward(self, x):
        return self.act(self.drop(self.g(self.f(self.fc(x)))))
"""


@pytest.mark.parametrize("squash", [True, False])
def test_an_attribute_holding_a_plain_function_is_called_without_training(load, squash):
    module, path = load("function_attributes", FUNCTION_ATTRIBUTES)
    code = translate_file(path)
    assert "self.g(self.f(self.fc(x)))" in code  # plain functions: no training=
    assert "self.drop(" in code and "training=training)" in code
    torch.manual_seed(0)
    _converts(module.Head(6, squash=squash), (_x(16, 6),), args=(6,), kwargs={"squash": squash})
