"""Real model classes from installed PyPI packages (tests/real_packages.txt), converted in place.

Each class is imported from its installed location and converted through the public API, then
checked in eval and train mode (float32: atol 1e-5, rtol 1e-4). A class that needs a layer of a
later family (conv, RNN, attention) must stop with a diagnostic naming the file:line:col and
the torch name. While converting, no source file of another distribution (torch's own, numpy,
another model package) may be read: the model's package is its project.

Cases that do not convert yet are marked xfail(strict=True) with the blocking causes, in the
order they bite (the first positions convert reports today), and whose area they are in
(issue 9): ``reach`` (translate only what the model reaches), ``idioms`` (custom-layer
idioms), or ``unowned`` (ops and constructs nobody translates yet). Remove a mark when its
case passes (strict xfail then fails the run).
"""

from __future__ import annotations

import builtins
import importlib
import io
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import torch
from torch import nn
from torchvision_loader import import_torchvision

import torch2tf
from torch2tf import ConversionError, TranslationError
from torch2tf.structure import StructureError
from torch2tf.weights import WeightTransferError

ATOL, RTOL = 1e-5, 1e-4
BATCH = 16


class ReadOutsidePackage(AssertionError):
    """A source file of another distribution was read while converting."""


def sample(*shape: int) -> torch.Tensor:
    return torch.randn(*shape, generator=torch.Generator().manual_seed(0))


@dataclass
class Case:
    """How to build one class: constructor arguments as given to convert, and inputs."""

    module: str
    name: str
    args: Callable[[], tuple] = tuple
    kwargs: Callable[[], dict] = dict
    inputs: Callable[[], tuple] = field(default=lambda: (sample(BATCH, 8),))
    later_family: str | None = None
    """For a class that needs a later family's layer: ``file:line:col`` regex + torch name."""
    prepare: Callable[[], Any] | None = None
    """Run before the import (vit_pytorch's package imports torchvision)."""

    def build(self) -> tuple[nn.Module, tuple, dict, tuple]:
        if self.prepare is not None:
            self.prepare()
        cls = getattr(importlib.import_module(self.module), self.name)
        args, kwargs = self.args(), self.kwargs()
        torch.manual_seed(0)
        return cls(*args, **kwargs), args, kwargs, self.inputs()


def _lightly(name: str, *args: Any, blocked: tuple[str, str] | None = None) -> tuple:
    """A lightly head (lightly's models package imports torchvision: loaded first)."""
    case = Case(
        "lightly.models.modules.heads",
        name,
        args=lambda: args,
        inputs=lambda: (sample(BATCH, args[0]),),
        prepare=import_torchvision,
    )
    return case, blocked


def _box(*shape: int) -> Any:
    from gymnasium import spaces

    return spaces.Box(-1.0, 1.0, shape)


def _image_box() -> Any:
    import numpy as np
    from gymnasium import spaces

    return spaces.Box(0, 255, (3, 36, 36), np.uint8)


def _q_network_args() -> dict:
    from gymnasium import spaces
    from stable_baselines3.common.torch_layers import FlattenExtractor

    observation = _box(8)
    return {
        "observation_space": observation,
        "action_space": spaces.Discrete(3),
        "features_extractor": FlattenExtractor(observation),
        "features_dim": 8,
        "net_arch": [16, 16],
    }


def _prelu() -> dict:
    return {"activation": "prelu"}


def _dice() -> dict:
    return {"activation": "dice", "dice_dim": 2}  # Dice over (batch, features)


def _nbeats_kwargs() -> dict:
    from nbeats_pytorch.model import NBeatsNet

    return {
        "device": torch.device("cpu"),
        "stack_types": (NBeatsNet.GENERIC_BLOCK, NBeatsNet.GENERIC_BLOCK),
        "nb_blocks_per_stack": 1,
        "forecast_length": 3,
        "backcast_length": 8,
        "thetas_dim": (4, 4),
        "hidden_layer_units": 16,
    }


def _ft_kwargs() -> dict:
    from rtdl_revisiting_models import FTTransformer

    defaults = FTTransformer.get_default_kwargs(1)
    return {"n_cont_features": 4, "cat_cardinalities": [], "d_out": 1, **defaults}


def _lower_triangular() -> torch.Tensor:
    return torch.tril(torch.ones(4, 4, dtype=torch.bool), diagonal=-1)


