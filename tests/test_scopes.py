"""Names are resolved scope by scope: a local binding of an imported name (parameter, variable,
loop, comprehension, except/with target, lambda argument, class attribute) is a plain local
there, and an import inside a function binds its name in that function only."""

from __future__ import annotations

import ast
import importlib
import sys
import textwrap
from pathlib import Path

import libcst as cst
import pytest
import torch
from libcst.metadata import MetadataWrapper

import torch2tf
from torch2tf import TranslationError, translate_source
from torch2tf.diagnostics import translate_partial
from torch2tf.names import ImportTable
from torch2tf.scopes import may_differ, resolve_scopes

HEADER = """\
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.nn import init


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 4)

    def forward(self, x):
        return F.relu(torch.tanh(self.fc(x)))
"""

# (binding kind, a function of the same file shadowing an imported name, a line of it that
# must come out as written)
SHADOWING = [
    (
        "parameter",
        "def scaled(x, torch):\n    return x * torch.real\n",
        "return x * torch.real",
    ),
    (
        "default parameter",
        "def initialised(x, init=None):\n    return init(x)\n",
        "return init(x)",
    ),
    (
        "local variable",
        "def first(net):\n    nn = net.children\n    return nn()\n",
        "return nn()",
    ),
    (
        "for-loop target",
        "def total(values):\n    s = 0\n    for torch in values:\n        s += torch.item\n"
        "    return s\n",
        "s += torch.item",
    ),
    (
        "comprehension variable",
        "def names(modules):\n    return [F.name for F in modules]\n",
        "return [F.name for F in modules]",
    ),
    (
        "except ... as",
        "def safe(run):\n    try:\n        return run()\n    except ValueError as torch:\n"
        "        return torch.args\n",
        "return torch.args",
    ),
    (
        "with ... as",
        "def read(path):\n    with open(path) as F:\n        return F.read()\n",
        "return F.read()",
    ),
    (
        "lambda argument",
        "def pick():\n    return lambda nn: nn.Linear\n",
        "return lambda nn: nn.Linear",
    ),
    (
        "class attribute",
        "class Table:\n    F = {'relu': 1}\n    relu = F.get('relu')\n",
        'relu = F.get("relu")',
    ),
]


@pytest.mark.parametrize(("kind", "function", "kept"), SHADOWING, ids=[s[0] for s in SHADOWING])
def test_a_local_binding_shadows_the_import_and_torch_is_translated_elsewhere(
    kind: str, function: str, kept: str
):
    code = translate_source(f"{HEADER}\n\n{function}", "shadow.py")
    assert kept in code, code
    # the real torch uses in the same file are translated
    assert "return tf.nn.relu(tf.tanh(self.fc(x)))" in code, code
    assert "import torch" not in code and "from torch" not in code


def test_without_scopes_the_shadowed_name_was_read_as_torch():
    """The failure the scopes prevent: the top-level table alone reads ``F`` in a with-target
    function as torch.nn.functional (so the test above can fail)."""
    source = f"{HEADER}\n\ndef read(path):\n    with open(path) as F:\n        return F.read()\n"
    module = cst.parse_module(source)
    table = ImportTable.of(module)
    call = module.body[-1].body.body[0].body.body[0].body[0].value  # F.read()
    assert table.qualify(call.func) == "torch.nn.functional.read"
    resolve_scopes(MetadataWrapper(module, unsafe_skip_copy=True), ast.parse(source), table, "")
    assert table.qualify(call.func) is None
    assert table.qualify(module.body[-2].body.body[-1].body.body[0].body[0].value.func) == (
        "torch.nn.functional.relu"  # forward's F.relu(...) is still torch's
    )


def test_a_forward_local_that_shadows_nn_is_a_value_and_the_model_converts(tmp_path: Path):
    source = textwrap.dedent(
        """
        import torch
        import torch.nn as nn
        import torch.nn.functional as F


        class Net(nn.Module):
            def __init__(self, d):
                super().__init__()
                self.fc = nn.Linear(d, d)
                self.net = nn.Tanh()

            def forward(self, x):
                nn = self.net
                scale = lambda F: F * 0.5
                y = nn(self.fc(x))
                return scale(F.relu(y)) + sum([torch for torch in (1.0, 2.0)])
        """
    )
    code = translate_source(source, "net.py")
    assert "nn = self.net" in code and "y = nn(self.fc(x))" in code
    assert "scale = lambda F: F * 0.5" in code
    assert "scale(tf.nn.relu(y)) + sum([torch for torch in (1.0, 2.0)])" in code
    (tmp_path / "scoped_net.py").write_text(source, encoding="utf-8")
    sys.path.insert(0, str(tmp_path))
    try:
        module = importlib.import_module("scoped_net")
    finally:
        sys.path.remove(str(tmp_path))
        sys.modules.pop("scoped_net", None)
    torch.manual_seed(0)
    x = torch.randn(3, 5, generator=torch.Generator().manual_seed(0))
    result = torch2tf.convert(module.Net(5), args=(5,), inputs=x, atol=1e-5, rtol=1e-4)
    assert result.passed, result.table()


