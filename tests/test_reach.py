"""Translate what a class reaches; never read files outside its own package.

Model files sit in a fake site-packages next to a fake ``torch`` and a fake third-party package
whose files would fail loudly if parsed; an audit hook records every file opened meanwhile.
"""

import importlib
import importlib.util
import json
import linecache
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch

import torch2tf
from torch2tf.cli import EXIT_USAGE, main
from torch2tf.reach import reach
from torch2tf.translate import translate_file

MODEL = textwrap.dedent(
    '''
    """A model file written the way packages write them."""

    import logging
    import math
    from typing import Optional

    import torch
    import torch.nn as nn
    import torch.nn.functional as F
    from torch.optim import AdamW

    logger = logging.getLogger(__name__)
    logging.basicConfig(level=logging.INFO)

    HIDDEN = 16
    device = "cpu"


    def get_device():
        # Prefer an accelerator when there is one.
        if torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")


    def make_optimizer(model, lr=1e-3):
        decay = [p for n, p in model.named_parameters() if "bias" not in n]
        return AdamW([{"params": decay, "weight_decay": 0.01}], lr=lr)


    def mlp(sizes, act=nn.ReLU):
        layers = []
        for a, b in zip(sizes[:-1], sizes[1:]):
            layers += [nn.Linear(a, b), act()]
        return nn.Sequential(*layers)


    class Block(nn.Module):
        def __init__(self, dim: int, dropout: float = 0.1):
            super().__init__()
            self.fc = nn.Linear(dim, dim)
            self.drop = nn.Dropout(dropout)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return x + self.drop(F.relu(self.fc(x)))


    class Model(nn.Module):
        def __init__(self, d_in: int, d_out: int, device: Optional[str] = None):
            super().__init__()
            self.device_name = device
            self.inp = mlp([d_in, HIDDEN])
            self.block = Block(HIDDEN)
            self.out = nn.Linear(HIDDEN, d_out)

        def forward(self, x):
            return self.out(self.block(self.inp(x)))


    class ConvNet(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.ConvTranspose3d(3, 8, 3)
            self.rnn = nn.Bilinear(8, 8, 8)

        def forward(self, x):
            return self.conv(x)


    device = get_device()

    if __name__ == "__main__":
        print(Model(4, 2)(torch.randn(2, 4)))
    '''
).lstrip()

BROKEN = "this file must never be read ((((\n"


@pytest.fixture
def site(tmp_path):
    """A fake site-packages: the package ``shop`` (model file, blocks, a helpers module the
    model does not reach), fake ``torch`` and ``einops`` beside it, and a dist-info folder."""
    root = tmp_path / "site-packages"
    for broken in ("torch/__init__.py", "torch/nn/__init__.py", "einops/__init__.py"):
        (root / broken).parent.mkdir(parents=True, exist_ok=True)
        (root / broken).write_text(BROKEN)
    (root / "einops-0.8.0.dist-info").mkdir()
    (root / "lonely.py").write_text(BROKEN)
    shop = root / "shop"
    shop.mkdir()
    (shop / "__init__.py").write_text('"""shop."""\nfrom .models import *  # noqa\n')
    (shop / "models.py").write_text(MODEL.replace("import math\n", "import math\nimport einops\n"))
    (shop / "unused.py").write_text(BROKEN)
    return root


@pytest.fixture
def opened():
    """Files opened while the list is being recorded (an audit hook cannot be removed, so
    it records only between ``start`` and ``stop``)."""
    record: list[str] = []
    state = {"on": False}

    def hook(event, args):
        if state["on"] and event == "open" and isinstance(args[0], (str, Path)):
            record.append(str(args[0]))

    sys.addaudithook(hook)

    class Recorder:
        files = record

        def start(self):
            state["on"] = True

        def stop(self):
            state["on"] = False

    yield Recorder()
    state["on"] = False


