"""Property test: random MLP architectures, written in several source styles, convert exactly."""

import ast
import importlib.util
import itertools
import sys

import torch
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

import torch2tf
from torch2tf.rules import LAYERS

ACTIVATIONS = [
    name
    for name in ("ReLU", "Tanh", "Sigmoid", "LeakyReLU", "GELU", "SiLU", "ELU", "Softplus")
    if f"torch.nn.{name}" in LAYERS
]
STYLES = ("attributes", "sequential", "module_list", "factory", "starred")
COUNTER = itertools.count()


@st.composite
def architectures(draw):
    depth = draw(st.integers(1, 3))
    widths = draw(st.lists(st.integers(2, 12), min_size=depth + 1, max_size=depth + 1))
    blocks = [
        {
            "activation": draw(st.sampled_from(ACTIVATIONS)),
            "batchnorm": draw(st.booleans()),
            "dropout": draw(st.sampled_from([None, 0.0, 0.3])),
            "bias": draw(st.booleans()),
        }
        for _ in range(depth)
    ]
    return widths, blocks, draw(st.sampled_from(STYLES)), draw(st.booleans())


def layer_calls(i, block, width_names, nn="nn."):
    a, b = width_names[i], width_names[i + 1]
    calls = [f"{nn}Linear({a}, {b}, bias={block['bias']})"]
    if block["batchnorm"]:
        calls.append(f"{nn}BatchNorm1d({b})")
    calls.append(f"{nn}{block['activation']}()")
    if block["dropout"] is not None:
        calls.append(f"{nn}Dropout({block['dropout']})")
    return calls


def render(widths, blocks, style, from_import):
    """Source of class Net(widths: list) in the given style."""
    names = [f"widths[{i}]" for i in range(len(widths))]
    per_block = [layer_calls(i, b, names) for i, b in enumerate(blocks)]
    head = ["import torch", "import torch.nn as nn", ""]
    forward = ["    def forward(self, x):"]
    if style == "attributes":
        init, i = [], 0
        for calls in per_block:
            for call in calls:
                init.append(f"        self.layer{i} = {call}")
                forward.append(f"        x = self.layer{i}(x)")
                i += 1
        forward.append("        return x")
    elif style == "sequential":
        flat = ", ".join(c for calls in per_block for c in calls)
        init = [f"        self.net = nn.Sequential({flat})"]
        forward.append("        return self.net(x)")
    elif style == "module_list":
        items = ", ".join(f"nn.Sequential({', '.join(calls)})" for calls in per_block)
        init = [f"        self.blocks = nn.ModuleList([{items}])"]
        forward += [
            "        for block in self.blocks:",
            "            x = block(x)",
            "        return x",
        ]
    elif style == "factory":
        if from_import:
            per_block = [layer_calls(i, b, names, nn="") for i, b in enumerate(blocks)]
            used = sorted({c.split("(")[0] for calls in per_block for c in calls})
            head = ["from torch import nn", f"from torch.nn import {', '.join(used)}", ""]
        head += [
            "def make_block(*layers):",
            "    return nn.Sequential(*layers)",
            "",
        ]
        items = ", ".join(f"make_block({', '.join(calls)})" for calls in per_block)
        init = [f"        self.blocks = nn.ModuleList([{items}])"]
        forward += [
            "        for block in self.blocks:",
            "            x = block(x)",
            "        return x",
        ]
    else:  # starred: a list built in a loop, then nn.Sequential(*layers)
        init = ["        layers = []"]
        for calls in per_block:
            init += [f"        layers.append({call})" for call in calls]
        init.append("        self.net = nn.Sequential(*layers)")
        forward.append("        return self.net(x)")
    lines = head + [
        "",
        "class Net(nn.Module):",
        "    def __init__(self, widths):",
        "        super().__init__()",
        *init,
        "",
        *forward,
        "",
    ]
    return "\n".join(lines)


# No shrinking: each example builds TF models (seconds); the failure message shows the source.
@settings(
    max_examples=15,
    deadline=None,
    phases=[Phase.explicit, Phase.reuse, Phase.generate],
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(architectures(), st.integers(0, 2**31 - 1))
def test_random_mlps_convert_exactly(tmp_path_factory, architecture, seed):
    widths, blocks, style, from_import = architecture
    source = render(widths, blocks, style, from_import)
    name = f"random_mlp_{next(COUNTER)}"
    path = tmp_path_factory.mktemp("mlps") / f"{name}.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    torch.manual_seed(seed)
    model = module.Net(widths)
    if any(b["batchnorm"] for b in blocks):  # non-trivial running statistics
        model.train()
        with torch.no_grad():
            model(torch.randn(32, widths[0]) * 3 + 1)
    model.eval()
    inputs = torch.randn(8, widths[0], generator=torch.Generator().manual_seed(seed))
    result = torch2tf.convert(model, args=(widths,), inputs=inputs)
    assert result.passed, f"{style}\n{source}\n{result.table()}"
    names = {n.id for n in ast.walk(ast.parse(result.source)) if isinstance(n, ast.Name)}
    assert not names & {"torch", "nn"}
