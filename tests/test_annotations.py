"""torch types in annotations: a module type becomes ``tf.keras.layers.Layer``, an optimizer
``tf.keras.optimizers.Optimizer`` (stable-baselines3's ``optimizer: th.optim.Optimizer``);
as a value, an optimizer class stays refused."""

from __future__ import annotations

import textwrap

import pytest

import torch2tf
from torch2tf import TranslationError

HEADER = "import torch as th\nfrom torch import nn\n\n"


def test_an_optimizer_annotation_becomes_kerass():
    code = torch2tf.translate_source(
        HEADER
        + textwrap.dedent(
            """
            class Policy(nn.Module):
                optimizer: th.optim.Optimizer

                def __init__(self, d: int, opt: type[th.optim.Optimizer] | None = None):
                    super().__init__()
                    self.fc = nn.Linear(d, d)

                def forward(self, x):
                    return self.fc(x)
            """
        )
    )
    assert "    optimizer: tf.keras.optimizers.Optimizer\n" in code
    assert "opt: type[tf.keras.optimizers.Optimizer] | None = None" in code


def test_an_optimizer_class_as_a_value_is_still_refused():
    message = r"^<string>:6:64: error: torch\.optim\.Adam is not translated"
    with pytest.raises(TranslationError, match=message):
        torch2tf.translate_source(
            HEADER
            + textwrap.dedent(
                """
                class Policy(nn.Module):
                    def __init__(self, d: int, opt: type[th.optim.Optimizer] = th.optim.Adam):
                        super().__init__()
                        self.opt = opt
                        self.fc = nn.Linear(d, d)

                    def forward(self, x):
                        return self.fc(x)
                """
            )
        )
