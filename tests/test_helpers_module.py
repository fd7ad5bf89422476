"""translate --helpers-module NAME: the helpers written once, imported by each generated file."""

import ast
import importlib
import json
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch
from conftest import EXAMPLES
from seed_mlps import PyTorchMLPComplex
from test_cli import one_line_error, run, snapshot

import torch2tf
from torch2tf.cli import EXIT_OK, EXIT_USAGE

BLOCKS = '''
import torch.nn as nn


class Block(nn.Module):
    """Linear, batch norm, PReLU."""

    def __init__(self, width):
        super().__init__()
        self.fc = nn.Linear(width, width)
        self.bn = nn.BatchNorm1d(width)
        self.act = nn.PReLU()

    def forward(self, x):
        return self.act(self.bn(self.fc(x)))
'''

MODEL = """
import torch.nn as nn

from blocks import Block


class Net(nn.Module):
    def __init__(self, inputs, width, outputs):
        super().__init__()
        self.stem = nn.Linear(inputs, width)
        self.block = Block(width)
        self.head = nn.Linear(width, outputs)

    def forward(self, x):
        return self.head(self.block(self.stem(x)))
"""


def project(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    (src / "blocks.py").write_text(textwrap.dedent(BLOCKS).lstrip())
    (src / "model.py").write_text(textwrap.dedent(MODEL).lstrip())
    return src


def top_level(path) -> set[str]:
    tree = ast.parse(path.read_text())
    return {n.name for n in tree.body if isinstance(n, (ast.FunctionDef, ast.ClassDef))}


def test_a_two_file_project_shares_one_helpers_module(capsys, tmp_path, monkeypatch):
    out = tmp_path / "out"
    code, _, err = run(
        capsys, "translate", project(tmp_path), "--helpers-module", "tf_helpers", "-o", out
    )
    assert code == EXIT_OK, err
    out = out / "src"  # a folder keeps its name
    assert sorted(p.name for p in out.rglob("*.py")) == ["blocks.py", "model.py", "tf_helpers.py"]
    assert top_level(out / "blocks.py") == {"Block"}
    assert top_level(out / "model.py") == {"Net"}
    assert top_level(out / "tf_helpers.py") == {
        "torch_default_kernel",
        "torch_default_bias",
        "TorchBatchNorm",
        "TorchPReLU",
        "config_from_arguments",  # get_config and from_config
        "arguments_from_config",
    }
    blocks = (out / "blocks.py").read_text()
    imports = (
        "from tf_helpers import (\n    TorchBatchNorm,\n    TorchPReLU,\n"
        "    arguments_from_config,\n    config_from_arguments,\n    torch_default_bias,\n"
    )
    assert imports in blocks
    assert "import math" not in blocks  # only the helpers used it
    assert (
        "from tf_helpers import (\n    arguments_from_config,\n    config_from_arguments,\n"
        "    torch_default_bias,\n    torch_default_kernel,\n)"
    ) in (out / "model.py").read_text()
    lint = subprocess.run(
        [sys.executable, "-m", "ruff", "check", "--isolated", "--extend-select", "I", "."],
        cwd=out,
        capture_output=True,
        text=True,
    )
    assert lint.returncode == 0, lint.stdout

    # The result imports and builds, and computes what torch computes with the same weights.
    monkeypatch.syspath_prepend(str(out))
    for name in ("blocks", "model", "tf_helpers"):
        monkeypatch.delitem(sys.modules, name, raising=False)
    keras_net = importlib.import_module("model").Net(6, 5, 3)
    assert keras_net.built and len(keras_net.weights) == 11  # torch: 12 with num_batches_tracked
    monkeypatch.syspath_prepend(str(tmp_path / "src"))
    for name in ("blocks", "model"):
        monkeypatch.delitem(sys.modules, name, raising=False)
    torch.manual_seed(0)
    net = importlib.import_module("model").Net(6, 5, 3).eval()
    keras_net.stem.set_weights([net.stem.weight.detach().numpy().T, net.stem.bias.detach().numpy()])
    keras_net.head.set_weights([net.head.weight.detach().numpy().T, net.head.bias.detach().numpy()])
    block, twin = net.block, keras_net.block
    twin.fc.set_weights([block.fc.weight.detach().numpy().T, block.fc.bias.detach().numpy()])
    x = np.random.default_rng(0).standard_normal((4, 6)).astype(np.float32)
    expected = net(torch.from_numpy(x)).detach().numpy()
    np.testing.assert_allclose(keras_net(x, training=False), expected, atol=1e-5, rtol=1e-4)
    for name in ("blocks", "model", "tf_helpers"):
        sys.modules.pop(name, None)


@pytest.mark.parametrize(
    "name, message",
    [
        (
            "tf-helpers",
            "--helpers-module: expected a Python module name like tf_helpers, "
            "received 'tf-helpers'",
        ),
        (
            "blocks",
            "--helpers-module blocks: expected a name no project module has, received src/blocks",
        ),
    ],
)
def test_a_bad_helpers_module_name_is_a_usage_error(capsys, tmp_path, name, message):
    src = project(tmp_path)
    out = tmp_path / "out"
    code, _, err = run(capsys, "translate", src, "--helpers-module", name, "-o", out)
    assert code == EXIT_USAGE
    assert one_line_error(err).startswith(f"torch2tf: error: {message}")
    assert not out.exists()


def test_helpers_module_needs_a_project(capsys, tmp_path):
    src = project(tmp_path)
    code, _, err = run(capsys, "translate", src / "blocks.py", "--helpers-module", "h")
    assert code == EXIT_USAGE
    assert "expected a folder or several files, received one file" in one_line_error(err)
    assert snapshot(tmp_path / "src").keys() == {"blocks.py", "model.py"}


def test_convert_writes_the_helpers_module_and_the_output_loads_as_written(tmp_path):
    """Python API: save(..., helpers_module=NAME) puts the helpers into NAME.py, which the
    model file imports; the weights and the .keras export load in a fresh TensorFlow-only
    process from the folder as written, and compute what torch computes."""
    torch.manual_seed(0)
    model = PyTorchMLPComplex(6, 5, 4, 3, 0.2)
    with torch.no_grad():
        model.bn1.running_mean.uniform_(-1, 1)
    model.eval()
    result = torch2tf.convert(model, args=(6, 5, 4, 3, 0.2))
    out = tmp_path / "out"
    result.save(out, formats=["keras"], helpers_module="tf_helpers")
    assert sorted(p.name for p in out.glob("*.py")) == ["seed_mlps.py", "tf_helpers.py"]
    assert top_level(out / "seed_mlps.py") == {"PyTorchMLPComplex"}
    assert {"torch_default_kernel", "TorchBatchNorm"} <= top_level(out / "tf_helpers.py")
    assert "from tf_helpers import" in (out / "seed_mlps.py").read_text()
    assert result.exports["keras"]["passed"], result.exports
    x = np.random.default_rng(0).standard_normal((4, 6)).astype(np.float32)
    np.save(tmp_path / "x.npy", x)
    script = textwrap.dedent(f"""
        import sys
        import numpy as np
        import tensorflow as tf
        sys.path.insert(0, {str(out)!r})
        from seed_mlps import PyTorchMLPComplex
        x = np.load({str(tmp_path / "x.npy")!r})
        model = PyTorchMLPComplex(6, 5, 4, 3, 0.2)
        model.load_weights({str(out / "PyTorchMLPComplex.weights.h5")!r})
        loaded = tf.keras.models.load_model({str(out / "PyTorchMLPComplex.keras")!r})
        assert type(loaded) is PyTorchMLPComplex
        np.save({str(tmp_path / "y.npy")!r}, model(x, training=False).numpy())
        np.save({str(tmp_path / "z.npy")!r}, loaded(x, training=False).numpy())
        assert "torch" not in sys.modules
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    with torch.no_grad():
        expected = model(torch.from_numpy(x)).numpy()
    for name in ("y.npy", "z.npy"):
        np.testing.assert_allclose(np.load(tmp_path / name), expected, atol=1e-5, rtol=1e-4)


def test_convert_cli_helpers_module(capsys, tmp_path):
    """The same from the command line: the .keras export is verified with the files as
    written (the fresh process imports tf_helpers.py)."""
    out = tmp_path / "out"
    code, printed, err = run(
        capsys,
        *("convert", EXAMPLES / "seed_mlps.py", "--class", "PyTorchMLP", "--args", "[6, 5, 3]"),
        *("--helpers-module", "tf_helpers", "--export", "keras", "-o", out),
    )
    assert code == EXIT_OK, err
    assert "export keras" in printed
    assert top_level(out / "seed_mlps.py") == {"PyTorchMLP"}
    assert top_level(out / "tf_helpers.py") == {
        "torch_default_kernel",
        "torch_default_bias",
        "config_from_arguments",
        "arguments_from_config",
    }
    report = json.loads((out / "report.json").read_text())
    assert report["exports"]["keras"]["passed"], report["exports"]


def test_convert_helpers_module_named_like_the_model_file_is_a_usage_error(capsys, tmp_path):
    code, _, err = run(
        capsys,
        *("convert", EXAMPLES / "seed_mlps.py", "--class", "PyTorchMLP", "--args", "[4, 3, 2]"),
        *("--helpers-module", "seed_mlps", "-o", tmp_path / "out"),
    )
    assert code == EXIT_USAGE
    assert "--helpers-module seed_mlps: expected a name no project module has" in err
    assert not (tmp_path / "out").exists()