def _outside(files: list[str], site: Path) -> list[str]:
    return [f for f in files if f.startswith(str(site)) and "/shop/" not in f]


def test_whole_file_reports_every_problem_but_a_class_is_not_blocked_by_what_it_does_not_reach(
    tmp_path,
):
    path = tmp_path / "model.py"
    path.write_text(MODEL)
    with pytest.raises(torch2tf.TranslationError) as whole:
        translate_file(path)
    text = str(whole.value)
    assert "model.py:28:12" in text and "AdamW" in text  # the optimizer factory
    assert "model.py:63:21" in text and "ConvTranspose3d" in text  # the sibling class
    code = translate_file(path, classes=["Model"])
    assert "class Model(tf.keras.Model):" in code and "class Block(tf.keras.Model):" in code
    for gone in ("ConvNet", "AdamW", "get_device", "logging", "make_optimizer", "__main__"):
        assert gone not in code
    # the method's parameter `device` is not the module's `device = get_device()`
    assert "device" in code and "get_device" not in code
    out = tmp_path / "out.py"
    out.write_text(code)
    lint = subprocess.run(
        [sys.executable, "-m", "ruff", "check", "--isolated", "--select", "E4,E7,E9,F,I"]
        + [str(out)],
        capture_output=True,
        text=True,
    )
    assert lint.returncode == 0, lint.stdout + code


def test_a_reached_piece_that_cannot_be_translated_is_reported_at_its_position(tmp_path):
    path = tmp_path / "model.py"
    path.write_text(MODEL)
    with pytest.raises(torch2tf.TranslationError) as err:
        translate_file(path, classes=["ConvNet"])
    assert [(d.line, d.column) for d in err.value.diagnostics] == [(63, 21), (64, 20)]
    assert all(d.path == str(path) for d in err.value.diagnostics)


def test_left_out_code_is_listed(tmp_path):
    path = tmp_path / "model.py"
    path.write_text(MODEL)
    left = {(x.name, x.kind, x.line) for x in reach(path, ["Model"]).left_out}
    assert ("make_optimizer", "function", 26) in left
    assert ("get_device", "function", 19) in left
    assert ("ConvNet", "class", 60) in left
    assert ("logging.basicConfig(level=logging.INFO)", "statement", 13) in left
    assert (
        ("device", "constant", 16) in left
        and ("device", "constant", 70) in left
        and ("logger", "constant", 12) in left
    )
    assert ('if __name__ == "__main__":', "statement", 72) in left
    assert not any(x[0] in ("Model", "Block", "mlp", "HIDDEN") for x in left)


def test_translate_class_on_the_command_line(tmp_path, capsys):
    path = tmp_path / "model.py"
    path.write_text(MODEL)
    out = tmp_path / "out.py"
    assert (
        main(["translate", str(path), "--class", "Model", "--class", "Block", "-o", str(out)]) == 0
    )
    err = capsys.readouterr().err
    assert "left out 8 top-level statements not reached from Model, Block" in err
    assert f"{path}:26: function make_optimizer" in err
    assert "class Model(tf.keras.Model)" in out.read_text()
    assert main(["translate", str(path), "--class", "Nope"]) == EXIT_USAGE
    assert "--class Nope: expected a class defined" in capsys.readouterr().err


def test_the_project_stops_at_the_package_nothing_else_is_read(site, opened):
    model = site / "shop" / "models.py"
    opened.start()
    try:
        code = translate_file(model, classes=["Model"])
        with pytest.raises(torch2tf.TranslationError) as whole:
            translate_file(model)  # the whole file: its own problems, nothing from torch
    finally:
        opened.stop()
    assert "class Model(tf.keras.Model)" in code
    assert "shop/models.py" in str(whole.value) and "site-packages/torch" not in str(whole.value)
    assert _outside(opened.files, site) == []
    assert not any(f.endswith("unused.py") for f in opened.files)


