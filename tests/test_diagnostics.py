"""Diagnostics outside the engine (layers of other packages) and --allow-partial's stubs."""

import ast
import textwrap
from pathlib import Path

import numpy as np
import pytest
from conftest import EXAMPLES

from torch2tf import translate_source
from torch2tf.diagnostics import (
    STUB,
    Diagnostic,
    TranslationError,
    foreign_layers,
    translate_partial,
)

SEED = (EXAMPLES / "seed_mlps.py").read_text()
CASES = Path(__file__).parent / "cases"


def source(text: str) -> str:
    return textwrap.dedent(text).lstrip()


THIRD_PARTY = source(
    """
    import numpy as np
    import torch.nn as nn
    import timm
    from timm.layers import Mlp as TimmMlp
    from .blocks import Block


    class Net(nn.Module):
        def __init__(self, width):
            super().__init__()
            self.fc = nn.Linear(width, width)
            self.mlp = TimmMlp(width, 2 * width)
            self.head = timm.create_model("resnet18")
            self.block = Block(width)
            self.scale = np.sqrt(width)
            self.shape = tuple([width, width])

        def forward(self, x):
            return self.block(self.head(self.mlp(self.fc(x)))) * self.scale
    """
)


def test_third_party_layers_are_named_with_positions():
    found = {d.message.split()[0]: d for d in foreign_layers(THIRD_PARTY, "net.py")}
    assert set(found) == {"timm.layers.Mlp", "timm.create_model"}
    mlp = found["timm.layers.Mlp"]
    assert (mlp.path, mlp.line, mlp.column) == ("net.py", 12, 20)
    assert "another package (timm)" in mlp.message and mlp.hint


def test_modules_of_the_project_itself_are_not_other_packages(tmp_path):
    """Relative imports, and files or packages beside the input, are translated with it."""
    (tmp_path / "layers.py").write_text("")
    (tmp_path / "kit").mkdir()
    text = source(
        """
        import torch.nn as nn
        from layers import Block
        from kit.blocks import Residual
        from .base import Base
        from timm.layers import Mlp


        class Net(Base):
            def __init__(self):
                super().__init__()
                self.a, self.b, self.c = Block(), Residual(), Mlp()
        """
    )
    path = tmp_path / "net.py"
    path.write_text(text)
    assert [d.message.split()[0] for d in foreign_layers(text, str(path))] == ["timm.layers.Mlp"]


def test_values_from_numpy_and_the_standard_library_are_not_layers():
    messages = [d.message for d in foreign_layers(THIRD_PARTY)]
    assert not any("numpy" in m or "tuple" in m for m in messages)


def test_classes_that_are_not_modules_are_not_checked():
    text = source(
        """
        from timm.layers import Mlp

        class Helper:
            def __init__(self):
                self.mlp = Mlp(3)
        """
    )
    assert foreign_layers(text) == []


def test_translate_source_reports_engine_and_third_party_problems_together():
    text = THIRD_PARTY.replace("nn.Linear(width, width)", "nn.ConvTranspose3d(width, width, 3)")
    with pytest.raises(TranslationError) as info:
        translate_source(text, "net.py")
    messages = [d.message for d in info.value.diagnostics]
    assert any("torch.nn.ConvTranspose3d" in m for m in messages)
    assert any("timm.layers.Mlp" in m for m in messages)
    lines = [d.line for d in info.value.diagnostics]
    assert lines == sorted(lines)


def test_unparsable_source_is_left_to_the_engine():
    assert foreign_layers("class (:\n") == []
    with pytest.raises(TranslationError) as info:
        translate_source("class (:\n", "bad.py")
    assert info.value.diagnostics[0].message.startswith("syntax error")


def test_diagnostic_format_and_error_order():
    late = Diagnostic("a.py", 9, 1, "late")
    early = Diagnostic("a.py", 2, 5, "early", "do this")
    assert str(early) == "a.py:2:5: error: early (hint: do this)"
    error = TranslationError([late, early, late])
    assert error.diagnostics == [early, late]
    assert str(error).splitlines() == [str(early), str(late)]


# --------------------------------------------------------------------------- --allow-partial

PROBLEMS = source(
    '''
    """A model with four problems."""
    import torch
    import torch.nn as nn
    import torch.nn.functional as F
    from timm.layers import Mlp


    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(4, 8)
            self.conv = nn.ConvTranspose3d(1, 1, 3)
            self.mlp = Mlp(8, 16)

        def forward(self, x):
            x = self.fc(x)
            return torch.frobnicate(x) + F.frobnicate(x)
    '''
)


