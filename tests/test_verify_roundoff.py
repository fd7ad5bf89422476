"""The verdict against torch's own round-off (src/torch2tf/roundoff.py).

A deep tanh MLP of gain 2 amplifies round-off: each Linear, BatchNorm1d and Tanh of its Keras
twin is within 1e-6 of torch's, but the stack of 40 of them (and so the model's output) is
4.1e-4 from torch's float32 output in eval mode, beyond atol 1e-5 + rtol 1e-4, while torch's
own float32 output is 3.6e-4 from its float64 one (the Keras output 2.7e-4). A gain of 3 over
60 layers is chaotic: the float32 output is noise in either framework, which must not pass.
"""

from __future__ import annotations

import copy
import dataclasses
import json
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest
import tensorflow as tf
import torch
from layer_harness import load_module

import torch2tf
from torch2tf.roundoff import FACTOR, as_float64, judge
from torch2tf.verify import check

DEEP = """
import torch.nn as nn


class Deep(nn.Module):
    def __init__(self, depth, norm):
        super().__init__()
        blocks = []
        for _ in range(depth):
            blocks.append(nn.Linear(64, 64))
            if norm:
                blocks.append(nn.BatchNorm1d(64))
            blocks.append(nn.Tanh())
            blocks.append(nn.Dropout(0.5))
        self.blocks = nn.Sequential(*blocks)

    def forward(self, x):
        return self.blocks(x)
"""


@pytest.fixture(scope="module")
def deep_module(tmp_path_factory: pytest.TempPathFactory) -> ModuleType:
    return load_module(tmp_path_factory.mktemp("deep"), DEEP)


def _deep(
    module: ModuleType, gain: float, depth: int, norm: bool = False, dtype=torch.float32
) -> torch.nn.Module:
    """Linear(64, 64) [BatchNorm1d] Tanh Dropout(0.5), ``depth`` times, weights N(0, gain/8)."""
    torch.manual_seed(0)
    with torch2tf.recording():
        model = module.Deep(depth, norm)
    for layer in model.modules():
        if isinstance(layer, torch.nn.Linear):
            torch.nn.init.normal_(layer.weight, std=gain / 8)
    return model.eval().to(dtype)


def _sample(dtype=torch.float32) -> torch.Tensor:
    return torch.randn(16, 64, generator=torch.Generator().manual_seed(0)).to(dtype)


def _own_error(model: torch.nn.Module, x: torch.Tensor, mode: str) -> float:
    """torch's float32 output against its float64 one, computed here independently."""
    single, double = copy.deepcopy(model), copy.deepcopy(model).double()
    for net in (single, double):
        net.train(mode == "train")
        for module in net.modules():
            if isinstance(module, torch.nn.Dropout):
                module.p = 0.0
    with torch.no_grad():
        return float((single(x).double() - double(x.double())).abs().max())


def _top_level_error(keras_model: tf.keras.Model, relative: float) -> None:
    """The Keras model's own call scales its first input feature by 1 + ``relative`` before its
    layers: a wrong constant in code between the layers, which no layer's check sees."""
    original = keras_model.call
    scale = tf.constant([1 + relative] + [1.0] * 63, keras_model.compute_dtype)

    def call(inputs, training=None):
        return original(inputs * scale, training=training)

    object.__setattr__(keras_model, "call", call)


