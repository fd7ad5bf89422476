"""The engine's hygiene: an acyclic import graph, one table of training objects shared by the
translated source and the live converters, and no process-wide state left changed."""

import ast
import gc
import random
import sys

import numpy as np
import pytest
import tensorflow as tf
import torch
from conftest import EXAMPLES, MODELS
from keras.src.backend.common import global_state

import torch2tf
from torch2tf import training, training_objects
from torch2tf.diagnostics import translate_partial
from torch2tf.keras_helpers import training as kt
from torch2tf.rules import FUNCTIONS
from torch2tf.rules import training as training_rules
from torch2tf.translate import translate_project, translate_source

PACKAGE = EXAMPLES.parent / "src" / "torch2tf"


# --------------------------------------------------------------------------- imports


def import_graph() -> dict[str, set[str]]:
    """Module -> the torch2tf modules it imports, at module level or inside functions."""
    modules = {}
    for path in PACKAGE.rglob("*.py"):
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        is_package = parts[-1] == "__init__"
        name = ".".join(parts[:-1] if is_package else parts)
        modules[name] = (path, name if is_package else name.rsplit(".", 1)[0])
    graph = {}
    for name, (path, package) in modules.items():
        targets = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                targets.update(a.name for a in node.names)
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = package.split(".")[: len(package.split(".")) - node.level + 1]
                    module = ".".join(base + ([node.module] if node.module else []))
                else:
                    module = node.module or ""
                for alias in node.names:  # `from package import module` imports the module
                    full = f"{module}.{alias.name}"
                    targets.add(full if full in modules else module)
        graph[name] = {t for t in targets if t in modules and t != name}
    return graph


def cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle of ``graph``, or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for target in sorted(graph[node]):
            if state.get(target) == 1:
                return path[path.index(target) :] + [target]
            if target not in state and (found := visit(target)):
                return found
        path.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return None


def test_the_import_graph_has_no_cycle():
    graph = import_graph()
    assert "torch2tf.translate" in graph and "torch2tf.training_script.analysis" in graph
    assert cycle(graph) is None, " -> ".join(cycle(graph) or [])


def test_the_cycle_finder_finds_a_function_level_cycle():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": set()}
    assert cycle(graph) == ["a", "b", "c", "a"]
    assert cycle({"a": {"b"}, "b": set()}) is None


def test_every_module_is_of_at_most_500_lines():
    """Issue 10: modules small enough to own one job each (the helpers copied into generated
    files included)."""
    paths = sorted(PACKAGE.rglob("*.py"))
    assert len(paths) > 80, "the package moved"
    long = {p.relative_to(PACKAGE).as_posix(): n for p in paths if (n := _lines(p)) > 500}
    assert not long, long


def _lines(path) -> int:
    return len(path.read_text(encoding="utf-8").splitlines())


# --------------------------------------------------------------------------- one table


@pytest.mark.parametrize("kind", ["OPTIMIZERS", "LOSSES", "SCHEDULERS"])
def test_translated_and_live_conversions_read_one_table(kind):
    table = getattr(training_objects, kind)
    assert set(getattr(training_rules, kind)) == set(table)  # what translate_source accepts
    live = {f"{c.__module__}.{c.__name__}" for c in getattr(training, f"_{kind}")}
    assert len(live) == len(table)  # what convert_* accepts: the same classes
    for qualified, helper in table.items():
        assert qualified in FUNCTIONS, qualified  # a rule translates it
        assert hasattr(kt, helper), helper  # the helper both conversions build


SEQUENTIAL_SCRIPT = """
import torch
import torch.nn as nn

model = nn.Linear(4, 1)
optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
warmup = torch.optim.lr_scheduler.LinearLR(optimizer, start_factor=0.1, total_iters=3)
decay = torch.optim.lr_scheduler.ExponentialLR(optimizer, gamma=0.9)
scheduler = torch.optim.lr_scheduler.SequentialLR(optimizer, [warmup, decay], milestones=[3])
x = torch.tensor([[1.0, 2.0, 3.0, 4.0]])
lrs = []
for step in range(8):
    optimizer.zero_grad()
    loss = model(x).sum()
    loss.backward()
    optimizer.step()
    scheduler.step()
    lrs.append(optimizer.param_groups[0]["lr"])
"""


def test_sequential_lr_is_translated_and_converted_alike():
    torch_run: dict = {}
    exec(compile(SEQUENTIAL_SCRIPT, "train.py", "exec"), torch_run)
    code = translate_source(SEQUENTIAL_SCRIPT, "train.py")
    assert "scheduler = TorchSequentialLR([warmup, decay], [3])\n" in code
    assert "optimizer.learning_rate = scheduler\n" in code
    tf_run: dict = {}
    exec(compile(code, "train_tf.py", "exec"), tf_run)
    np.testing.assert_allclose(tf_run["lrs"], torch_run["lrs"], rtol=1e-12)

    # The live converter, on the same schedulers built fresh.
    optimizer = torch.optim.SGD(torch.nn.Linear(4, 1).parameters(), lr=0.1)
    warmup = torch.optim.lr_scheduler.LinearLR(optimizer, start_factor=0.1, total_iters=3)
    decay = torch.optim.lr_scheduler.ExponentialLR(optimizer, gamma=0.9)
    sequential = torch.optim.lr_scheduler.SequentialLR(optimizer, [warmup, decay], [3])
    schedule = training.convert_lr_scheduler(sequential)
    live = [float(schedule(step)) for step in range(1, 9)]
    np.testing.assert_allclose(live, torch_run["lrs"], rtol=1e-12)


