"""`from .layers import *` across a project's files (deepctr-torch's models read torch's `nn`
and the package's layers that way): the names a star import binds are resolved, through the
starred module's own star imports too, and `__all__` decides what a star takes."""

import importlib
import sys

import pytest
import torch

import torch2tf
from torch2tf.translate import translate_file

FILES = {
    "starpkg/__init__.py": "",
    "starpkg/layers/__init__.py": "from .core import *\nfrom .extra import *\n",
    "starpkg/layers/core.py": (
        "import torch\nimport torch.nn as nn\n\n\n"
        "class Block(nn.Module):\n"
        "    def __init__(self, n):\n        super().__init__()\n"
        "        self.fc = nn.Linear(n, n)\n\n"
        "    def forward(self, x):\n        return torch.relu(self.fc(x))\n"
    ),
    "starpkg/layers/extra.py": (
        "import torch.nn as nn\n\n__all__ = ['Head']\n\n\n"
        "class Head(nn.Module):\n"
        "    def __init__(self, n):\n        super().__init__()\n"
        "        self.out = nn.Linear(n, 2)\n\n"
        "    def forward(self, x):\n        return self.out(x)\n\n\n"
        "class Hidden(nn.Module):\n    pass\n"
    ),
    "starpkg/models/__init__.py": "",
    "starpkg/models/net.py": (
        "from ..layers import *\n\n\n"
        "class Net(nn.Module):\n"
        "    def __init__(self, n):\n        super().__init__()\n"
        "        self.block = Block(n)\n        self.head = Head(n)\n"
        "        self.gru = nn.GRU(n, n, batch_first=True)\n\n"
        "    def forward(self, x):\n"
        "        out, h = self.gru(x)\n        return self.head(self.block(out[:, -1]))\n"
    ),
}


@pytest.fixture
def starpkg(tmp_path, monkeypatch):
    for name, text in FILES.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text, encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    yield tmp_path
    for name in [m for m in sys.modules if m.split(".")[0] == "starpkg"]:
        del sys.modules[name]


def test_names_through_nested_star_imports_are_resolved(starpkg):
    code = translate_file(starpkg / "starpkg/models/net.py", classes=["Net"])
    assert "class Net(tf.keras.Model):" in code
    assert "self.gru = TorchGRU(" in code and "from ..layers import *" in code
    # Block and Head are the project's module classes: called with `training`
    assert "self.block(out[:, -1], training=training)" in code


def test_a_model_reading_star_imports_converts(starpkg):
    net = importlib.import_module("starpkg.models.net")
    torch.manual_seed(0)
    result = torch2tf.convert(net.Net(4), args=(4,), inputs=(torch.randn(3, 5, 4),))
    assert result.passed, result.table()


def test_a_star_takes_only_what_all_lists(starpkg):
    import libcst as cst

    from torch2tf.names import ImportTable
    from torch2tf.translate import _starred

    parsed = {}
    for name in FILES:
        relative = starpkg.joinpath(name).relative_to(starpkg)
        module = ".".join(relative.with_suffix("").parts).removesuffix(".__init__")
        parsed[relative] = (module, FILES[name], cst.parse_module(FILES[name]))
    bound = dict(_starred(parsed)[starpkg.joinpath("starpkg/models/net.py").relative_to(starpkg)])
    assert bound["nn"] == "torch.nn" and bound["Block"] == "starpkg.layers.core.Block"
    assert bound["Head"] == "starpkg.layers.extra.Head" and "Hidden" not in bound
    table = ImportTable.of(parsed[next(iter(parsed))][2], "starpkg", bound.items())
    assert table.qualify_name("nn.GRU") == "torch.nn.GRU"
