"""torchvision's Inception3 (issue 11) from its installed source.

InceptionAux sets ``self.fc.stddev = 0.001`` (and ``self.conv1.stddev = 0.01``) after building
those layers, and Inception3's init loop reads ``float(m.stddev) if hasattr(m, "stddev") else
0.1`` for every Conv2d and Linear: plain data of the project's own code, kept as the same
attribute of the Keras layer (init_code/data_attributes.py), and the loop's
``trunc_normal_(m.weight, mean=0.0, std=stddev, a=-2, b=2)`` is TorchTruncatedNormal, torch's
algorithm. ``conv1.stddev`` is set on a BasicConv2d, which the loop does not match: its conv
is drawn with std 0.1 in torch, and so in Keras.

Conversion is checked at 75x75 (Inception3's smallest input) with aux_logits=False: the aux
head needs 299x299 (its 5x5 conv after a stride-3 pool of Mixed_6e's map) and runs only in
train mode.
"""

from __future__ import annotations

import copy
import dataclasses
import importlib
from pathlib import Path

import pytest
import tensorflow as tf
import torch
from scipy import stats
from torchvision_loader import import_torchvision

import torch2tf
from torch2tf import TranslationError, rules
from torch2tf.generated import load_generated
from torch2tf.keras_api import KERAS_MODEL_ATTRIBUTES
from torch2tf.layer_attributes import (
    KERAS_LAYER_ATTRIBUTES,
    KERAS_LAYER_CLASSES,
    TORCH_LAYER_ATTRIBUTES,
)
from torch2tf.verify import check as verify_check

import_torchvision()
# torchvision.models.inception_v3 is the factory function there: the module, by its name
inception = importlib.import_module("torchvision.models.inception")

SIZE, BATCH = 75, 8  # batch 8: train-mode BatchNorm over Mixed_7's 1x1 maps of 8 values


