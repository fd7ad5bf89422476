"""torchvision's classifiers, translated and converted from their installed source (issue 11).

torchvision is imported only through ``torchvision_loader`` (its C extension does not load
against CPU torch). Conversions check every layer in eval and train mode; float32 tolerances
are the project's (atol 1e-5, rtol 1e-4), 1e-4 absolute for the deep ResNet-50.
"""

from __future__ import annotations

import importlib
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf
import torch
from torchvision_loader import import_torchvision

import torch2tf
from torch2tf.generated import load_generated

torchvision = import_torchvision()
from torchvision.models import resnet  # noqa: E402

RESNET = Path(resnet.__file__)


def sample(*shape: int) -> torch.Tensor:
    return torch.randn(*shape, generator=torch.Generator().manual_seed(0))


@pytest.fixture(scope="module")
def resnet_source() -> str:
    return torch2tf.translate_file(RESNET, classes=["ResNet"])


def test_resnet_translates_to_readable_channels_last_keras(resnet_source: str) -> None:
    code = resnet_source
    for name in ("ResNet", "BasicBlock", "Bottleneck"):
        assert f"class {name}(tf.keras.Model):" in code
    flat = re.sub(r"\s+", " ", code)
    # the stem: a 7x7 stride-2 Conv2D after torch's explicit padding of 3
    assert (
        "tf.keras.layers.ZeroPadding2D(3), tf.keras.layers.Conv2D( self.inplanes, 7, strides=2,"
    ) in flat
    assert "tf.keras.layers.Conv2D( out_planes, 1, strides=stride, use_bias=False," in flat
    assert "tf.transpose" not in code and "permute" not in code
    assert "_log_api_usage_once" not in code.replace("# torch2tf: _log_api_usage_once", "")
    assert (
        "def nn_batchnorm2d(num_features, eps=1e-05, momentum=0.1, device=None, dtype=None):"
        in code
    )
    assert "ResNet18_Weights" not in code and "def resnet18" not in code  # not reached
    # the init loops stay loops, over the Keras layers, with torch's distributions
    assert "for m in torch_modules(self):" in code
    assert (
        'torch_init( m, "kernel", tf.keras.initializers.VarianceScaling( 2.0, "fan_out", '
        '"untruncated_normal" ), )'
    ) in flat
    assert 'torch_init(m.bn3, "gamma", tf.keras.initializers.Constant(0))' in code


