"""'Not translated' diagnostics name the nearest translated alternative (from the registry)."""

import textwrap

import pytest

from torch2tf import rules
from torch2tf.diagnostics import TranslationError
from torch2tf.rules.alternatives import FAMILIES, SIBLINGS, nearest_alternative
from torch2tf.translate import translate_source


def diagnostics(body: str) -> list[str]:
    source = "import torch\nimport torch.nn as nn\nimport torch.nn.functional as F\n\n\n" + (
        textwrap.dedent(body).lstrip()
    )
    with pytest.raises(TranslationError) as info:
        translate_source(source, "model.py")
    return [str(d) for d in info.value.diagnostics]


def test_untranslated_layers_and_functions_get_the_nearest_alternative():
    found = diagnostics(
        """
        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.rnn = nn.SyncBatchNorm(4)
                self.act = nn.GELU(approximate="fast")
                self.soft = nn.Softmax2d()

            def forward(self, x):
                x = torch.dot(x, x)
                x = F.gelu(x, approximate="exact")
                return torch.logaddexp(x, x)
        """
    )
    expected = [
        "model.py:9:20: error: torch.nn.SyncBatchNorm is not translated (hint: "
        + nearest_alternative("torch.nn.SyncBatchNorm")
        + ")",
        'model.py:10:20: error: torch.nn.GELU: GELU(approximate="fast") is not translated '
        "(hint: use a literal 'none' (exact erf form) or 'tanh')",
        "model.py:11:21: error: torch.nn.Softmax2d is not translated (hint: use "
        "nn.Softmax(dim=-3), the same computation, instead)",
        "model.py:14:13: error: torch.dot is not translated (hint: use torch.matmul(a, b) or "
        "a @ b (1-D tensors) instead)",
        'model.py:15:13: error: torch.nn.functional.gelu: gelu(approximate="exact") is not '
        "translated (hint: use a literal 'none' (exact erf form) or 'tanh')",
        "model.py:16:16: error: torch.logaddexp is not translated (hint: see `torch2tf "
        "--list-rules` for what is translated)",
    ]
    assert found == expected


def test_a_family_hint_names_the_members_translated_today():
    # BatchNorm1d is translated: its siblings say so, whatever else lands later.
    hint = nearest_alternative("torch.nn.SyncBatchNorm")
    translated = [
        m.rsplit(".", 1)[1] for m in FAMILIES["batch normalizations"] if m in rules.LAYERS
    ]
    assert "BatchNorm1d" in translated
    assert hint.startswith(f"of the batch normalizations, only {', '.join(translated)} ")
    assert nearest_alternative("torch.logaddexp") is None


def test_the_table_is_true_to_the_registry():
    registered = {*rules.LAYERS, *rules.FUNCTIONS, *rules.INITIALIZERS}
    for name, (sibling, _) in SIBLINGS.items():
        assert name not in registered, f"{name} is translated: its hint would never show"
        assert sibling is None or sibling in registered, f"{sibling} is not translated"
    for family, members in FAMILIES.items():
        for name in members:
            if name not in registered:
                assert family in nearest_alternative(name)