LOCAL_IMPORTS = """\
import torch
import torch.nn as nn


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 3)

    def forward(self, x):
        import torch.nn.functional as F

        return F.gelu(self.fc(x))

    def extra(self, x):
        return F.relu(x)
"""


def test_a_local_import_binds_its_name_in_its_own_function_only():
    with pytest.raises(TranslationError) as err:
        translate_source(LOCAL_IMPORTS, "local.py")
    assert [str(d) for d in err.value.diagnostics] == [
        "local.py:16:16: error: F is not bound here: only forward imports it "
        "(torch.nn.functional), inside its own scope (hint: import torch.nn.functional at "
        "the top of the file, or in this function too)"
    ]


def test_a_local_import_translates_in_its_function_and_leaves_the_output():
    code = translate_source(LOCAL_IMPORTS.replace("F.relu(x)", "torch.relu(x)"), "local.py")
    assert "return tf.nn.gelu(self.fc(x))" in code
    assert "return tf.nn.relu(x)" in code
    assert "import torch" not in code and " F." not in code


def test_torch_imported_inside_functions_under_names_taken_elsewhere_is_read_per_scope():
    """``F`` is a module of the user's at the top, torch.nn.functional in ``__init__``;
    ``nn`` is torch.nn at the top, torch in ``forward``."""
    code = translate_source(
        textwrap.dedent(
            """
            import torch.nn as nn
            import F


            class Net(nn.Module):
                def __init__(self):
                    super().__init__()
                    from torch.nn import functional as F

                    self.fc = nn.Linear(4, 3)
                    self.act = F.relu

                def forward(self, x):
                    import torch as nn

                    return nn.cat([self.act(self.fc(x)), x], dim=1)


            def helper(x):
                return F.thing(x) + nn.Identity()(x)
            """
        ),
        "local.py",
    )
    assert "import F\n" in code and "return F.thing(x) + tf.keras.layers.Identity()(x)" in code
    assert "self.act = lambda x: tf.nn.relu(x)" in code
    assert "return tf.concat([self.act(self.fc(x)), x], axis=1)" in code
    assert "torch." not in code and "import torch" not in code


def test_scopes_are_read_only_where_a_scope_could_change_a_name():
    plain = ast.parse(HEADER)
    assert not may_differ(plain, {"torch", "nn", "F", "init"})
    assert may_differ(ast.parse(HEADER + "\ndef f(nn):\n    pass\n"), {"nn"})
    assert may_differ(ast.parse(HEADER + "\ndef f():\n    import os\n"), {"nn"})
    assert not may_differ(ast.parse(HEADER + "\nnn = None\n"), {"nn"})  # the top level's own


def test_the_ast_passes_read_the_same_scopes_by_position_on_non_ascii_lines():
    source = (
        f"{HEADER}\n\ndef read(path):\n    with open(path) as F:\n"
        '        mot = "été"; return F.read()\n'
    )
    module = cst.parse_module(source)
    table = ImportTable.of(module)
    resolve_scopes(MetadataWrapper(module, unsafe_skip_copy=True), ast.parse(source), table, "")
    calls = [n for n in ast.walk(ast.parse(source)) if isinstance(n, ast.Call)]
    read = next(c for c in calls if ast.unparse(c.func) == "F.read")
    relu = next(c for c in calls if ast.unparse(c.func) == "F.relu")
    assert table.qualify_name("F.read") == "torch.nn.functional.read"  # the top level's F
    assert table.qualify_name("F.read", read.func) is None  # the with-target F, where it is
    assert table.qualify_name("F.relu", relu.func) == "torch.nn.functional.relu"


def test_allow_partial_stubs_the_use_of_a_name_imported_in_another_function():
    code, problems = translate_partial(LOCAL_IMPORTS, "local.py")
    assert [(d.line, d.column) for d in problems] == [(16, 16)]
    assert "return tf.nn.gelu(self.fc(x))" in code
    assert 'torch2tf_untranslated(\n            "F.relu(x)",' in code


def test_a_training_function_importing_torch_itself_is_rewritten():
    code = translate_source(
        f"""{HEADER}

def train(model, xb, yb):
    import torch.optim as optim
    from torch.nn import CrossEntropyLoss as Loss

    optimizer = optim.SGD(model.parameters(), lr=0.1)
    criterion = Loss()
    model.train()
    for _ in range(3):
        optimizer.zero_grad()
        loss = criterion(model(xb), yb)
        loss.backward()
        optimizer.step()


def setup():
    import torch
""",
        "train.py",
    )
    assert "def train(model, xb, yb):\n    optimizer = TorchSGD(learning_rate=0.1)\n" in code
    assert "criterion = TorchCrossEntropyLoss()" in code
    assert "loss = criterion(yb, model(xb, training=True))" in code
    assert "def setup():\n    pass\n" in code
    assert "import torch" not in code and "optim" not in code.replace("optimizer", "")