def test_resnet_translation_passes_ruff(resnet_source: str, tmp_path: Path) -> None:
    (tmp_path / "resnet.py").write_text(resnet_source)
    command = [sys.executable, "-m", "ruff", "check", "--isolated", "--select", "E4,E7,E9,F,I"]
    result = subprocess.run([*command, "."], cwd=tmp_path, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout


def test_translated_resnet_runs_and_initialises_like_torch(resnet_source: str) -> None:
    module = load_generated(resnet_source, "tv_resnet")
    model = module.ResNet(module.Bottleneck, [1, 1, 1, 1], num_classes=7, zero_init_residual=True)
    out = model(tf.zeros([2, 32, 32, 3]))  # channels-last
    assert tuple(out.shape) == (2, 7)
    block = model.layer1.layers[0]
    assert np.all(block.bn3.gamma.numpy() == 0)  # zero_init_residual
    assert np.all(block.bn1.gamma.numpy() == 1)
    # kaiming_normal_(mode="fan_out", nonlinearity="relu") on every conv, in a block too
    kernel = model.layer4.layers[0].conv2.layers[-1].kernel.numpy()  # (3, 3, 512, 512)
    expected = np.sqrt(2.0 / (3 * 3 * 512))
    assert abs(kernel.std() / expected - 1) < 0.02
    assert abs(kernel.mean()) < 0.01 * expected * 10


def _assert_verified(result, atol: float) -> None:
    assert [c.mode for c in result.checks] == ["eval", "train"]
    for check in result.checks:
        failed = [layer.__dict__ for layer in check.layers if not layer.passed]
        assert check.passed and not failed, (check.mode, failed)
        assert len(check.layers) > 20  # every layer, blocks and their convs included
    assert result.max_abs_error <= atol


def test_resnet18_converts_and_verifies_per_layer_in_eval_and_train() -> None:
    torch.manual_seed(0)
    model = resnet.resnet18(num_classes=10)
    result = torch2tf.convert(
        model,
        args=[resnet.BasicBlock, [2, 2, 2, 2]],
        kwargs={"num_classes": 10},
        inputs=sample(2, 3, 64, 64),
    )
    _assert_verified(result, 1e-5 + 1e-4)
    keras_out = result.keras_model(*result.keras_inputs(sample(2, 3, 64, 64)), training=False)
    with torch.no_grad():
        model.eval()
        expected = model(sample(2, 3, 64, 64)).numpy()
    np.testing.assert_allclose(keras_out.numpy(), expected, atol=1e-5, rtol=1e-4)


@pytest.mark.slow  # about 4 minutes on 2 busy cores
def test_resnet50_converts_with_bottleneck_blocks() -> None:
    torch.manual_seed(0)
    model = resnet.resnet50(num_classes=10)
    result = torch2tf.convert(
        model,
        args=[resnet.Bottleneck, [3, 4, 6, 3]],
        kwargs={"num_classes": 10},
        inputs=sample(2, 3, 64, 64),  # train mode: batch statistics over 2x2x2 values in layer4
        atol=1e-4,
        rtol=0,
    )
    _assert_verified(result, 1e-4)


@pytest.mark.slow  # about 4 minutes on 2 busy cores
def test_resnet50_in_float64_matches_torch_within_1e_10() -> None:
    """The issue's float64 figure for deep nets: every layer, eval and train mode."""
    torch.manual_seed(0)
    model = resnet.resnet50(num_classes=10).double()
    result = torch2tf.convert(
        model,
        args=[resnet.Bottleneck, [3, 4, 6, 3]],
        kwargs={"num_classes": 10},
        inputs=sample(2, 3, 64, 64).double(),
        atol=1e-10,
        rtol=0,
    )
    assert result.report["dtype"] == "float64"
    _assert_verified(result, 1e-10)


def test_a_block_class_that_is_not_translated_is_refused() -> None:
    """A constructor argument that is a torch class of another package: a clear error."""

    class Elsewhere(torch.nn.Module):
        expansion = 1

    with pytest.raises(torch2tf.ConversionError, match="Elsewhere"):
        torch2tf.convert(
            resnet.resnet18(num_classes=10),
            args=[Elsewhere, [2, 2, 2, 2]],
            kwargs={"num_classes": 10},
            inputs=sample(1, 3, 32, 32),
        )


def test_a_residual_net_written_like_torchvision_converts(tmp_path: Path, monkeypatch) -> None:
    """The golden case residual_blocks: blocks from a loop, a downsample built inline and
    passed to the block, an unannotated block parameter followed from its call sites."""
    case = Path(__file__).parent / "cases" / "residual_blocks.py"
    source = case.read_text(encoding="utf-8").partition("\n# output\n")[0]
    (tmp_path / "residual_blocks_model.py").write_text(source, encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    module = importlib.import_module("residual_blocks_model")
    torch.manual_seed(0)
    model = module.Net(module.Block, [2, 2])
    result = torch2tf.convert(model, args=[module.Block, [2, 2]], inputs=sample(4, 3, 16, 16))
    _assert_verified(result, 1e-5 + 1e-4)
    assert "stage2.0.downsample.0" in [layer.layer for layer in result.checks[0].layers]


@pytest.mark.slow  # about 2 minutes on 2 busy cores (conversion, export check, reload)
def test_resnet18_keras_export_reloads_in_a_fresh_process(tmp_path: Path) -> None:
    """block=BasicBlock is saved by its registered name: load_model rebuilds the ResNet from
    the .keras file with TensorFlow and the generated module only, and it matches torch."""
    import json
    import textwrap

    torch.manual_seed(0)
    model = resnet.resnet18(num_classes=10).eval()
    x = sample(1, 3, 64, 64)
    result = torch2tf.convert(
        model, args=[resnet.BasicBlock, [2, 2, 2, 2]], kwargs={"num_classes": 10}, inputs=x
    )
    out = tmp_path / "out"
    result.save(out, formats=["keras"])
    entry = json.loads((out / "report.json").read_text())["exports"]["keras"]
    assert entry["passed"] and entry["max_abs_error"] <= 1e-5, entry
    # torchvision's own package is the project: its files keep their places in the output
    (generated_file,) = out.rglob("resnet.py")
    module = ".".join(generated_file.relative_to(out).with_suffix("").parts)
    assert module == "torchvision.models.resnet"
    np.save(tmp_path / "x.npy", result.keras_inputs(x)[0].numpy())
    script = textwrap.dedent(f"""
        import sys
        import numpy as np
        import tensorflow as tf
        sys.path.insert(0, {str(out)!r})
        import {module} as generated
        model = tf.keras.models.load_model({str(out / "ResNet.keras")!r})
        assert model.get_config()["block"].endswith(">BasicBlock"), model.get_config()
        assert type(model.layer1.layers[0]) is generated.BasicBlock
        y = model(np.load({str(tmp_path / "x.npy")!r}), training=False)
        np.save({str(tmp_path / "y.npy")!r}, y.numpy())
        assert "torch" not in sys.modules
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    with torch.no_grad():
        expected = model(x).numpy()
    np.testing.assert_allclose(np.load(tmp_path / "y.npy"), expected, atol=1e-5, rtol=1e-4)
