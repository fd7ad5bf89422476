"""Safe checkpoint loading, state-dict problems, importing the model class, verification inputs."""

import os
import pickle
import re
import sys
import textwrap

import pytest
import torch
from conftest import EXAMPLES

from torch2tf.cli import UsageError
from torch2tf.loading import (
    construct,
    load_class,
    load_state_dict,
    read_state_dict,
    state_dict_problems,
    verification_inputs,
)


class Malicious:
    """Unpickling this runs ``os.system``: it would create the marker file."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def small_model():
    return torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.ReLU(), torch.nn.Linear(3, 2))


@pytest.mark.parametrize("how", ["torch.save", "pickle.dump"])
def test_a_checkpoint_that_needs_arbitrary_unpickling_is_refused_and_nothing_runs(tmp_path, how):
    marker = tmp_path / "MARKER"
    path = tmp_path / "evil.pt"
    payload = {"0.weight": torch.zeros(3, 4), "evil": Malicious(marker)}
    if how == "torch.save":
        torch.save(payload, path)
    else:
        path.write_bytes(pickle.dumps(payload))
    with pytest.raises(UsageError, match="refused .*nothing in it was run") as info:
        read_state_dict(path)
    if how == "torch.save":
        assert "needs arbitrary unpickling" in str(info.value)
        assert re.search(r"GLOBAL \w+\.system", str(info.value))
    with pytest.raises(UsageError):
        load_state_dict(small_model(), path)
    assert not marker.exists()


def test_a_whole_pickled_model_is_refused(tmp_path):
    path = tmp_path / "model.pt"
    torch.save(small_model(), path)
    with pytest.raises(UsageError, match="refused.*state_dict"):
        read_state_dict(path)


def test_state_dict_round_trip_and_nested_checkpoints(tmp_path):
    source, target = small_model(), small_model()
    path = tmp_path / "ckpt.pt"
    torch.save({"epoch": 3, "model_state_dict": source.state_dict()}, path)
    load_state_dict(target, path)
    for name, tensor in source.state_dict().items():
        assert torch.equal(target.state_dict()[name], tensor)


def test_safetensors(tmp_path):
    safetensors = pytest.importorskip("safetensors.torch")
    source, target = small_model(), small_model()
    path = tmp_path / "ckpt.safetensors"
    safetensors.save_file(source.state_dict(), str(path))
    load_state_dict(target, path)
    assert torch.equal(target[0].weight, source[0].weight)


@pytest.mark.parametrize(
    "content, message",
    [
        (b"", "not a torch checkpoint"),
        (b"hello world", "not a torch checkpoint"),
        (b"not a checkpoint at all", "refused .*cannot read it.*no plain state dict"),
    ],
)
def test_files_that_are_not_checkpoints(tmp_path, content, message):
    path = tmp_path / "junk.pt"
    path.write_bytes(content)
    with pytest.raises(UsageError, match=message):
        read_state_dict(path)


def test_a_checkpoint_that_is_not_a_mapping_of_tensors(tmp_path):
    path = tmp_path / "list.pt"
    torch.save([torch.zeros(2)], path)
    with pytest.raises(UsageError, match="expected a mapping of names to tensors, received list"):
        read_state_dict(path)


def test_every_state_dict_problem_is_reported_at_once(tmp_path):
    state = small_model().state_dict()
    del state["0.bias"]
    state["2.weight"] = torch.zeros(5, 3)
    state["extra.weight"] = torch.zeros(7)
    path = tmp_path / "bad.pt"
    torch.save(state, path)
    with pytest.raises(UsageError) as info:
        load_state_dict(small_model(), path)
    message = str(info.value)
    assert "(3 problems)" in message
    assert "missing key 0.bias (model shape (3,))" in message
    assert "unexpected key extra.weight (checkpoint shape (7,))" in message
    assert "2.weight: checkpoint shape (5, 3), model shape (2, 3)" in message


def test_state_dict_problems_is_empty_for_a_fitting_state():
    state = small_model().state_dict()
    assert state_dict_problems(state, small_model().state_dict()) == []


def test_load_class_finds_the_class_and_names_the_alternatives():
    cls = load_class(EXAMPLES / "seed_mlps.py", "PyTorchMLP")
    assert issubclass(cls, torch.nn.Module) and cls.__name__ == "PyTorchMLP"
    with pytest.raises(UsageError, match="--class Nope: .*nothing by that name.*PyTorchMLP"):
        load_class(EXAMPLES / "seed_mlps.py", "Nope")
    with pytest.raises(UsageError, match="received module"):
        load_class(EXAMPLES / "seed_mlps.py", "nn")


def write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


def test_a_file_that_fails_on_import_is_a_usage_error(tmp_path):
    path = write(tmp_path, "broken.py", "import no_such_package_for_torch2tf\n")
    with pytest.raises(UsageError, match="cannot import .*ModuleNotFoundError"):
        load_class(path, "Net")
    assert "broken" not in sys.modules
    exits = write(tmp_path, "exits.py", "raise SystemExit(3)\n")
    with pytest.raises(UsageError, match="SystemExit"):
        load_class(exits, "Net")


def test_a_file_named_like_a_standard_module_does_not_shadow_it(tmp_path):
    path = write(
        tmp_path,
        "json.py",
        """
        import torch.nn as nn

        class Net(nn.Module):
            pass
        """,
    )
    cls = load_class(path, "Net")
    import json

    assert sys.modules["json"] is json and hasattr(json, "dumps")
    assert cls.__module__ != "json"


def test_constructor_errors_are_one_line():
    class Net(torch.nn.Module):
        def __init__(self, width):
            super().__init__()
            if width <= 0:
                raise ValueError(f"width must be positive, got {width}\nmore detail")

    with pytest.raises(UsageError, match=r"cannot construct Net .*TypeError") as info:
        construct(Net, [], {})
    with pytest.raises(UsageError, match="ValueError: width must be positive, got -1$") as info:
        construct(Net, [-1], {})
    assert "\n" not in str(info.value)


def test_verification_inputs_must_fit_the_model():
    model = small_model().eval()
    (inputs,) = verification_inputs(model, None)
    assert inputs.shape == (16, 4)
    assert verification_inputs(model, (2, 4))[0].shape == (2, 4)
    with pytest.raises(UsageError, match="--input-shape 2,5: Sequential cannot run on it"):
        verification_inputs(model, (2, 5))
    with pytest.raises(UsageError, match="pass it, e.g. --input float32:16,3,28,28"):
        verification_inputs(torch.nn.ReLU(), None)