MLP_BLOCKS = {"d_in": 8, "n_blocks": 2, "d_block": 16, "dropout": 0.1}

# id -> (case, None if it converts today, else (causes, owner areas))
CASES: dict[str, tuple[Case, tuple[str, str] | None]] = {
    # lightly's self-supervised heads: Linear/BatchNorm1d/ReLU stacks built from tuples of
    # layers by a shared base class.
    "lightly/BarlowTwinsProjectionHead": _lightly("BarlowTwinsProjectionHead", 32, 64, 16),
    "lightly/BYOLProjectionHead": _lightly("BYOLProjectionHead", 32, 64, 16),
    "lightly/BYOLPredictionHead": _lightly("BYOLPredictionHead", 16, 64, 16),
    "lightly/SimCLRProjectionHead": _lightly("SimCLRProjectionHead", 32, 64, 16, 3, True),
    "lightly/MoCoProjectionHead": _lightly("MoCoProjectionHead", 32, 64, 16, 3, True),
    "lightly/SimSiamProjectionHead": _lightly("SimSiamProjectionHead", 32, 64, 16),
    "lightly/SwaVProjectionHead": _lightly("SwaVProjectionHead", 32, 64, 16),
    "lightly/VICRegProjectionHead": _lightly("VICRegProjectionHead", 32, 64, 16, 3),
    "lightly/MSNProjectionHead": _lightly("MSNProjectionHead", 32, 64, 16),
    "lightly/NNCLRProjectionHead": _lightly("NNCLRProjectionHead", 32, 64, 16),
    "lightly/TiCoProjectionHead": _lightly("TiCoProjectionHead", 32, 64, 16),
    "lightly/DINOProjectionHead": _lightly("DINOProjectionHead", 32, 64, 8, 16),
    "rtdl-revisiting-models/MLP": (
        Case("rtdl_revisiting_models", "MLP", kwargs=lambda: {**MLP_BLOCKS, "d_out": 3}),
        None,
    ),
    "rtdl-revisiting-models/ResNet": (
        Case(
            "rtdl_revisiting_models",
            "ResNet",
            kwargs=lambda: {
                "d_in": 8,
                "d_out": 3,
                "n_blocks": 2,
                "d_block": 16,
                "d_hidden_multiplier": 2.0,
                "dropout1": 0.1,
                "dropout2": 0.0,
            },
        ),
        None,
    ),
    "rtdl-revisiting-models/FTTransformer": (
        Case(
            "rtdl_revisiting_models",
            "FTTransformer",
            kwargs=_ft_kwargs,
            inputs=lambda: (sample(BATCH, 4), None),
        ),
        None,
    ),
    "rtdl-num-embeddings/LinearEmbeddings": (
        Case(
            "rtdl_num_embeddings",
            "LinearEmbeddings",
            args=lambda: (4, 8),
            inputs=lambda: (sample(BATCH, 4),),
        ),
        None,
    ),
    "rtdl-num-embeddings/LinearReLUEmbeddings": (
        Case(
            "rtdl_num_embeddings",
            "LinearReLUEmbeddings",
            args=lambda: (4, 8),
            inputs=lambda: (sample(BATCH, 4),),
        ),
        None,
    ),
    "rtdl-num-embeddings/PeriodicEmbeddings": (
        Case(
            "rtdl_num_embeddings",
            "PeriodicEmbeddings",
            kwargs=lambda: {"n_features": 4, "d_embedding": 8, "lite": False},
            inputs=lambda: (sample(BATCH, 4),),
        ),
        None,
    ),
    "rtdl-num-embeddings/PeriodicEmbeddings-lite": (
        Case(
            "rtdl_num_embeddings",
            "PeriodicEmbeddings",
            kwargs=lambda: {"n_features": 4, "d_embedding": 8, "lite": True},
            inputs=lambda: (sample(BATCH, 4),),
        ),
        None,
    ),
    "tabm/MLPBackbone": (
        Case("tabm", "MLPBackbone", kwargs=lambda: dict(MLP_BLOCKS)),
        None,
    ),
    "tabm/MLPBackboneEnsemble": (
        Case(
            "tabm",
            "MLPBackboneEnsemble",
            kwargs=lambda: {**MLP_BLOCKS, "k": 4},
            inputs=lambda: (sample(BATCH, 4, 8),),
        ),
        (
            "unowned: tabm.py:443:25/:444:37 torch.dtype in parameter annotations of "
            "LinearEnsemble.__init__; idioms: :457:23/:458:13 and :462:13/:462:23 "
            "torch.empty(k, d_in, d_out, **factory_kwargs) in Parameter (** of a local dict of "
            "device/dtype; dtype=dtype a constructor argument), hence :483:34 in_features's size "
            "of weight (the init function _init_rsqrt_uniform_, its assert, the in_features "
            "property and register_parameter(..., Parameter(...) if bias else None) now read); "
            "later nn.Linear as a value (:467) and getattr(nn, activation) (:1178)",
            "unowned, idioms",
        ),
    ),
    "zuko/MLP": (
        Case("zuko.nn", "MLP", args=lambda: (8, 3, [16, 16])),
        None,  # an nn.Sequential subclass: a tf.keras.Sequential subclass
    ),
    "zuko/MLP-normalized-ELU": (
        Case(
            "zuko.nn",
            "MLP",
            args=lambda: (8, 3, [16, 16]),
            kwargs=lambda: {"activation": nn.ELU, "normalize": True},
        ),
        None,
    ),
    "zuko/MaskedLinear": (
        Case(
            "zuko.nn",
            "MaskedLinear",
            args=lambda: (_lower_triangular(),),
            inputs=lambda: (sample(BATCH, 4),),
        ),
        None,  # an nn.Linear subclass: its twin derives from TorchLinearBase
    ),
    "zuko/MaskedMLP": (
        Case(
            "zuko.nn",
            "MaskedMLP",
            args=lambda: (_lower_triangular(), [16]),
            inputs=lambda: (sample(BATCH, 4),),
        ),
        (
            "unowned: MaskedMLP.__init__ computes its layers' masks from its tensor argument "
            "with torch.unique(adjacency, dim=0, return_inverse=True) (zuko/nn.py:271:30), "
            "Tensor.all() (:285:16), Tensor.nonzero() (:289:29): values of the argument, "
            "beyond static translation (its MaskedLinear(nn.Linear) translates)",
            "unowned",
        ),
    ),
    "pyro-ppl/DenseNN": (
        Case(
            "pyro.nn", "DenseNN", args=lambda: (8, [16, 16]), kwargs=lambda: {"param_dims": [1, 3]}
        ),
        None,
    ),
    "pyro-ppl/ConditionalDenseNN": (
        Case(
            "pyro.nn",
            "ConditionalDenseNN",
            args=lambda: (8, 4, [16]),
            kwargs=lambda: {"param_dims": [2, 2], "nonlinearity": nn.Tanh()},
            inputs=lambda: (sample(BATCH, 8), sample(BATCH, 4)),
        ),
        None,
    ),
    "siren-pytorch/SirenNet": (
        Case(
            "siren_pytorch",
            "SirenNet",
            kwargs=lambda: {"dim_in": 2, "dim_hidden": 16, "dim_out": 3, "num_layers": 3},
            inputs=lambda: (sample(BATCH, 2),),
        ),
        None,  # local tensors made parameters, initialised through a method with arguments
    ),
    "siren-pytorch/Siren": (
        Case(
            "siren_pytorch",
            "Siren",
            kwargs=lambda: {"dim_in": 2, "dim_out": 16},
            inputs=lambda: (sample(BATCH, 2),),
        ),
        None,
    ),
    "nbeats-pytorch/NBeatsNet": (
        Case("nbeats_pytorch.model", "NBeatsNet", kwargs=_nbeats_kwargs),
        None,  # blocks in plain lists, registered through nn.ParameterList(self.parameters)
    ),
    "torchtuples/MLPVanilla": (
        Case(
            "torchtuples.practical",
            "MLPVanilla",
            args=lambda: (8, [16, 16], 3),
            kwargs=lambda: {"batch_norm": True, "dropout": 0.1},
        ),
        None,
    ),
    "torchtuples/DenseVanillaBlock": (
        Case(
            "torchtuples.practical",
            "DenseVanillaBlock",
            args=lambda: (8, 16),
            kwargs=lambda: {"batch_norm": True, "dropout": 0.1, "activation": nn.SELU},
        ),
        None,
    ),
    "pytorch-tabnet/TabNetNoEmbeddings": (
        Case(
            "pytorch_tabnet.tab_network",
            "TabNetNoEmbeddings",
            args=lambda: (8, 3),
            kwargs=lambda: {"n_d": 8, "n_a": 8, "n_steps": 2, "virtual_batch_size": 16},
        ),
        None,  # sparsemax's autograd.Function under tf.custom_gradient
    ),
    "pytorch-tabnet/GLU_Block": (
        Case(
            "pytorch_tabnet.tab_network",
            "GLU_Block",
            args=lambda: (8, 16),
            kwargs=lambda: {"n_glu": 2, "first": True, "virtual_batch_size": 16},
        ),
        None,  # a shared layer's init runs where it stands; ghost batch norm built by a call
    ),
    "stable-baselines3/MlpExtractor": (
        Case(
            "stable_baselines3.common.torch_layers",
            "MlpExtractor",
            args=lambda: (8,),
            kwargs=lambda: {
                "net_arch": {"pi": [16], "vf": [16, 16]},
                "activation_fn": nn.Tanh,
                "device": "cpu",
            },
        ),
        None,
    ),
    "stable-baselines3/FlattenExtractor": (
        Case(
            "stable_baselines3.common.torch_layers",
            "FlattenExtractor",
            args=lambda: (_box(2, 4),),
            inputs=lambda: (sample(BATCH, 2, 4),),
        ),
        None,
    ),
    "stable-baselines3/QNetwork": (
        Case("stable_baselines3.dqn.policies", "QNetwork", kwargs=_q_network_args),
        (
            "unowned: common/policies.py:71:53 the default argument optimizer_class=th.optim.Adam "
            "in BaseModel.__init__ (a torch optimizer class as a value; the annotations at "
            ":61:16/:71:31 translate); :154:22 the BaseModel.device property (kept: properties "
            "are the class's API) iterates self.parameters(); torch_layers.py:99:14 torch.no_grad "
            "in NatureCNN.__init__ (BaseModel names NatureCNN, :93), measuring the flattened size "
            "with a dummy forward, and :100:25 self.cnn called there; then the "
            "features_extractor argument, a FlattenExtractor instance, must be passed as its "
            "converted Keras twin (convert says so) (preprocessing.py:124/:130 F.one_hot "
            "translates)",
            "unowned",
        ),
    ),
    "deepctr-torch/DNN": (
        Case(
            "deepctr_torch.layers.core",
            "DNN",
            args=lambda: (8, [16, 16]),
            kwargs=lambda: {"activation": "relu", "dropout_rate": 0.1, "use_bn": True},
        ),
        None,
    ),
    "deepctr-torch/DNN-prelu": (
        Case("deepctr_torch.layers.core", "DNN", args=lambda: (8, [16]), kwargs=_prelu),
        None,
    ),
    "deepctr-torch/DNN-dice": (
        Case("deepctr_torch.layers.core", "DNN", args=lambda: (8, [16]), kwargs=_dice),
        None,
    ),
    "deepctr-torch/LocalActivationUnit": (
        Case(
            "deepctr_torch.layers.core",
            "LocalActivationUnit",
            kwargs=lambda: {"hidden_units": (16, 8), "embedding_dim": 4},
            inputs=lambda: (sample(BATCH, 1, 4), sample(BATCH, 5, 4)),
        ),
        None,
    ),
    "deepctr-torch/PredictionLayer": (
        Case(
            "deepctr_torch.layers.core",
            "PredictionLayer",
            kwargs=lambda: {"task": "binary"},
            inputs=lambda: (sample(BATCH, 1),),
        ),
        None,
    ),
    "deepctr-torch/FM": (
        Case("deepctr_torch.layers.interaction", "FM", inputs=lambda: (sample(BATCH, 3, 5),)),
        None,
    ),
    "deepctr-torch/CrossNet": (
        Case("deepctr_torch.layers.interaction", "CrossNet", args=lambda: (8,)),
        None,
    ),
    "deepctr-torch/CrossNet-matrix": (
        Case(
            "deepctr_torch.layers.interaction",
            "CrossNet",
            args=lambda: (8,),
            kwargs=lambda: {"parameterization": "matrix"},
        ),
        None,
    ),
    "deepctr-torch/InteractingLayer": (
        Case(
            "deepctr_torch.layers.interaction",
            "InteractingLayer",
            args=lambda: (8,),
            kwargs=lambda: {"head_num": 2},
            inputs=lambda: (sample(BATCH, 3, 8),),
        ),
        None,
    ),
    "deepctr-torch/AFMLayer": (
        Case(
            "deepctr_torch.layers.interaction",
            "AFMLayer",
            args=lambda: (5,),
            inputs=lambda: ([sample(BATCH, 1, 5) for _ in range(3)],),
        ),
        None,
    ),
    "deepctr-torch/SENETLayer": (
        Case(
            "deepctr_torch.layers.interaction",
            "SENETLayer",
            args=lambda: (3,),
            kwargs=lambda: {"reduction_ratio": 1},
            inputs=lambda: (sample(BATCH, 3, 5),),
        ),
        None,
    ),
    "deepctr-torch/BilinearInteraction": (
        Case(
            "deepctr_torch.layers.interaction",
            "BilinearInteraction",
            args=lambda: (3, 5),
            inputs=lambda: (sample(BATCH, 3, 5),),
        ),
        None,
    ),
    "deepctr-torch/CrossNetMix": (
        Case(
            "deepctr_torch.layers.interaction",
            "CrossNetMix",
            args=lambda: (8,),
            kwargs=lambda: {"low_rank": 4, "num_experts": 2},
        ),
        None,
    ),
    "deepctr-torch/OutterProductLayer": (
        Case(
            "deepctr_torch.layers.interaction",
            "OutterProductLayer",
            args=lambda: (3, 5),
            inputs=lambda: ([sample(BATCH, 1, 5) for _ in range(3)],),
        ),
        None,
    ),
    "monai/MLPBlock": (
        Case("monai.networks.blocks.mlp", "MLPBlock", args=lambda: (8, 16, 0.1)),
        None,
    ),
    "monai/MLPBlock-swin-softmax": (
        Case(
            "monai.networks.blocks.mlp",
            "MLPBlock",
            args=lambda: (8, 16, 0.1),
            kwargs=lambda: {"act": ("softmax", {"dim": -1}), "dropout_mode": "swin"},
        ),
        None,
    ),
    "nflows/ResidualNet": (
        Case(
            "nflows.nn.nets.resnet",
            "ResidualNet",
            args=lambda: (8, 3, 16),
            kwargs=lambda: {"num_blocks": 2, "use_batch_norm": True, "dropout_probability": 0.1},
        ),
        None,
    ),
    "nflows/ResidualNet-context": (
        Case(
            "nflows.nn.nets.resnet",
            "ResidualNet",
            args=lambda: (8, 3, 16),
            kwargs=lambda: {"context_features": 4},
            inputs=lambda: (sample(BATCH, 8), sample(BATCH, 4)),
        ),
        None,
    ),
    "nflows/MLP": (
        Case(
            "nflows.nn.nets.mlp",
            "MLP",
            args=lambda: ((8,), (2, 3), [16, 16]),
            kwargs=lambda: {"activate_output": True},
        ),
        None,
    ),
    "normflows/ResidualNet": (
        Case(
            "normflows.nets.resnet",
            "ResidualNet",
            args=lambda: (8, 3, 16),
            kwargs=lambda: {"num_blocks": 2, "use_batch_norm": True},
        ),
        None,
    ),
    "normflows/MLP": (
        Case(
            "normflows.nets.mlp",
            "MLP",
            args=lambda: ([8, 16, 16, 3],),
            kwargs=lambda: {"leaky": 0.1, "dropout": 0.1, "output_fn": "tanh"},
        ),
        None,
    ),
    "vit-pytorch/ViT": (
        Case(
            "vit_pytorch.vit",
            "ViT",
            kwargs=lambda: {
                "image_size": 16,
                "patch_size": 4,
                "num_classes": 5,
                "dim": 32,
                "depth": 2,
                "heads": 4,
                "mlp_dim": 64,
                "dim_head": 8,
                "dropout": 0.1,
                "emb_dropout": 0.1,
            },
            inputs=lambda: (sample(4, 3, 16, 16),),
            prepare=import_torchvision,  # vit_pytorch/__init__.py imports torchvision
        ),
        None,
    ),
    "rotary-embedding-torch/RotaryEmbedding": (
        Case(
            "rotary_embedding_torch",
            "RotaryEmbedding",
            kwargs=lambda: {"dim": 8, "cache_if_possible": False},
            inputs=lambda: (torch.arange(6).float(),),
        ),
        None,  # @autocast(enabled=False) dropped; its cache path (off here) a sliced assign
    ),
    "stable-baselines3/NatureCNN": (
        Case(
            "stable_baselines3.common.torch_layers",
            "NatureCNN",
            args=lambda: (_image_box(),),
            kwargs=lambda: {"features_dim": 16},
            inputs=lambda: (sample(2, 3, 36, 36),),
            # Conv2d is translated; what stops it is __init__ measuring the flattened size with
            # a dummy forward under torch.no_grad (reported where it stands).
            later_family=r"torch_layers\.py:99:\d+: error: torch\.no_grad inside a class",
        ),
        None,
    ),
}