def _inception(
    dtype: torch.dtype = torch.float32, aux_logits: bool = False, size: int = SIZE
) -> torch.nn.Module:
    """inception_v3 through its factory, eval mode with its BatchNorms' running statistics
    those of one batch (torch's initial ones would leave the deep layers' activations
    meaningless in eval mode)."""
    torch.manual_seed(0)
    with torch2tf.recording():
        model = inception.inception_v3(aux_logits=aux_logits, init_weights=True, num_classes=10)
    norms = [m for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    for norm in norms:
        norm.momentum = 1.0
    model.train()
    with torch.no_grad():
        model(torch.randn(BATCH, 3, size, size, generator=torch.Generator().manual_seed(1)))
    for norm in norms:
        norm.momentum = 0.1
    return model.eval().to(dtype)


def _sample(dtype: torch.dtype, batch: int = BATCH, size: int = SIZE) -> torch.Tensor:
    x = torch.randn(batch, 3, size, size, generator=torch.Generator().manual_seed(0))
    return x.to(dtype)


def _own_float32_error(model: torch.nn.Module, x: torch.Tensor) -> dict[str, float]:
    """By mode, how far torch's own float32 outputs are from the same model's in float64
    (dropout off; copies, so that train mode leaves ``model``'s statistics alone): the
    rounding float32 brings to this model, the scale a conversion's float32 error is held
    to."""
    errors = {}
    for mode in ("eval", "train"):
        single, double = copy.deepcopy(model), copy.deepcopy(model).double()
        for net in (single, double):
            for module in net.modules():
                if isinstance(module, torch.nn.Dropout):
                    module.p = 0.0
            net.train(mode == "train")
        with torch.no_grad():
            got, want = single(x), double(x.double())
        got, want = (v[0] if isinstance(v, tuple) else v for v in (got, want))
        errors[mode] = float((got.double() - want).abs().max())
    return errors


def test_inception3_keeps_the_aux_heads_stddev_for_its_init_loop() -> None:
    code = torch2tf.translate_file(Path(inception.__file__), classes=["Inception3"])
    assert "        self.fc.stddev = 0.001  # type: ignore[assignment]" in code
    assert "        self.conv1.stddev = 0.01  # type: ignore[assignment]" in code
    assert 'stddev = float(m.stddev) if hasattr(m, "stddev") else 0.1' in code
    assert 'torch_init(m, "kernel", TorchTruncatedNormal(0.0, stddev, -2, 2))' in code
    assert "tf.transpose" not in code


def test_inception_aux_initial_weights_follow_torchs_distributions() -> None:
    """The stddev=0.001 Linear's initial weights against torch's own draws (KS, moments);
    the aux head's convs, whose BasicConv2d holds a stddev the loop never reads, at 0.1."""
    code = torch2tf.translate_file(Path(inception.__file__), classes=["Inception3"])
    tf.keras.utils.set_random_seed(0)
    model = load_generated(code, "tv_inception", reached=True).Inception3(
        aux_logits=True, init_weights=True
    )
    model.AuxLogits(tf.zeros([1, 17, 17, 768]), training=True)  # builds the aux head only
    torch.manual_seed(0)
    reference = inception.inception_v3(aux_logits=True, init_weights=True).AuxLogits
    kernel = model.AuxLogits.fc.kernel.numpy()  # (768, 1000)
    weight = reference.fc.weight.detach().numpy()  # (1000, 768)
    assert kernel.shape == weight.T.shape
    assert stats.ks_2samp(kernel.ravel(), weight.ravel()).pvalue > 1e-3
    assert abs(kernel.std() - 0.001) < 1e-5 and abs(kernel.mean()) < 1e-5
    assert stats.kstest(kernel.ravel() / 0.001, "norm").pvalue > 1e-3
    assert model.AuxLogits.conv1.stddev == reference.conv1.stddev == 0.01
    for name in ("conv0", "conv1"):
        conv = getattr(model.AuxLogits, name).conv
        values = (conv.kernel if hasattr(conv, "kernel") else conv.layers[-1].kernel).numpy()
        torch_values = getattr(reference, name).conv.weight.detach().numpy()
        assert abs(values.std() - 0.1) < 2e-3 and abs(torch_values.std() - 0.1) < 2e-3
        assert stats.ks_2samp(values.ravel(), torch_values.ravel()).pvalue > 1e-3
    # every Keras layer answers hasattr(m, "stddev") as its torch layer does
    torch_has = sorted(n for n, m in reference.named_modules() if hasattr(m, "stddev"))
    assert torch_has == ["conv1", "fc"]
    assert not hasattr(model.AuxLogits.conv0, "stddev")
    assert not hasattr(model.AuxLogits.conv1.conv, "stddev")


@pytest.fixture(scope="module")
def converted() -> tuple[torch.nn.Module, torch.Tensor, torch2tf.Conversion]:
    model, x = _inception(), _sample(torch.float32)
    return model, x, torch2tf.convert(model, inputs=x, atol=1e-4, rtol=1e-4)


def test_inception3_converts_and_verifies_per_layer_in_float32(converted) -> None:
    """Every layer within 1e-4 abs + 1e-4 rel, the issue's figure for deep nets: measured,
    within 5.8e-5 (Mixed_7b.branch1x1.conv, whose activations reach 38: the std 0.1 init of
    convs over 768 to 2048 channels makes them large). The logits, through all 94 convs from
    the image, are 3.2e-3 from torch's float32 ones (they reach 85), beyond the tolerance:
    but 2.9e-3 from torch's float64 logits, where torch's own float32 logits are 1.9e-3 away
    (1.4e-3 and 3.0e-3 in train mode). The verdict is the round-off comparison's: passed,
    the Keras logits being within 4 times torch's own round-off (measured 0.9 to 2.4 times
    over 6 inputs); float64 is within 1e-11 (below)."""
    model, x, result = converted
    own = _own_float32_error(model, x)
    assert result.passed and result.passed_by == "round-off"
    assert [c.mode for c in result.checks] == ["eval", "train"]
    for check in result.checks:
        failed = [layer.__dict__ for layer in check.layers if not layer.within_tolerance]
        assert not failed, (check.mode, failed)
        assert len(check.layers) >= 290
        assert max(layer.max_abs_error for layer in check.layers) < 1e-4
        assert not check.within_tolerance and check.max_abs_error > 1e-3
        roundoff = check.roundoff
        assert roundoff is not None and roundoff.passed, (check.mode, roundoff)
        assert roundoff.torch_error == pytest.approx(own[check.mode], rel=1e-9)
        assert roundoff.keras_error < roundoff.factor * roundoff.torch_error == 4 * own[check.mode]
    assert result.report["checks"][0]["roundoff"]["torch_error"] == own["eval"]
    assert (
        result.table()
        .splitlines()[-1]
        .startswith(
            "PASSED by the round-off comparison for outputs beyond the tolerance whose layers "
            "inside are all within it (eval: the whole output; train: the whole output)"
        )
    )
    paths = {layer.layer for layer in result.checks[1].layers}
    assert {"Conv2d_1a_3x3.conv", "maxpool2", "Mixed_5b.branch_pool", "Mixed_7c", "fc"} <= paths
    assert not any(p.startswith("AuxLogits") for p in paths)
    assert "tf.transpose" not in result.source


def test_inception3_with_one_conv_off_deep_inside_fails_there(converted) -> None:
    """One kernel of Mixed_6c (the 60th of 94 convs) 1% off in the Keras model: that conv
    is the first divergent layer, and no float64 copy is made (a layer failed)."""
    model, x, result = converted
    path = "Mixed_6c.branch7x7dbl_3.conv"
    kernel = next(t.variable for t in result.transfers if t.torch_name == f"{path}.weight")
    saved = kernel.numpy()
    kernel.assign(saved * 1.01)
    try:
        checks = [
            verify_check(model, result.keras_model, (x,), mode, 1e-4, 1e-4, result.layouts)
            for mode in ("eval", "train")
        ]
    finally:
        kernel.assign(saved)
    wrong = dataclasses.replace(result, checks=checks)
    assert not wrong.passed and wrong.passed_by is None
    assert wrong.first_divergent_layer == path
    for check in checks:
        assert check.first_divergent_layer == path and check.roundoff is None
        assert all(layer.roundoff is None for layer in check.layers)
    verdict = wrong.table().splitlines()[-1]  # the file as shown: relative below the cwd
    assert verdict.startswith(f"FAILED (first divergent layer: {path} at ")
    shown = verdict.split(" at ")[1].split(":")[0]
    assert Path(shown).resolve() == Path(inception.__file__).resolve()


def test_inception3_with_its_own_forward_off_fails_the_round_off_comparison(converted) -> None:
    """The Keras model's own call scales the red channel by 1 + 1e-5 before its layers (a
    wrong constant between layers, as transform_input's would be): every layer, fed torch's
    input, passes; the logits are 2.9e-2 from torch's float64 ones, 15 times torch's own
    round-off, and the verdict is failed."""
    model, x, result = converted
    keras_model = result.keras_model
    original = keras_model.call
    scale = tf.constant([1 + 1e-5, 1.0, 1.0])

    def call(inputs, training=None):
        return original(inputs * scale, training=training)

    object.__setattr__(keras_model, "call", call)
    try:
        checks = [
            verify_check(model, keras_model, (x,), mode, 1e-4, 1e-4, result.layouts)
            for mode in ("eval", "train")
        ]
    finally:
        object.__delattr__(keras_model, "call")
    wrong = dataclasses.replace(result, checks=checks)
    assert not wrong.passed and wrong.first_divergent_layer is None
    for check in checks:
        assert all(layer.within_tolerance for layer in check.layers)
        roundoff = check.roundoff
        assert roundoff is not None and not roundoff.passed and roundoff.reason is None
        assert roundoff.keras_error > 2 * roundoff.factor * roundoff.torch_error
    assert (
        wrong.table()
        .splitlines()[-1]
        .startswith(
            "FAILED (no single layer diverges; the whole output is beyond the tolerance and, in "
            "eval, train, beyond the round-off comparison)"
        )
    )


@pytest.mark.slow  # about half a minute on 2 busy cores
def test_inception3_in_float64_within_1e_10() -> None:
    result = torch2tf.convert(
        _inception(torch.float64), inputs=_sample(torch.float64), atol=1e-10, rtol=0
    )
    assert result.report["dtype"] == "float64"
    assert result.passed and result.passed_by == "tolerance" and result.max_abs_error < 1e-10
    for check in result.checks:
        assert check.passed and len(check.layers) >= 290
        assert max(layer.max_abs_error for layer in check.layers) < 1e-10


@pytest.mark.slow  # about a minute on 2 busy cores
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_inception3_with_its_aux_head_converts_at_299(dtype: torch.dtype) -> None:
    """aux_logits=True: the aux head runs only in train mode (the Keras model is built by a
    train-mode call too) and returns InceptionOutputs(logits, aux_logits) there. float32 as
    above: every layer within 1e-4 abs + 1e-4 rel (measured 5.2e-5); the logits within 3.6e-4
    where torch's own float32 ones are 1.7e-4 from float64's, and the verdict passed."""
    model, x = _inception(dtype, aux_logits=True, size=299), _sample(dtype, 4, 299)
    tolerance = (1e-10, 0.0) if dtype == torch.float64 else (1e-4, 1e-4)
    result = torch2tf.convert(model, inputs=x, atol=tolerance[0], rtol=tolerance[1])
    for check in result.checks:
        failed = [layer.__dict__ for layer in check.layers if not layer.passed]
        assert not failed, (check.mode, failed)
        assert max(layer.max_abs_error for layer in check.layers) < tolerance[0]
    own = _own_float32_error(model, x)
    assert result.passed, result.table().splitlines()[-1]
    for check in result.checks:  # float32: within 3 times torch's own rounding, as above
        bound = 1e-10 if dtype == torch.float64 else 3 * own[check.mode]
        assert check.max_abs_error < bound, (check.mode, own)
        if dtype == torch.float64:
            assert check.within_tolerance and check.roundoff is None
        elif not check.within_tolerance:  # passed by the round-off comparison
            assert check.roundoff is not None and check.roundoff.passed
    with torch.no_grad():
        assert model.train()(x).aux_logits.shape == (4, 10)
    model.eval()
    train = {layer.layer for layer in result.checks[1].layers}
    assert {"AuxLogits", "AuxLogits.conv1.conv", "AuxLogits.fc"} <= train
    assert not any(p.startswith("AuxLogits") for p in (c.layer for c in result.checks[0].layers))


AUX_MUTATION = """
import torch.nn as nn


class Head(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 2)
        self.fc.{attribute} = {value}

    def forward(self, x):
        return self.fc(x)
"""


@pytest.mark.parametrize(
    ("attribute", "value"),
    [
        ("in_features", "3"),  # torch's Linear reads it
        ("units", "3"),  # Keras's Dense has it: setting it would change the Keras layer
        ("_stddev", "0.1"),  # private names: torch's own state
        ("stddev", "nn.Linear(2, 2)"),  # a module: torch registers it
        ("stddev", "[0.1]"),  # not a plain value
    ],
)
def test_changing_a_layer_after_construction_stays_refused(
    tmp_path: Path, attribute: str, value: str
) -> None:
    path = tmp_path / "head.py"
    path.write_text(AUX_MUTATION.format(attribute=attribute, value=value))
    with pytest.raises(TranslationError, match=f"changing self.fc.{attribute} after construction"):
        torch2tf.translate_file(path, classes=["Head"])


def test_plain_data_on_a_layer_is_kept(tmp_path: Path) -> None:
    path = tmp_path / "head.py"
    path.write_text(AUX_MUTATION.format(attribute="stddev", value="-0.5"))
    code = torch2tf.translate_file(path, classes=["Head"])
    assert "self.fc.stddev = -0.5" in code


def test_padded_conv_data_stays_refused(tmp_path: Path) -> None:
    """A padded conv is a ZeroPadding2D then a Conv2D in a Sequential on the Keras side: an
    init loop would find the attribute on the wrapper, not on the conv torch's loop reads."""
    path = tmp_path / "head.py"
    source = AUX_MUTATION.replace("nn.Linear(4, 2)", "nn.Conv2d(4, 2, 3, padding=2)")
    path.write_text(source.format(attribute="stddev", value="0.1"))
    with pytest.raises(TranslationError, match="changing self.fc.stddev after construction"):
        torch2tf.translate_file(path, classes=["Head"])


LOOP = """
import torch.nn as nn


class Head(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(400, 200)
        self.fc.stddev = 0.5

    def forward(self, x):
        return self.fc(x)


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.head = Head()
        self.out = nn.Linear(200, 200)
        for m in self.modules():
            if isinstance(m, nn.Linear):
                std = {read}
                nn.init.trunc_normal_(m.weight, std=std, a=-2, b=2)

    def forward(self, x):
        return self.out(self.head(x))
"""


@pytest.mark.parametrize(
    "read",
    [
        'float(m.scale) if hasattr(m, "scale") else 0.1',  # no layer of the file holds scale
        'm.stddev if hasattr(m, "in_features") else 0.1',  # a torch attribute Dense lacks
    ],
)
def test_an_init_loop_reads_only_data_the_file_sets(tmp_path: Path, read: str) -> None:
    path = tmp_path / "net.py"
    path.write_text(LOOP.format(read=read))
    with pytest.raises(TranslationError, match="of torch.nn.Linear"):
        torch2tf.translate_file(path, classes=["Net"])


def test_an_init_loop_reading_data_draws_with_each_layers_std(tmp_path: Path) -> None:
    """std 0.5 for the layer holding it, 0.1 for the other: exactly torch's draws' spread."""
    path = tmp_path / "net.py"
    path.write_text(LOOP.format(read='float(m.stddev) if hasattr(m, "stddev") else 0.1'))
    code = torch2tf.translate_file(path, classes=["Net"])
    assert "TorchTruncatedNormal(0.0, std, -2, 2)" in code
    tf.keras.utils.set_random_seed(0)
    model = load_generated(code, "data_loop").Net()
    model(tf.zeros([1, 400]))
    fc, out = model.head.fc.kernel.numpy().ravel(), model.out.kernel.numpy().ravel()
    assert abs(fc.std() - 0.5) < 0.01 and abs(out.std() - 0.1) < 0.002
    # torch's bounds are absolute: at std 0.5, +-2 is a cut at 4 std
    assert fc.min() >= -2 and fc.max() <= 2
    assert stats.kstest(fc, stats.truncnorm(-4, 4, scale=0.5).cdf).pvalue > 1e-3
    assert stats.kstest(out, stats.norm(scale=0.1).cdf).pvalue > 1e-3


def _public(layer: object) -> set[str]:
    return {n for n in set(dir(layer)) | set(vars(layer)) if not n.startswith("_")}


def test_the_layer_attribute_names_are_those_of_the_installed_packages() -> None:
    """Every public attribute of the Keras classes data may be kept on, and of every torch
    layer a rule translates (those built from a few argument lists), is a name
    ``layer_attributes`` holds: a data attribute of that name would be refused."""
    keras_names = KERAS_LAYER_ATTRIBUTES | KERAS_MODEL_ATTRIBUTES
    tries = [(), (2,), (2, 3), (0.5,), (4, 2, 1), ((2, 2),)]
    for name in sorted(KERAS_LAYER_CLASSES) + ["Layer"]:
        layer = next(filter(None, (_made(getattr(tf.keras.layers, name), a) for a in tries)))
        assert _public(layer) <= keras_names, (name, _public(layer) - keras_names)
    assert _public(tf.keras.Sequential()) <= keras_names
    assert "stddev" in _public(tf.keras.layers.GaussianNoise(0.1))  # why classes are listed
    torch_tries = [(), (4,), (4, 4), (4, 4, 3), (2, 4), (4, 2, 1)]
    built = 0
    for qualified in rules.LAYERS:
        module, _, cls = qualified.rpartition(".")
        try:
            torch_class = getattr(importlib.import_module(module), cls)
        except (ImportError, AttributeError):
            continue
        layer = next(filter(None, (_made(torch_class, a) for a in torch_tries)), None)
        if layer is not None:
            built += 1
            assert _public(layer) <= TORCH_LAYER_ATTRIBUTES, (qualified, _public(layer))
    assert built >= 80


def _made(cls: type, args: tuple) -> object | None:
    try:
        return cls(*args)
    except Exception:  # noqa: BLE001 - any constructor's refusal of these arguments
        return None