def test_a_deep_float32_net_passes_by_torchs_own_round_off(
    deep_module: ModuleType, tmp_path: Path
) -> None:
    model, x = _deep(deep_module, 2.0, 40, norm=True), _sample()
    result = torch2tf.convert(model, inputs=x)
    assert result.passed and result.passed_by == "round-off"
    for c in result.checks:
        assert not c.within_tolerance and c.max_abs_error > 1e-5  # the plain verdict: missed
        assert all(layer.passed for layer in c.layers) and c.first_divergent_layer is None
        # the layers one by one are within 1e-6; the stack of them, like the model, is not
        blocks = c.layers[-1]
        assert blocks.layer == "blocks" and not blocks.within_tolerance
        assert blocks.roundoff is not None and blocks.roundoff.passed
        assert max(layer.max_abs_error for layer in c.layers[:-1]) < 1e-6
        assert all(layer.roundoff is None for layer in c.layers[:-1])
        roundoff = c.roundoff
        assert roundoff is not None and roundoff.passed and roundoff.reason is None
        assert roundoff.dtype == "float32" and roundoff.factor == FACTOR == 4.0
        # dropout off in the float64 copy, train mode on the batch's statistics
        assert roundoff.torch_error == pytest.approx(_own_error(model, x, c.mode), rel=1e-9)
        assert 1e-5 < roundoff.torch_error and roundoff.keras_error < FACTOR * roundoff.torch_error
    assert not model.training and next(model.parameters()).dtype == torch.float32
    table = result.table()
    assert "eval   (whole model, round-off)     " in table
    assert "from torch's float64 output, torch's own float32" in table
    assert "eval   (blocks, round-off)          " in table
    assert table.splitlines()[-1].startswith(
        "PASSED by the round-off comparison for outputs beyond the tolerance whose layers "
        "inside are all within it (eval: the whole output, blocks; train: the whole output, "
        "blocks): within 4x torch's own float32 round-off"
    )
    result.save(tmp_path / "out")
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert report["passed"] is True and report["passed_by"] == "round-off"
    eval_check = report["checks"][0]
    assert eval_check["within_tolerance"] is False
    assert eval_check["roundoff"]["keras_error"] == result.checks[0].roundoff.keras_error
    assert set(eval_check["roundoff"]) >= {"torch_error", "keras_error", "factor", "scale"}
    rows = {(row["mode"], row["layer"]): row for row in report["layers"]}
    assert rows["eval", "blocks"]["roundoff"]["passed"] is True
    assert rows["eval", "blocks.0"]["roundoff"] is None


def test_within_the_tolerance_no_float64_copy_is_made(deep_module: ModuleType) -> None:
    result = torch2tf.convert(_deep(deep_module, 1.5, 40), inputs=_sample())
    assert result.passed and result.passed_by == "tolerance"
    assert all(c.within_tolerance and c.roundoff is None for c in result.checks)
    assert "round-off" not in result.table()


def test_an_error_between_the_layers_fails_the_round_off_comparison(
    deep_module: ModuleType,
) -> None:
    """3e-5 on one input feature (about 500 float32 ulps) in the model's own call: 1.0e-2
    from torch's float64 output, 17 times torch's own round-off (6.1e-4), though every layer
    (teacher-forced) is within the tolerance."""
    model, x = _deep(deep_module, 2.0, 40), _sample()
    result = torch2tf.convert(model, inputs=x)
    _top_level_error(result.keras_model, 3e-5)
    checks = [
        check(model, result.keras_model, (x,), mode, facts=result.layouts)
        for mode in ("eval", "train")
    ]
    failed = dataclasses.replace(result, checks=checks)
    assert not failed.passed and failed.passed_by is None
    assert failed.first_divergent_layer is None
    for c in checks:
        assert all(layer.passed for layer in c.layers)
        assert c.roundoff is not None and not c.roundoff.passed and c.roundoff.reason is None
        assert c.roundoff.keras_error > 2 * FACTOR * c.roundoff.torch_error
    verdict = failed.table().splitlines()[-1]
    assert verdict.startswith("FAILED (no single layer diverges; the whole output is beyond")
    assert failed.report["passed_by"] is None


def test_a_layer_off_deep_in_the_net_is_named_and_no_float64_copy_is_made(
    deep_module: ModuleType,
) -> None:
    model, x = _deep(deep_module, 2.0, 40), _sample()
    result = torch2tf.convert(model, inputs=x)
    path = "blocks.90"  # the 31st Linear of 40
    assert isinstance(model.get_submodule(path), torch.nn.Linear)
    kernel = next(t.variable for t in result.transfers if t.torch_name == f"{path}.weight")
    kernel.assign(kernel * 1.001)
    checks = [check(model, result.keras_model, (x,), "eval", facts=result.layouts)]
    failed = dataclasses.replace(result, checks=checks)
    assert not failed.passed and failed.first_divergent_layer == path
    assert checks[0].roundoff is None
    assert failed.table().splitlines()[-1].startswith(f"FAILED (first divergent layer: {path}")