def test_sequential_lr_refusals():
    stepped_twice = SEQUENTIAL_SCRIPT.replace(
        "    scheduler.step()\n", "    scheduler.step()\n    decay.step()\n"
    )
    with pytest.raises(torch2tf.TranslationError, match="decay is stepped by the SequentialLR"):
        translate_source(stepped_twice, "train.py")
    not_a_list = SEQUENTIAL_SCRIPT.replace("[warmup, decay]", "schedules").replace(
        "scheduler = ", "schedules = [warmup, decay]\nscheduler = "
    )
    with pytest.raises(torch2tf.TranslationError, match="over a list of schedulers"):
        translate_source(not_a_list, "train.py")


# --------------------------------------------------------------------------- process state


PROJECT = ("mlpkit",)  # the user's project: its torch modules must stay, generated ones go


def process_state() -> dict:
    return {
        "gc enabled": gc.isenabled(),
        "keras dtype policy": tf.keras.config.dtype_policy().name,
        "keras name scopes": list(global_state.get_global_attribute("name_scope_stack") or []),
        "functions": {
            name: id(value)
            for name, value in {
                "F.dropout": torch.nn.functional.dropout,
                "torch.randn_like": torch.randn_like,
                "torch.rand_like": torch.rand_like,
                "tf.nn.dropout": tf.nn.dropout,
                "tf.random.normal": tf.random.normal,
                "tf.random.uniform": tf.random.uniform,
            }.items()
        },
        "torch rng": torch.get_rng_state().numpy().tobytes(),
        "numpy rng": repr(np.random.get_state()),
        "python rng": random.getstate(),
        "project modules": {k: id(v) for k, v in sys.modules.items() if k.split(".")[0] in PROJECT},
    }


def test_translate_convert_and_verify_leave_the_process_as_they_found_it():
    sys.path.insert(0, str(MODELS))
    try:
        import functional_dropout
        import more_styles
        import private_parts
        from mlpkit.nets.mlp import ResMLP

        torch.manual_seed(0)
        models = [
            (functional_dropout.FDrop(6), (6,)),  # F.dropout in train mode
            (more_styles.VAE(6, 2), (6, 2)),  # torch.randn_like in train mode
            (ResMLP(6, 8, 3), (6, 8, 3)),  # a project of several files
            (functional_dropout.FDrop(6).double(), (6,)),  # float64: another dtype policy
            (private_parts.PeriodicFeatures(6), (6,)),  # a Keras name scope TF refuses
        ]
        seed = (EXAMPLES / "seed_mlps.py").read_text()
        before = process_state()
        translate_source(seed, "seed.py")
        translate_project(MODELS, sorted((MODELS / "mlpkit").rglob("*.py")))
        translate_partial(seed.replace("nn.Linear(", "nn.Bilinear(", 1), "seed.py")
        for model, args in models:
            inputs = (torch.randn(4, 6, generator=torch.Generator().manual_seed(1)),)
            if next(model.parameters()).dtype == torch.float64:
                inputs = (inputs[0].double(),)
            result = torch2tf.convert(model, args, inputs=inputs)
            assert result.passed, result.table()
        after = process_state()
    finally:
        sys.path.remove(str(MODELS))
    assert [key for key in before if after[key] != before[key]] == []


def test_the_process_state_check_can_fail():
    before = process_state()
    saved = np.random.get_state()
    np.random.random()
    try:
        assert process_state()["numpy rng"] != before["numpy rng"]
    finally:
        np.random.set_state(saved)
    assert process_state() == before


def test_verification_patches_nothing_while_it_runs():
    """The comparison sees dropout off, yet torch and TensorFlow keep their functions."""
    seen = {}

    class Probe(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = torch.nn.Linear(3, 3)

        def forward(self, x):
            seen["F.dropout"] = torch.nn.functional.dropout
            seen["tf.nn.dropout"] = tf.nn.dropout
            return self.fc(x)

    from torch2tf.verify import check

    model = Probe()

    class Twin(tf.keras.Model):
        def __init__(self):
            super().__init__()
            self.fc = tf.keras.layers.Dense(3)

        def call(self, x, training=None):
            return self.fc(x)

    keras = Twin()
    keras(tf.ones((1, 3)))
    check(model, keras, (torch.ones(2, 3),), "train")
    assert seen["F.dropout"] is torch.nn.functional.dropout
    assert seen["tf.nn.dropout"] is tf.nn.dropout