def stubs(code: str) -> list[tuple[str, str]]:
    return [
        (node.args[0].value, node.args[1].value)
        for node in ast.walk(ast.parse(code))
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) == STUB
    ]


def test_partial_output_stubs_each_problem_and_reports_the_original_positions():
    code, problems = translate_partial(PROBLEMS, "net.py")
    assert [(d.line, d.column) for d in problems] == [(12, 21), (13, 20), (17, 16), (17, 38)]
    assert sorted(stubs(code)) == [
        ("F.frobnicate(x)", "torch.nn.functional.frobnicate is not translated"),
        ("Mlp(8, 16)", f"{problems[1].message}"),
        ("nn.ConvTranspose3d(1, 1, 3)", "torch.nn.ConvTranspose3d is not translated"),
        ("torch.frobnicate(x)", "torch.frobnicate is not translated"),
    ]
    assert code.startswith("# PARTIAL TRANSLATION by torch2tf --allow-partial: 4 constructs")
    assert f"def {STUB}(code, problem):" in code
    imported = [n for n in ast.walk(ast.parse(code)) if isinstance(n, (ast.Import, ast.ImportFrom))]
    assert "timm" not in str([ast.unparse(n) for n in imported])  # the unused import is gone
    assert "tf.keras.layers.Dense(" in code  # the rest is translated


def test_partial_output_raises_not_implemented_when_run():
    code, _ = translate_partial(PROBLEMS, "net.py")
    namespace: dict = {}
    exec(compile(code, "net_tf.py", "exec"), namespace)  # imports tensorflow, nothing else
    with pytest.raises(NotImplementedError, match=r"nn\.ConvTranspose3d\(1, 1, 3\)"):
        namespace["Net"]()


def test_an_init_loop_that_cannot_be_translated_is_stubbed_whole():
    text = source(
        """
        import torch.nn as nn

        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.fc = nn.Linear(4, 2)
                self._init()

            def _init(self):
                for m in self.modules():
                    if isinstance(m, nn.Linear):
                        nn.init.frobnicate_(m.weight)

            def forward(self, x):
                return self.fc(x)
        """
    )
    code, problems = translate_partial(text, "net.py")
    assert len(problems) == 1
    assert stubs(code) == [("for m in self.modules(): ...", problems[0].message)]
    assert "self._init()" in code


def test_every_problem_is_stubbed_in_one_translation(monkeypatch):
    """The engine stubs what it reports as it translates: the file is translated once."""
    import torch2tf.translate

    translated: list[str] = []
    engine = torch2tf.translate._translate

    def counted(text, *args, **kwargs):
        translated.append(text)
        return engine(text, *args, **kwargs)

    monkeypatch.setattr(torch2tf.translate, "_translate", counted)
    code, problems = translate_partial(PROBLEMS, "net.py")
    assert len(problems) == 4 and len(stubs(code)) == 4
    assert translated == [PROBLEMS]
    # A training script too: its loop is rewritten around the stubs of the same translation.
    script = (CASES / "partial_training_script.py").read_text().partition("\n# output\n")[0]
    translated.clear()
    code, problems = translate_partial(script, "train.py")
    assert len(problems) == 2 and len(stubs(code)) == 2 and "tf.GradientTape()" in code
    assert translated == [script]


def test_a_model_whose_first_layer_call_is_stubbed_builds_at_its_first_call():
    """As a translation of the stubbed source would: construction runs no stub."""
    text = source(
        """
        import torch
        import torch.nn as nn

        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.fc = nn.Linear(4, 2)

            def forward(self, x):
                return torch.frobnicate(self.fc(x))
        """
    )
    code, problems = translate_partial(text, "net.py")
    assert len(problems) == 1 and "tf.keras.Input(" not in code
    namespace: dict = {}
    exec(compile(code, "net_tf.py", "exec"), namespace)
    model = namespace["Net"]()
    with pytest.raises(NotImplementedError, match=r"torch\.frobnicate"):
        model(np.zeros((1, 4), "float32"))


def test_exact_input_gives_the_exact_translation_and_no_problems():
    assert translate_partial(SEED, "seed.py") == (translate_source(SEED, "seed.py"), [])


def test_a_syntax_error_cannot_be_stubbed():
    with pytest.raises(TranslationError) as info:
        translate_partial("import torch\nclass Net(:\n", "bad.py")
    assert info.value.diagnostics[0].message.startswith("syntax error")
