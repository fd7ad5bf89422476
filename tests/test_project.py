"""Code split across files: base classes, factories and blocks imported from sibling modules."""

import importlib

import pytest
import torch
from conftest import MODELS
from mlpkit.nets.mlp import ResMLP

import torch2tf
from torch2tf.project import local_imports, project_of
from torch2tf.translate import translate_project, translate_source


def test_project_translation_mirrors_files_and_resolves_imports():
    generated = translate_project(MODELS, sorted((MODELS / "mlpkit").rglob("*.py")))
    names = {str(p) for p in generated}
    assert names == {
        "mlpkit/__init__.py",
        "mlpkit/base.py",
        "mlpkit/blocks.py",
        "mlpkit/nets/__init__.py",
        "mlpkit/nets/mlp.py",
    }
    blocks = generated[next(p for p in generated if str(p) == "mlpkit/blocks.py")]
    assert "class Residual(BaseNet):" in blocks and "from .base import BaseNet, dense" in blocks
    # Residual is a module class defined in another file: it receives `training`.
    mlp = generated[next(p for p in generated if str(p) == "mlpkit/nets/mlp.py")]
    assert "from ..blocks import Residual" in mlp
    assert "self.drop(self.inner(x, training=training), training=training)" in blocks


def test_torch_module_methods_on_self_are_reported():
    source = (
        "import torch.nn as nn\n\nclass Net(nn.Module):\n"
        "    def count(self):\n        return sum(1 for _ in self.children())\n"
    )
    with pytest.raises(torch2tf.TranslationError, match=r"net.py:5:31: .*self.children"):
        translate_source(source, "net.py")


def test_the_import_closure_of_a_file():
    root, name = project_of(MODELS / "mlpkit" / "nets" / "mlp.py")
    assert (root, name) == (MODELS.resolve(), "mlpkit.nets.mlp")
    files = {str(f.relative_to(root)) for f in local_imports(MODELS / "mlpkit/nets/mlp.py", root)}
    assert files == {
        "mlpkit/nets/mlp.py",
        "mlpkit/base.py",
        "mlpkit/blocks.py",
        "mlpkit/__init__.py",
        "mlpkit/nets/__init__.py",
    }


def test_convert_across_files_and_save_the_tree(tmp_path):
    torch.manual_seed(0)
    result = torch2tf.convert(ResMLP(6, 8, 3), args=(6, 8, 3))
    assert result.passed, result.table()
    result.save(tmp_path / "out")
    saved = {str(p.relative_to(tmp_path / "out")) for p in (tmp_path / "out").rglob("*.py")}
    assert "mlpkit/nets/mlp.py" in saved and "mlpkit/base.py" in saved
    # the torch project is untouched in sys.modules
    assert importlib.import_module("mlpkit.base").BaseNet.__mro__[1] is torch.nn.Module