def _package_root(module_name: str) -> tuple[Path, Path]:
    """(the folder holding the distribution, the model's own package folder or module file)."""
    top = importlib.import_module(module_name.split(".")[0])
    if top.__file__ is None:  # a namespace package (no __init__.py)
        own = Path(next(iter(top.__path__))).resolve()
    else:
        location = Path(top.__file__).resolve()
        own = location.parent if location.name == "__init__.py" else location
    return own.parent, own


@pytest.fixture
def only_own_package(monkeypatch):
    """Fail at once when a .py file beside the model's package (another distribution) is read."""
    allowed: list[Path] = []

    def guard(path: Any) -> None:
        if not allowed or not str(path).endswith(".py"):
            return
        site, own = allowed
        resolved = Path(path).resolve()
        if resolved.is_relative_to(site) and not resolved.is_relative_to(own):
            raise ReadOutsidePackage(f"read {resolved}, outside the model's package {own}")

    def wrap(original: Callable) -> Callable:
        def checked(self_or_path, *args, **kwargs):
            guard(self_or_path)
            return original(self_or_path, *args, **kwargs)

        return checked

    for name in ("read_text", "read_bytes", "open"):
        monkeypatch.setattr(Path, name, wrap(getattr(Path, name)))
    monkeypatch.setattr(builtins, "open", wrap(builtins.open))
    monkeypatch.setattr(io, "open", wrap(io.open))

    def arm(module_name: str) -> None:
        allowed[:] = _package_root(module_name)

    return arm