def test_a_top_level_module_among_installed_packages_is_its_own_project(site, opened):
    single = site / "single.py"
    single.write_text("import lonely\nimport einops\n" + MODEL)
    opened.start()
    try:
        translate_file(single, classes=["Model"])
        with pytest.raises(torch2tf.TranslationError):
            translate_file(single)
    finally:
        opened.stop()
    assert set(_outside(opened.files, site)) == {str(single)}


def test_convert_reads_nothing_outside_the_package(site, opened):
    sys.path.append(str(site))  # after the real torch: only einops and shop come from here
    (site / "einops" / "__init__.py").write_text("")  # importable now (it is run, not parsed)
    try:
        module = importlib.import_module("shop.models")
        torch.manual_seed(0)
        model = module.Model(6, 3)
        opened.start()
        try:
            result = torch2tf.convert(model, args=(6, 3))
        finally:
            opened.stop()
    finally:
        sys.path.remove(str(site))
        for name in [n for n in sys.modules if n.split(".")[0] in ("shop", "einops")]:
            del sys.modules[name]
    assert result.passed, result.table()
    assert [f for f in _outside(opened.files, site) if not f.endswith(".h5")] == []
    left = result.report["left_out"]
    assert {
        "name": "make_optimizer",
        "kind": "function",
        "file": str(site / "shop" / "models.py"),
        "line": 27,
        "reason": "not reached from Model",
    } in left
    assert "ConvNet" not in result.source
    assert set(result.sources) == {"shop/models.py", "shop/__init__.py"}
    assert "models" not in result.sources["shop/__init__.py"]
    json.dumps(result.report)


