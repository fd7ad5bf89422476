"""Recurrent model classes from installed PyPI packages (tests/real_packages.txt), converted in
place through the public API, as tests/test_real_packages.py does for the MLP family.

Each class is imported from its installed location, converted with ``torch2tf.convert`` and
checked per layer in eval and train mode (float32: atol 1e-5, rtol 1e-4), reading no source
file of another distribution. Classes that do not convert yet are strict xfails naming the
first blocker (file:line of the package's source) and what follows it.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pytest
import torch
from digits_training import digits_rows, train_side_by_side
from test_real_packages import BATCH, FAILURES, Case, only_own_package, sample
from torch import nn

import torch2tf
from torch2tf.parity_training import weight_difference

ATOL, RTOL = 1e-5, 1e-4
STEPS = 60  # the trajectory length
LENGTHS = [5, 4, 3, 5, 1, 2, 5, 3, 4, 2, 1, 5, 3, 2, 4, 5]

__all__ = ["only_own_package"]  # the fixture, shared with the MLP-family corpus


@dataclass
class RecurrentCase(Case):
    """A Case whose parameters may need values after construction (``after(model)``): a
    package that leaves them uninitialised (``torch.Tensor(n, m)``) for its owner to fill."""

    after: Callable[[nn.Module], None] | None = None

    def build(self):
        model, args, kwargs, inputs = super().build()
        if self.after is not None:
            self.after(model)
        return model, args, kwargs, inputs


def _normal_weights(model: nn.Module) -> None:
    """What deepctr-torch's DIEN does to its GRU cells' weights (normal_), here to every
    parameter with std 0.5 so that the check is not trivial (the cells leave their weights
    uninitialised and their biases zero)."""
    generator = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for tensor in model.parameters():
            tensor.copy_(torch.randn(tensor.shape, generator=generator) * 0.5)


def _cell_inputs() -> tuple:
    return sample(BATCH, 4), sample(BATCH, 8), torch.rand(BATCH, generator=_seeded())


def _seeded() -> torch.Generator:
    return torch.Generator().manual_seed(2)


def _packed(x: torch.Tensor) -> object:
    lengths = torch.tensor(LENGTHS)
    return nn.utils.rnn.pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)


def _deepod(name: str, **kwargs) -> RecurrentCase:
    return RecurrentCase(
        "deepod.core.networks.base_networks",
        name,
        args=lambda: (4,),
        kwargs=lambda: {"n_output": 3, **kwargs},
        inputs=lambda: (sample(BATCH, 6, 4),),
    )


STACKED = {"n_hidden": "16,16", "bias": True, "dropout": 0.1}  # two layers, torch's two biases

# id -> (case, None if it converts today, else the blocker)
CASES: dict[str, tuple[RecurrentCase, str | None]] = {
    "deepod/GRUNet": (_deepod("GRUNet", **STACKED), None),
    "deepod/GRUNet-no-bias": (_deepod("GRUNet", n_hidden="16"), None),  # the fused Keras GRU
    "deepod/LSTMNet": (_deepod("LSTMNet", **STACKED), None),
    "deepod/LSTMNet-no-bias": (_deepod("LSTMNet", n_hidden="16"), None),
    # seq_reg_ad's own pair: the final state h_n[0, :] into two Linear heads
    "deepod/seq_reg_ad.GRUNet": (
        RecurrentCase(
            "deepod.models.time_series.seq_reg_ad",
            "GRUNet",
            args=lambda: (4,),
            kwargs=lambda: {"class_num": 3, "hidden_dim": 16, "emb_dim": 8, "layers": 2},
            inputs=lambda: (sample(BATCH, 6, 4),),
        ),
        None,
    ),
    "deepod/seq_reg_ad.LSTMNet": (
        RecurrentCase(
            "deepod.models.time_series.seq_reg_ad",
            "LSTMNet",
            args=lambda: (4,),
            kwargs=lambda: {"class_num": 3, "hidden_dim": 16, "emb_dim": 8},
            inputs=lambda: (sample(BATCH, 6, 4),),
        ),
        None,
    ),
    "ncps/LSTMCell": (
        RecurrentCase(
            "ncps.torch.lstm",
            "LSTMCell",
            args=lambda: (4, 8),
            inputs=lambda: (sample(BATCH, 4), (sample(BATCH, 8), sample(BATCH, 8))),
        ),
        None,
    ),
    "ncps/CfCCell": (
        RecurrentCase(
            "ncps.torch",
            "CfCCell",
            args=lambda: (4, 8),
            kwargs=lambda: {"backbone_units": 16},
            inputs=lambda: (sample(BATCH, 4), sample(BATCH, 8), 1.0),
        ),
        "ncps/torch/cfc_cell.py:133:16 the rank of self.sparsity_mask is not known: it is None "
        "or nn.Parameter(data=torch.from_numpy(np.abs(mask.T)...)) (:87), a tensor computed "
        "from a numpy argument",
    ),
    "ncps/CfC": (
        RecurrentCase(
            "ncps.torch",
            "CfC",
            args=lambda: (4, 8),
            kwargs=lambda: {"backbone_units": 16},
            inputs=lambda: (sample(BATCH, 6, 4),),
        ),
        "its CfCCell (cfc_cell.py:133:16, as for ncps/CfCCell); wired_cfc_cell.py:57 "
        "self.register_module",
    ),
    "ncps/LTCCell": (
        RecurrentCase(
            "ncps.torch",
            "LTCCell",
            args=lambda: (_wiring(), 4),
            inputs=lambda: (sample(BATCH, 4), sample(BATCH, 8), 1.0),
        ),
        "ncps/torch/ltc_cell.py:101 nn.Parameter(...) built in a loop by a helper and "
        "registered by a computed name (:102 register_parameter), torch.rand init (:110), "
        "torch.Tensor(numpy) masks (:139-171)",
    ),
    "deepctr-torch/AGRUCell": (
        RecurrentCase(
            "deepctr_torch.layers.sequence",
            "AGRUCell",
            args=lambda: (4, 8),
            inputs=_cell_inputs,
            after=_normal_weights,
        ),
        None,
    ),
    # register_parameter('bias_ih', self.bias_hh) (sequence.py:262) makes its two biases one
    "deepctr-torch/AUGRUCell": (
        RecurrentCase(
            "deepctr_torch.layers.sequence",
            "AUGRUCell",
            args=lambda: (4, 8),
            inputs=_cell_inputs,
            after=_normal_weights,
        ),
        None,
    ),
    "deepctr-torch/DynamicGRU": (
        RecurrentCase(
            "deepctr_torch.layers.sequence",
            "DynamicGRU",
            args=lambda: (4, 8),
            inputs=lambda: (_packed(sample(BATCH, 5, 4)), _packed(torch.rand(BATCH, 5))),
        ),
        "deepctr_torch/layers/sequence.py:297 takes PackedSequence inputs apart (data, "
        "batch_sizes, sorted_indices...) and loops over batch_sizes; :317 assigns into a "
        "slice of a tensor; :320 builds a PackedSequence",
    ),
    "deepctr-torch/InterestExtractor": (
        RecurrentCase(
            "deepctr_torch.models.dien",
            "InterestExtractor",
            args=lambda: (4,),
            inputs=lambda: (sample(BATCH, 5, 4), torch.tensor(LENGTHS)),
        ),
        "deepctr_torch/models/dien.py:218 torch.masked_select: the sequences with "
        "keys_length > 0 selected by data (also keys_length[mask], :215), then packed",
    ),
    "deepctr-torch/InterestEvolving": (
        RecurrentCase(
            "deepctr_torch.models.dien",
            "InterestEvolving",
            args=lambda: (4,),
            kwargs=lambda: {"gru_type": "GRU", "att_hidden_size": (8, 4)},
            inputs=lambda: (sample(BATCH, 4), sample(BATCH, 5, 4), torch.tensor(LENGTHS)),
        ),
        "deepctr_torch/layers/sequence.py:297 DynamicGRU's PackedSequence (the class also "
        "builds it, for AGRU/AUGRU); dien.py:315 init loop over named_parameters() of a layer "
        "chosen by a branch; :353 torch.masked_select; :380 assigning into zero_outputs[mask]",
    ),
}


def _wiring():
    from ncps.wirings import FullyConnected

    return FullyConnected(8)


def _params() -> list:
    params = []
    for case_id, (case, blocker) in CASES.items():
        marks = []
        if blocker is not None:
            marks.append(pytest.mark.xfail(strict=True, raises=FAILURES, reason=blocker))
        params.append(pytest.param(case, id=case_id, marks=marks))
    return params


@pytest.mark.parametrize("case", _params())
def test_real_recurrent_class_converts_and_matches_torch(case, only_own_package):
    model, args, kwargs, inputs = case.build()
    only_own_package(case.module)
    result = torch2tf.convert(model, args=args, kwargs=kwargs, inputs=inputs, atol=ATOL, rtol=RTOL)
    assert [c.mode for c in result.checks] == ["eval", "train"]
    assert result.passed, result.table()
    layers = [layer for check in result.checks for layer in check.layers]
    recurrent = [layer for layer in layers if layer.torch_type in ("LSTM", "GRU")]
    assert all(layer.keras_type in ("TorchLSTM", "TorchGRU") for layer in recurrent)


def test_the_recurrent_corpus_is_pinned():
    packages = {case_id.split("/")[0] for case_id in CASES}
    converting = {(case.module, case.name) for case, blocker in CASES.values() if not blocker}
    assert len(converting) >= 3
    from pathlib import Path

    listed = (Path(__file__).parent / "real_packages.txt").read_text(encoding="utf-8")
    pinned = {line.split("==")[0] for line in listed.splitlines() if "==" in line}
    assert packages <= pinned, packages - pinned


@pytest.mark.parametrize("optimizer_name", ["SGD", "Adam"])
@pytest.mark.parametrize("name", ["LSTMNet", "GRUNet"])
def test_a_real_recurrent_classifier_trains_like_torch_in_float64(name, optimizer_name):
    """deepod's LSTMNet/GRUNet (two layers, torch's two biases, dropout between layers) on
    scikit-learn's digits: the float64 loss trajectory and weights stay within 1e-6 of
    torch's. Dropout is 0 so both sides draw no masks."""
    module = importlib.import_module("deepod.core.networks.base_networks")
    torch.manual_seed(0)
    with torch2tf.recording():  # as a user whose code built it
        model = getattr(module, name)(8, n_hidden="16,16", n_output=10, bias=True).double()
    x, y = digits_rows()
    conversion = torch2tf.convert(model, inputs=(torch.from_numpy(x[:16]),))
    if optimizer_name == "SGD":
        optimizer = torch.optim.SGD(model.parameters(), lr=0.5, momentum=0.9)
    else:
        optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
    torch_losses, tf_losses = train_side_by_side(model, conversion, optimizer, x, y, STEPS, 32)
    assert (np.abs(tf_losses - torch_losses) <= 1e-6 * np.maximum(1.0, torch_losses)).all()
    assert weight_difference(model, conversion.keras_model) < 1e-6