FAILURES = (AssertionError, TranslationError, ConversionError, StructureError, WeightTransferError)


def _params(later: bool) -> list:
    params = []
    for case_id, (case, blocked) in CASES.items():
        if (case.later_family is not None) != later:
            continue
        marks = []
        if blocked is not None:
            cause, owner = blocked
            owners = ", ".join(dict.fromkeys(owner.split(", ")))
            marks.append(
                pytest.mark.xfail(strict=True, raises=FAILURES, reason=f"[{owners}] {cause}")
            )
        params.append(pytest.param(case, id=case_id, marks=marks))
    return params


@pytest.mark.parametrize("case", _params(later=False))
def test_real_class_converts_and_matches_torch(case, only_own_package):
    model, args, kwargs, inputs = case.build()
    only_own_package(case.module)
    result = torch2tf.convert(model, args=args, kwargs=kwargs, inputs=inputs, atol=ATOL, rtol=RTOL)
    assert [c.mode for c in result.checks] == ["eval", "train"]
    assert result.passed, result.table()


@pytest.mark.parametrize("case", _params(later=True))
def test_real_class_of_a_later_family_is_refused_precisely(case, only_own_package):
    model, args, kwargs, inputs = case.build()
    only_own_package(case.module)
    with pytest.raises(TranslationError) as err:
        torch2tf.convert(model, args=args, kwargs=kwargs, inputs=inputs)
    assert re.search(case.later_family, str(err.value)), str(err.value)[:2000]


def test_corpus_spans_enough_packages_and_classes():
    packages = {case_id.split("/")[0] for case_id in CASES}
    classes = {(case.module, case.name) for case, _ in CASES.values()}
    assert len(packages) >= 6 and len(classes) >= 15
    listed = (Path(__file__).parent / "real_packages.txt").read_text(encoding="utf-8")
    pinned = {line.split("==")[0] for line in listed.splitlines() if "==" in line}
    assert packages <= pinned, packages - pinned


def test_the_guard_catches_a_read_outside_the_package(only_own_package):
    only_own_package("tabm")
    torch_init = Path(torch.__file__)
    with pytest.raises(ReadOutsidePackage, match=r"torch/__init__\.py"):
        torch_init.read_text(encoding="utf-8")
    with pytest.raises(ReadOutsidePackage):
        open(torch_init, encoding="utf-8")
    assert "import" in Path(sys.modules["tabm"].__file__).read_text(encoding="utf-8")
