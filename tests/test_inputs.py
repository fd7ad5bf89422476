"""Verification inputs: --input DTYPE:SHAPE[:LOW..HIGH], and inputs inferred from an Embedding."""

import json

import pytest
import torch
from conftest import MODELS
from test_cli import MLP, one_line_error, run, snapshot
from token_models import BagOfEmbeddings

import torch2tf
from torch2tf.cli import EXIT_OK, EXIT_USAGE
from torch2tf.inputs import InputError, InputSpec, infer_specs, make_inputs, parse_input

TOKENS = MODELS / "token_models.py"
BAG = ["convert", TOKENS, "--class", "BagOfEmbeddings", "--args", "[50, 8, 3]"]
TWO = ["convert", TOKENS, "--class", "IdsAndFeatures", "--args", "[50, 8, 5, 3]"]


def report_inputs(out) -> list[dict]:
    return json.loads((out / "report.json").read_text())["inputs"]


def test_a_token_id_model_converts_with_its_input_inferred_from_the_embedding(capsys, tmp_path):
    code, stdout, err = run(capsys, *BAG, "-o", tmp_path / "out")
    assert code == EXIT_OK, err
    assert "PASSED" in stdout
    (ids,) = report_inputs(tmp_path / "out")
    assert ids["dtype"] == "int64" and list(ids["shape"]) == [16, 12]


def test_a_token_id_model_converts_with_an_explicit_input(capsys, tmp_path):
    code, stdout, err = run(capsys, *BAG, "--input", "int64:4,7:0..50", "-o", tmp_path / "out")
    assert code == EXIT_OK, err
    (ids,) = report_inputs(tmp_path / "out")
    assert ids["dtype"] == "int64" and list(ids["shape"]) == [4, 7]


def test_a_two_input_model_converts_with_one_input_each(capsys, tmp_path):
    out = tmp_path / "out"
    code, stdout, err = run(
        capsys, *TWO, "--input", "int64:4,7:0..50", "--input", "float32:4,5", "-o", out
    )
    assert code == EXIT_OK, err
    assert "PASSED" in stdout
    ids, features = report_inputs(out)
    assert (ids["dtype"], list(ids["shape"])) == ("int64", [4, 7])
    assert (features["dtype"], list(features["shape"])) == ("float32", [4, 5])


def test_two_inputs_cannot_be_inferred_and_the_error_says_what_to_pass(capsys, tmp_path):
    code, _, err = run(capsys, *TWO, "-o", tmp_path / "out")
    assert code == EXIT_USAGE
    line = one_line_error(err)
    assert "forward takes 2 inputs (ids, features)" in line
    assert line.endswith("e.g. --input int64:16,12:0..50 --input float32:16,5")
    assert snapshot(tmp_path) == {}
    # the suggestion works as written
    suggested = line.split("e.g. ")[1].split()
    code, _, err = run(capsys, *TWO, *suggested, "-o", tmp_path / "out")
    assert code == EXIT_OK, err


@pytest.mark.parametrize(
    "argv, message",
    [
        (
            ["--input", "int64"],
            "--input int64: expected DTYPE:SHAPE[:LOW..HIGH] like "
            "int64:16,20:0..1000, received 'int64'",
        ),
        (
            ["--input", "int65:4,7"],
            "--input int65:4,7: expected a dtype among float16, "
            "float32, float64, int8, int16, int32, int64, uint8, bool, received 'int65'",
        ),
        (
            ["--input", "int64:4,x"],
            "--input int64:4,x: expected a shape of positive integers like 16,20, received '4,x'",
        ),
        (
            ["--input", "int64:4,0:0..5"],
            "--input int64:4,0:0..5: expected a shape of positive "
            "integers like 16,20, received '4,0'",
        ),
        (
            ["--input", "int64:4,7:0-5"],
            "--input int64:4,7:0-5: expected a range LOW..HIGH of "
            "integers like 0..1000, received '0-5'",
        ),
        (
            ["--input", "int64:4,7:0.5..5"],
            "--input int64:4,7:0.5..5: expected a range LOW..HIGH "
            "of integers like 0..1000, received '0.5..5'",
        ),
        (
            ["--input", "float32:4,7:1..1"],
            "--input float32:4,7:1..1: expected LOW < HIGH (HIGH is excluded), received '1..1'",
        ),
        (
            ["--input", "int64:4,8"],
            "--input int64:4,8: expected a range LOW..HIGH for integer "
            "input (e.g. int64:4,8:0..1000; PyTorchMLP has no Embedding to take it from), "
            "received none",
        ),
        (
            ["--input", "float32:4,8", "--input", "float32:4,8"],
            "--input: expected 1 (one per input of PyTorchMLP.forward(x)), received 2",
        ),
        (
            ["--input", "float32:4,8", "--input-shape", "4,8"],
            "--input-shape: expected either --input or --input-shape, received both",
        ),
        (
            ["--input", "float32:4,5"],
            "--input float32:4,5: PyTorchMLP cannot run on it (RuntimeError",
        ),
    ],
)
def test_malformed_input_specs_are_one_line_usage_errors(capsys, tmp_path, argv, message):
    code, _, err = run(capsys, *MLP, "-o", tmp_path / "out", *argv)
    assert code == EXIT_USAGE
    assert one_line_error(err).startswith(f"torch2tf: error: {message}")
    assert snapshot(tmp_path) == {}


def test_specs_parse_and_print_back():
    for text in ("float32:16,8", "int64:16,20:0..1000", "float64:2,3:-1.5..2.5", "bool:4"):
        assert str(parse_input(text)) == text
    assert parse_input("int32:3:5..9") == InputSpec(torch.int32, (3,), 5, 9)
    with pytest.raises(InputError, match="expected no range for bool"):
        parse_input("bool:4:0..1")


def test_inputs_are_seeded_and_within_their_ranges():
    model = BagOfEmbeddings(50, 8, 3)
    specs = [parse_input(t) for t in ("int64:64,30:5..9", "float64:1000:-2..3", "int32:500")]
    ids, floats, defaulted = make_inputs(model, specs)
    assert ids.dtype == torch.int64 and set(ids.unique().tolist()) == {5, 6, 7, 8}
    assert floats.dtype == torch.float64 and -2 <= floats.min() < -1.9 and 2.9 < floats.max() < 3
    assert defaulted.dtype == torch.int32 and defaulted.min() == 0 and defaulted.max() == 49
    again = make_inputs(model, specs)
    assert all(torch.equal(a, b) for a, b in zip((ids, floats, defaulted), again, strict=True))
    (normal,) = make_inputs(model, [parse_input("float32:20000")])
    assert abs(normal.mean()) < 0.03 and abs(normal.std() - 1) < 0.03


def test_inference_takes_the_first_of_linear_and_embedding():
    assert infer_specs(BagOfEmbeddings(50, 8, 3)) == [InputSpec(torch.int64, (16, 12), 0, 50)]
    mlp = torch.nn.Sequential(torch.nn.Linear(6, 3), torch.nn.Embedding(9, 2)).double()
    assert infer_specs(mlp) == [InputSpec(torch.float64, (16, 6))]
    with pytest.raises(
        InputError, match=r"received none; pass it, e.g. --input float32:16,3,28,28"
    ):
        infer_specs(torch.nn.ReLU())


def test_the_api_infers_token_ids_too():
    torch.manual_seed(0)
    result = torch2tf.convert(BagOfEmbeddings(30, 4, 2), args=(30, 4, 2))
    assert result.passed
    (ids,) = result.inputs
    assert ids.dtype == torch.int64 and ids.shape == (16, 12) and int(ids.max()) < 30