def test_a_chaotic_net_cannot_be_verified_in_float32(deep_module: ModuleType) -> None:
    """Gain 3 over 60 layers: torch's own float32 output is 2.0 from its float64 one (tanh's
    whole range), so anything as noisy would pass a ratio alone; the condition refuses it."""
    result = torch2tf.convert(_deep(deep_module, 3.0, 60), inputs=_sample())
    assert not result.passed and result.first_divergent_layer == "blocks"
    for c in result.checks:
        assert all(layer.passed for layer in c.layers[:-1])
        roundoff = c.layers[-1].roundoff
        assert roundoff is not None and not roundoff.passed
        assert roundoff.torch_error > 1.0 and roundoff.scale == pytest.approx(1.0)
        assert "too ill-conditioned to verify in float32" in roundoff.reason
    verdict = result.table().splitlines()[-1]
    assert verdict.startswith("FAILED (first divergent layer: blocks at ")
    assert "beyond the round-off comparison: " in verdict
    assert "(convert the model in float64)" in verdict


def test_float16_is_judged_against_its_own_coarser_round_off(deep_module: ModuleType) -> None:
    """float16 at atol 1e-3 + rtol 1e-3: 10 layers of gain 2 put torch's own float16 output
    6e-3 from float64 (under CONDITION["float16"], 1e-2 of the output's scale, accepted), 20
    layers 2.6e-2 (refused)."""
    x = _sample(torch.float16)
    shallow = torch2tf.convert(
        _deep(deep_module, 2.0, 10, dtype=torch.float16), inputs=x, atol=1e-3, rtol=1e-3
    )
    assert shallow.passed and shallow.passed_by == "round-off"
    for c in shallow.checks:
        roundoff = c.layers[-1].roundoff
        assert roundoff is not None and roundoff.passed and roundoff.dtype == "float16"
        assert 1e-3 < roundoff.torch_error < 1e-2 * roundoff.scale
    deep = torch2tf.convert(
        _deep(deep_module, 2.0, 20, dtype=torch.float16), inputs=x, atol=1e-3, rtol=1e-3
    )
    assert not deep.passed and deep.first_divergent_layer == "blocks"
    assert "too ill-conditioned to verify in float16" in deep.table().splitlines()[-1]


def test_float64_models_have_no_round_off_comparison(deep_module: ModuleType) -> None:
    model, x = _deep(deep_module, 2.0, 40, dtype=torch.float64), _sample(torch.float64)
    result = torch2tf.convert(model, inputs=x, atol=1e-10, rtol=0)
    assert result.passed_by == "tolerance"
    _top_level_error(result.keras_model, 3e-5)
    c = check(model, result.keras_model, (x,), "eval", atol=1e-10, rtol=0, facts=result.layouts)
    assert not c.passed and c.first_divergent_layer is None and c.roundoff is None


def test_judge_output_by_output() -> None:
    """An output within the plain tolerance passes as it is; another needs the ratio."""
    t32 = torch.tensor([1.0, 2.0])
    t64 = torch.tensor([1.0, 2.0 + 1e-6], dtype=torch.float64)
    exact = torch.tensor([3.0])
    near, far = np.array([1.0, 2.0 + 3e-6]), np.array([1.0, 2.0 + 6e-6])
    assert judge(
        "float32", [t32, exact], [t64, exact.double()], [near, exact], [False, True]
    ).passed
    refused = judge("float32", [t32, exact], [t64, exact.double()], [far, exact], [False, True])
    assert not refused.passed and refused.keras_error == pytest.approx(5e-6)
    assert refused.torch_error == pytest.approx(1e-6) and refused.scale == pytest.approx(3.0)
    assert not judge("float32", [t32], [t64], [near, exact], [False]).passed  # count differs
    assert as_float64(((t32, 1), {"k": exact.half()}))[1]["k"].dtype == torch.float64