def test_convert_a_class_of_a_module_importlib_did_not_register(tmp_path):
    path = tmp_path / "unregistered_model.py"
    path.write_text(MODEL)
    spec = importlib.util.spec_from_file_location("unregistered_model", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert "unregistered_model" not in sys.modules
    torch.manual_seed(0)
    result = torch2tf.convert(module.Model(5, 2), args=(5, 2))
    assert result.passed, result.table()
    assert any(x["name"] == "ConvNet" for x in result.report["left_out"])


def test_convert_a_class_defined_in_a_notebook_cell():
    cell = "<ipython-input-7-0123456789ab>"
    linecache.cache[cell] = (len(MODEL), None, MODEL.splitlines(keepends=True), cell)
    namespace = {"__name__": "__main__"}
    try:
        exec(
            compile(MODEL.replace('if __name__ == "__main__"', "if False"), cell, "exec"), namespace
        )
        torch.manual_seed(0)
        result = torch2tf.convert(namespace["Model"](4, 2), args=(4, 2))
    finally:
        del linecache.cache[cell]
    assert result.passed, result.table()
    assert result.module_name == "model"


def test_convert_a_class_defined_in_the_script_that_converts_it(tmp_path):
    script = tmp_path / "train_script.py"
    script.write_text(
        MODEL.replace(
            "    print(Model(4, 2)(torch.randn(2, 4)))\n",
            "    import torch2tf\n\n"
            "    result = torch2tf.convert(Model(4, 2), args=(4, 2))\n"
            "    print('passed', result.passed, result.module_name)\n",
        )
    )
    done = subprocess.run(
        [sys.executable, str(script)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={**__import__("os").environ, "TF_CPP_MIN_LOG_LEVEL": "2"},
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "passed True train_script" in done.stdout


METHODS = textwrap.dedent(
    '''
    import torch
    import torch.nn as nn
    import torch.nn.functional as F


    def scale(x):
        return x * 0.5


    class Base(nn.Module):
        def __init__(self, d):
            super().__init__()
            self.d = d

        def forward(self, x):
            return x * 2.0

        def shifted(self, x):
            return x + 1.0

        def save(self, path):
            torch.save(self.state_dict(), path)


    class Model(Base):
        """A model with training and shape helpers that forward never calls."""

        def __init__(self, d, d_out):
            super().__init__(d)
            self.fc = nn.Linear(d, d)
            self.out = nn.Linear(d, d_out)

        @property
        def factor(self):
            return self._pick() * 2.0

        def _pick(self):
            return 0.75

        def forward(self, x):
            x = super().forward(self.fc(x))
            x = self.factor * getattr(self, "_halve")(super().shifted(x))
            return self.out(x)

        def _halve(self, x):
            return scale(x)

        # A helper torch2tf does not translate.
        def get_output_shape(self):
            return torch.histc(self.out.weight, bins=4)

        @property
        def width(self):
            return self.out.in_features

        def fit(self, x, y, epochs=1):
            optimizer = torch.optim.Adam(self.parameters())
            for _ in range(epochs):
                loss = F.mse_loss(self(x), y)
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
    '''
).lstrip()


def test_methods_forward_does_not_reach_are_left_out(tmp_path):
    path = tmp_path / "methods.py"
    path.write_text(METHODS)
    with pytest.raises(torch2tf.TranslationError) as whole:
        translate_file(path)  # the whole file: fit, save and the shape helper are reported
    assert "torch.histc" in str(whole.value) and "torch.save" in str(whole.value)
    code = translate_file(path, classes=["Model"])
    for kept in ("def _pick", "def factor", "def _halve", "def shifted", "def scale"):
        assert kept in code
    assert "def width" in code  # a property is the class's API: kept
    for gone in ("fit", "get_output_shape", "save"):
        assert f"def {gone}" not in code
    left = {(x.name, x.kind, x.line) for x in reach(path, ["Model"]).left_out}
    assert left == {
        ("Base.save", "method", 21),
        ("Model.get_output_shape", "method", 49),
        ("Model.fit", "method", 56),
    }
    spec = importlib.util.spec_from_file_location("methods_model", path)
    torch_module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(torch_module)
    torch.manual_seed(0)
    result = torch2tf.convert(torch_module.Model(6, 3), args=(6, 3))
    assert result.passed, result.table()
    methods = [x for x in result.report["left_out"] if x["kind"] == "method"]
    assert {x["name"] for x in methods} == {
        "Base.save",
        "Model.get_output_shape",
        "Model.fit",
    }


def test_a_class_left_with_no_method_keeps_a_valid_body(tmp_path):
    path = tmp_path / "empty.py"
    path.write_text(
        "import torch\nimport torch.nn as nn\n\n\nclass Mixin:\n"
        "    def save(self, path):\n        torch.save(self.state_dict(), path)\n\n\n"
        "class Model(Mixin, nn.Module):\n    def __init__(self):\n        super().__init__()\n"
        "        self.fc = nn.Linear(2, 2)\n\n    def forward(self, x):\n"
        "        return self.fc(x)\n"
    )
    code = translate_file(path, classes=["Model"])
    assert "class Mixin:\n    pass\n" in code and "torch.save" not in code


BACKBONE = textwrap.dedent(
    """
    import torch.nn as nn


    class Backbone(nn.Module):
        def __init__(self, d_in, d_hidden):
            super().__init__()
            self.fc = nn.Linear(d_in, d_hidden)
            self.d_hidden = d_hidden

        def forward(self, x):
            return self.fc(x).relu()


    class Head(nn.Module):
        def __init__(self, backbone, d_out):
            super().__init__()
            self.backbone = backbone
            self.out = nn.Linear(backbone.d_hidden, d_out)

        def forward(self, x):
            return self.out(self.backbone(x))
    """
).lstrip()


def test_an_instance_of_a_project_class_as_argument_is_refused_precisely(tmp_path):
    path = tmp_path / "backbone_model.py"
    path.write_text(BACKBONE)
    spec = importlib.util.spec_from_file_location("backbone_model", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    torch.manual_seed(0)
    backbone = module.Backbone(6, 8)
    head = module.Head(backbone, 3)
    with pytest.raises(torch2tf.ConversionError) as err:
        torch2tf.convert(head, kwargs={"backbone": backbone, "d_out": 3})
    assert str(err.value).startswith(
        "backbone: expected a torch layer or a Keras layer, received an instance of "
        "backbone_model.Backbone, whose constructor arguments torch2tf cannot know"
    )
    with pytest.raises(torch2tf.ConversionError, match=r"^args\[0\]: expected"):
        torch2tf.convert(head, args=(backbone, 3))
    twin = torch2tf.convert(backbone, args=(6, 8)).keras_model
    result = torch2tf.convert(head, kwargs={"backbone": twin, "d_out": 3})
    assert result.passed, result.table()


def test_a_method_a_kept_function_calls_on_a_local_is_kept():
    """tuplekit's flatten_tuple calls ``new.is_flat()`` on a local tuple tree: the method is
    kept although no class method or forward names it."""
    model = Path(__file__).parent / "models" / "tuplekit" / "model.py"
    reached = reach(model, ["TreeMLP"])
    tree = reached.sources[Path("tuplekit/tree.py")]
    assert "def flatten_tuple" in tree and "def is_flat(self)" in tree


REGISTRY_FILES = {
    "zoo/__init__.py": "",
    "zoo/registry.py": textwrap.dedent(
        '''
        import torch


        class Registry(dict):
            """Functions by name, as model packages keep their activations and blocks."""

            def register(self, name):
                def add(function):
                    self[name] = function
                    return function

                return add


        ACTIVATIONS = Registry()


        @ACTIVATIONS.register("scaled_tanh")
        def scaled_tanh(x):
            return 1.7159 * torch.tanh(x * 2 / 3)


        def halve(x):
            return x / 2


        ACTIVATIONS["halve"] = halve
        UNUSED = Registry()
        UNUSED["again"] = halve
        '''
    ),
    "zoo/model.py": textwrap.dedent(
        """
        import torch.nn as nn

        from zoo.registry import ACTIVATIONS


        class Tower(nn.Module):
            def __init__(self, d, activation="scaled_tanh"):
                super().__init__()
                self.fc = nn.Linear(d, d)
                self.activation = activation

            def forward(self, x):
                return ACTIVATIONS[self.activation](self.fc(x))
        """
    ),
}


@pytest.mark.parametrize("activation", ["scaled_tanh", "halve"])
def test_statements_that_fill_a_reached_registry_are_kept(tmp_path, monkeypatch, activation):
    for relative, text in REGISTRY_FILES.items():
        (tmp_path / relative).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / relative).write_text(text, encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    try:
        from zoo.model import Tower

        torch.manual_seed(0)
        result = torch2tf.convert(Tower(4, activation), args=(4, activation))
    finally:
        for name in [n for n in sys.modules if n.split(".")[0] == "zoo"]:
            del sys.modules[name]
    assert result.passed, result.table()
    registry = result.sources["zoo/registry.py"]
    assert '@ACTIVATIONS.register("scaled_tanh")' in registry
    assert 'ACTIVATIONS["halve"] = halve' in registry
    assert "UNUSED" not in registry  # filling what nothing reaches stays out, listed
    assert {"UNUSED", 'UNUSED["again"] = halve'} <= {x["name"] for x in result.report["left_out"]}


def test_a_subpackage_imported_by_its_parent_is_followed_to_the_class_used(tmp_path, monkeypatch):
    """normflows' ``from .. import utils`` then ``utils.ConstScaleLayer(...)``, where the
    package's ``__init__`` itself does ``from . import utils``: utils/__init__.py re-exports
    the class from utils/nn.py, which is translated; the rest of utils is left out."""
    files = {
        "pkg/__init__.py": "from . import utils\nfrom . import nets\n",
        "pkg/utils/__init__.py": "from . import nn, other\nfrom .nn import Scale\n",
        "pkg/utils/nn.py": (
            "import torch\nfrom torch import nn\n\n\nclass Scale(nn.Module):\n"
            "    def __init__(self, scale=1.0):\n        super().__init__()\n"
            '        self.register_buffer("scale", torch.tensor(scale))\n\n'
            "    def forward(self, x):\n        return x * self.scale\n"
        ),
        "pkg/utils/other.py": "import torch\n\n\ndef bad(x):\n    return torch.backends.f(x)\n",
        "pkg/nets/__init__.py": "from .mlp import MLP\n",
        "pkg/nets/mlp.py": (
            "from torch import nn\nfrom .. import utils\n\n\nclass MLP(nn.Module):\n"
            "    def __init__(self, d, scale=None):\n        super().__init__()\n"
            "        layers = [nn.Linear(d, d)]\n        if scale is not None:\n"
            "            layers.append(utils.Scale(scale))\n"
            "        self.net = nn.Sequential(*layers)\n\n"
            "    def forward(self, x):\n        return self.net(x)\n"
        ),
    }
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    reached = reach(tmp_path / "pkg/nets/mlp.py", ["MLP"])
    assert Path("pkg/utils/nn.py") in reached.sources
    assert Path("pkg/utils/other.py") not in reached.sources
    assert "from .nn import Scale" in reached.sources[Path("pkg/utils/__init__.py")]
    monkeypatch.syspath_prepend(str(tmp_path))
    for name in [m for m in sys.modules if m == "pkg" or m.startswith("pkg.")]:
        monkeypatch.delitem(sys.modules, name)
    from pkg.nets.mlp import MLP

    result = torch2tf.convert(MLP(4, scale=2.0), args=(4,), kwargs={"scale": 2.0})
    assert result.passed, result.table()


UNUSED_BRANCH_CLASS = """
import torch
from torch import nn


class Odd(nn.Module):
    def forward(self, x):
        return torch.special.zeta(x, 2.0)


class Net(nn.Module):
    def __init__(self, d, odd=False):
        super().__init__()
        self.fc = nn.Linear(d, d)
        self.act = Odd() if odd else nn.Tanh()

    def forward(self, x):
        return self.act(self.fc(x))
"""


def test_a_failing_class_the_live_model_does_not_use_is_left_out_and_raises(tmp_path, monkeypatch):
    (tmp_path / "unused_branch.py").write_text(UNUSED_BRANCH_CLASS)
    monkeypatch.syspath_prepend(str(tmp_path))
    module = importlib.import_module("unused_branch")
    with pytest.raises(torch2tf.TranslationError, match="torch.special.zeta"):
        translate_file(tmp_path / "unused_branch.py", classes=["Net"])  # static: reached
    result = torch2tf.convert(module.Net(4), args=(4,))
    assert result.passed, result.table()
    (entry,) = [e for e in result.left_out if e["name"] == "Odd"]
    assert entry["line"] == 6 and "torch.special.zeta" in entry["reason"]
    assert "raise NotImplementedError(" in result.source
    keras_cls = type(result.keras_model)
    with pytest.raises(NotImplementedError, match="Odd was not translated"):
        keras_cls(4, odd=True)
    # a class the model uses still stops the conversion with its diagnostic
    with pytest.raises(torch2tf.TranslationError, match="unused_branch.py:8:16"):
        torch2tf.convert(module.Net(4, odd=True), args=(4,), kwargs={"odd": True})


def test_a_namespace_package_among_installed_ones_is_its_project(site, opened):
    """A distribution's top package without ``__init__.py`` (pytorch-tabnet's): its modules
    import each other absolutely and are the project; nothing beside it is read."""
    package = site / "nsshop"
    package.mkdir()
    (package / "blocks.py").write_text(
        "import torch.nn as nn\n\n\nclass Gate(nn.Module):\n"
        "    def __init__(self, d):\n        super().__init__()\n"
        "        self.fc = nn.Linear(d, d)\n\n"
        "    def forward(self, x):\n        return self.fc(x)\n"
    )
    (package / "unused.py").write_text(BROKEN)
    model = package / "net.py"
    model.write_text(
        "import torch.nn as nn\nfrom nsshop import blocks\n\n\nclass Net(nn.Module):\n"
        "    def __init__(self, d):\n        super().__init__()\n"
        "        self.gate = blocks.Gate(d)\n\n"
        "    def forward(self, x):\n        return self.gate(x)\n"
    )
    opened.start()
    try:
        code = translate_file(model, classes=["Net"])
    finally:
        opened.stop()
    assert "is a layer from another package" not in code
    assert "self.gate = blocks.Gate(d)" in code  # the project's own module, translated beside
    outside = [f for f in opened.files if f.startswith(str(site)) and "/nsshop/" not in f]
    assert outside == [] and not any(f.endswith("unused.py") for f in opened.files)


UNUSED_FUNCTIONS = """
import torch
from torch import nn


def zeta(x):
    return torch.special.zeta(x, 2.0)


def halve(x):
    return x / 2


ACTIVATIONS = {"zeta": zeta, "halve": halve}


class Act(nn.Module):
    def __init__(self, name):
        super().__init__()
        self.name = name

    def forward(self, x):
        return ACTIVATIONS[self.name](x)


class Net(nn.Module):
    def __init__(self, d, act="halve"):
        super().__init__()
        self.fc = nn.Linear(d, d)
        self.act = Act(act)

    def forward(self, x):
        return self.act(self.fc(x))
"""


def test_a_failing_function_the_forward_does_not_call_is_left_out_and_raises(tmp_path, monkeypatch):
    """A registry reaches every function in it; the one the model's forward never calls is
    stubbed when it fails, and raises if called; the one it calls is translated."""
    (tmp_path / "registry_net.py").write_text(UNUSED_FUNCTIONS)
    monkeypatch.syspath_prepend(str(tmp_path))
    module = importlib.import_module("registry_net")
    with pytest.raises(torch2tf.TranslationError, match="torch.special.zeta"):
        translate_file(tmp_path / "registry_net.py", classes=["Net"])  # static: reached
    result = torch2tf.convert(module.Net(4), args=(4,))
    assert result.passed, result.table()
    (entry,) = [e for e in result.left_out if e["name"] == "zeta"]
    assert entry["kind"] == "function" and entry["line"] == 6
    assert "torch.special.zeta" in entry["reason"]
    keras_cls = type(result.keras_model)
    with pytest.raises(NotImplementedError, match="zeta was not translated"):
        keras_cls(4, act="zeta")(np.zeros((1, 4), np.float32))
    # a function the forward calls still stops the conversion, with its problem alone
    with pytest.raises(torch2tf.TranslationError, match="registry_net.py:7:12") as raised:
        torch2tf.convert(module.Net(4, act="zeta"), args=(4,), kwargs={"act": "zeta"})
    assert len(raised.value.diagnostics) == 1


def test_only_problems_in_code_the_model_uses_are_reported(tmp_path, monkeypatch):
    """A used class failing beside an unused failing class: convert names the used one's
    problem only (the unused one would be stubbed)."""
    source = UNUSED_BRANCH_CLASS.replace(
        "        return self.act(self.fc(x))",
        "        return torch.special.zeta(self.act(self.fc(x)), 3.0)",
    )
    (tmp_path / "both_fail.py").write_text(source)
    monkeypatch.syspath_prepend(str(tmp_path))
    module = importlib.import_module("both_fail")
    with pytest.raises(torch2tf.TranslationError) as static:
        translate_file(tmp_path / "both_fail.py", classes=["Net"])
    assert len(static.value.diagnostics) == 2  # translate reports every problem
    with pytest.raises(torch2tf.TranslationError) as raised:
        torch2tf.convert(module.Net(4), args=(4,))
    (problem,) = raised.value.diagnostics
    assert problem.line == 18, str(raised.value)
