"""Test helpers for layer rules: write a torch module file, import it, translate and convert it.

``convert()`` reads the model's class from its source file, so each case is a real file under
``tmp_path``, imported with ``spec_from_file_location`` and registered in ``sys.modules`` so that
``inspect.getsourcefile`` finds it.
"""

from __future__ import annotations

import ast
import importlib.util
import itertools
import sys
import textwrap
from pathlib import Path
from types import ModuleType

import tensorflow as tf
import torch

import torch2tf
from torch2tf.translate import translate_source

ATOL, RTOL = 1e-5, 1e-4
_counter = itertools.count()

HEADER = "import torch\nimport torch.nn as nn\n"


def module_source(
    layer: str,
    before: str | None = None,
    after: str | None = "nn.Linear(8, 3)",
    params: str = "",
    extra_init: str = "",
) -> str:
    """A ``Net`` class applying ``before`` -> ``layer`` -> ``after`` (None leaves a step out).

    ``params`` are extra ``__init__`` parameters (``"size=8"``), ``extra_init`` one more
    statement at the end of ``__init__`` (an init call).
    """
    steps = [(n, call) for n, call in (("pre", before), ("layer", layer), ("post", after)) if call]
    lines = [f"        self.{name} = {call}" for name, call in steps]
    if extra_init:
        lines.append(f"        {extra_init}")
    body = "\n".join(f"        x = self.{name}(x)" for name, _ in steps)
    signature = f"self, {params}" if params else "self"
    return (
        f"{HEADER}\n\nclass Net(nn.Module):\n    def __init__({signature}):\n"
        "        super().__init__()\n" + "\n".join(lines) + "\n\n"
        f"    def forward(self, x):\n{body}\n        return x\n"
    )


def load_module(tmp_path: Path, source: str) -> ModuleType:
    """Write ``source`` into a fresh file under ``tmp_path`` and import it as a module."""
    name = f"layer_case_{next(_counter)}"
    path = tmp_path / f"{name}.py"
    path.write_text(textwrap.dedent(source), encoding="utf-8")
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def convert_checked(
    tmp_path: Path,
    source: str,
    inputs: torch.Tensor | tuple[torch.Tensor, ...],
    class_name: str = "Net",
    dtype: torch.dtype = torch.float32,
    args: tuple = (),
    kwargs: dict | None = None,
):
    """Build ``class_name`` from ``source``, convert it, and assert eval and train parity."""
    module = load_module(tmp_path, source)
    torch.manual_seed(0)
    model = getattr(module, class_name)(*args, **(kwargs or {})).to(dtype)
    inputs = tuple(inputs) if isinstance(inputs, (tuple, list)) else (inputs,)
    inputs = tuple(x.to(dtype) if x.is_floating_point() else x for x in inputs)
    with torch.no_grad():  # move weights and statistics away from their initial ones and zeros
        for parameter in model.parameters():
            parameter.add_(torch.randn_like(parameter) * 0.3)
        model.train()
        for _ in range(2):
            model(*inputs)
    model.eval()
    conversion = torch2tf.convert(model, args, kwargs, inputs=inputs, atol=ATOL, rtol=RTOL)
    assert [c.mode for c in conversion.checks] == ["eval", "train"]
    assert conversion.passed, conversion.table()
    return conversion


def translated_layer(source: str, attr: str = "layer") -> str:
    """The Keras constructor source that ``self.<attr> = ...`` translates into, normalised."""
    tree = ast.parse(translate_source(textwrap.dedent(source)))
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Assign)
            and isinstance(node.targets[0], ast.Attribute)
            and node.targets[0].attr == attr
        ):
            value = node.value
            if isinstance(value, ast.Call):  # Keras layers are named after the attribute
                named = [k for k in value.keywords if k.arg == "name"]
                assert [ast.literal_eval(k.value) for k in named] in ([attr], []), named
                value.keywords = [k for k in value.keywords if k.arg != "name"]
            return ast.unparse(value)
    raise AssertionError(f"no self.{attr} = ... in the translation")


def normalised(expression: str) -> str:
    """``expression`` as ``ast.unparse`` writes it, for layout-independent comparison."""
    return ast.unparse(ast.parse(expression, mode="eval").body)


def assert_gradients_match(conversion, inputs: torch.Tensor, prefix: str = "layer.") -> None:
    """Eval-mode gradients of a weighted sum of the outputs agree, w.r.t. the input (when it is
    floating) and the parameters under ``prefix`` (whose Keras layout is torch's, unlike
    Linear's). Inputs should avoid kinks, where the frameworks may pick other sub-gradients."""
    torch_model, keras_model = conversion.torch_model.eval(), conversion.keras_model
    floating = inputs.is_floating_point()
    x = inputs.clone().requires_grad_(floating)
    torch_model.zero_grad()
    out = torch_model(x)
    weight = torch.randn(out.shape, generator=torch.Generator().manual_seed(1), dtype=out.dtype)
    (out * weight).sum().backward()
    params = dict(torch_model.named_parameters())
    pairs = [
        (params[t.torch_name], t.variable)
        for t in conversion.transfers
        if t.torch_name in params and t.torch_name.startswith(prefix)
    ]
    x_tf = tf.constant(inputs.numpy())
    with tf.GradientTape() as tape:
        if floating:
            tape.watch(x_tf)
        loss = tf.reduce_sum(keras_model(x_tf, training=False) * weight.numpy())
    sources = ([x_tf] if floating else []) + [v for _, v in pairs]
    expected = ([x.grad] if floating else []) + [p.grad for p, _ in pairs]
    for want, got in zip(expected, tape.gradient(loss, sources), strict=True):
        want, got = want.numpy(), tf.convert_to_tensor(got).numpy()
        tolerance = ATOL + RTOL * float(abs(want).max())
        assert abs(got - want).max() <= tolerance, (abs(got - want).max(), tolerance)
