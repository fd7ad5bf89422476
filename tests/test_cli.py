"""The command line: exit codes, one-line usage errors, diagnostics, atomic output, verification.

The CLI runs in-process through ``torch2tf.cli.main`` (with capsys); two tests run it for real in
a subprocess.
"""

import ast
import json
import os
import shlex
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch
from conftest import EXAMPLES

import torch2tf.cli
from torch2tf.cli import EXIT_FAILED, EXIT_OK, EXIT_USAGE, main
from torch2tf.diagnostics import STUB

SEED = EXAMPLES / "seed_mlps.py"
MLP = ["convert", str(SEED), "--class", "PyTorchMLP", "--args", "[8, 16, 4]"]


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(textwrap.dedent(text).lstrip())
    return path


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` (hidden ones too) with its content."""
    return {
        str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()
    }


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def one_line_error(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert "Traceback" not in err
    return lines[0]


# --------------------------------------------------------------------------- help, exit codes


def test_help_and_module_docstring_document_the_exit_codes(capsys):
    code, out, _ = run(capsys, "--help")
    assert code == EXIT_OK
    assert "exit codes:" in out
    for number in ("0  success", "1  not translatable", "2  usage error"):
        assert number in out
    for command in ("translate", "convert"):
        code, out, _ = run(capsys, command, "--help")
        assert code == EXIT_OK and "exit codes:" in out
    doc = torch2tf.cli.__doc__
    assert "Exit codes:" in doc and "0  success" in doc and "2  usage error" in doc


def test_no_command_is_a_usage_error(capsys):
    code, _, err = run(capsys)
    assert code == EXIT_USAGE and "usage:" in err


@pytest.mark.parametrize(
    "argv",
    [
        ["translate"],
        ["translate", "x.py", "--frobnicate"],
        ["convert", "x.py", "-o", "out"],  # no --class
        ["convert", "x.py", "--class", "Net", "-o", "out", "--atol", "tiny"],
    ],
)
def test_argument_errors_are_one_line_with_exit_2(capsys, argv):
    code, _, err = run(capsys, *argv)
    assert code == EXIT_USAGE
    assert one_line_error(err).startswith("torch2tf")


# --------------------------------------------------------------------------- translate


def test_translate_writes_to_stdout_or_a_file(capsys, tmp_path):
    code, out, err = run(capsys, "translate", SEED)
    assert code == EXIT_OK and "class PyTorchMLP(tf.keras.Model):" in out and err == ""
    target = tmp_path / "seed_tf.py"
    code, out, _ = run(capsys, "translate", SEED, "-o", target)
    assert code == EXIT_OK and out == ""
    assert "class PyTorchMLP(tf.keras.Model):" in target.read_text()
    assert snapshot(tmp_path).keys() == {"seed_tf.py"}  # no temporary file left behind


def test_a_syntax_error_is_reported_at_its_position_and_nothing_is_written(capsys, tmp_path):
    src = write(tmp_path, "bad.py", "import torch.nn as nn\n\nclass Net(nn.Module:\n    pass\n")
    target = tmp_path / "out.py"
    code, out, err = run(capsys, "translate", src, "-o", target)
    assert code == EXIT_FAILED and out == ""
    assert err.startswith(f"{src}:3:") and "error: syntax error" in err
    assert "nothing written" in err and not target.exists()


PROBLEMS = """
    import torch
    import torch.nn as nn
    from timm.layers import Mlp


    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(4, 8)
            self.conv = nn.ConvTranspose3d(1, 1, 3)
            self.mlp = Mlp(8, 16)

        def forward(self, x):
            return torch.frobnicate(self.mlp(self.fc(x)))
    """


def test_every_problem_is_reported_in_one_pass_and_nothing_is_written(capsys, tmp_path):
    src = write(tmp_path, "net.py", PROBLEMS)
    target = tmp_path / "net_tf.py"
    target.write_text("# an older translation\n")
    before = snapshot(tmp_path)
    code, out, err = run(capsys, "translate", src, "-o", target)
    assert code == EXIT_FAILED and out == ""
    lines = err.strip().splitlines()
    assert lines[0].startswith(
        f"{src}:10:21: error: torch.nn.ConvTranspose3d is not translated (hint: "
    )
    assert lines[1].startswith(f"{src}:11:20: error: timm.layers.Mlp is a layer from another")
    assert lines[2].startswith(f"{src}:14:16: error: torch.frobnicate is not translated")
    assert lines[3] == "torch2tf: 3 problems; nothing written"
    assert snapshot(tmp_path) == before


def test_allow_partial_writes_marked_stubs_and_still_fails(capsys, tmp_path):
    src = write(tmp_path, "net.py", PROBLEMS)
    target = tmp_path / "net_tf.py"
    code, out, err = run(capsys, "translate", src, "-o", target, "--allow-partial")
    assert code == EXIT_FAILED and out == ""
    assert f"{src}:10:21: error: torch.nn.ConvTranspose3d" in err
    assert "3 problems; wrote partial output with stubs" in err
    generated = target.read_text()
    assert generated.startswith("# PARTIAL TRANSLATION by torch2tf --allow-partial: 3 constructs")
    calls = [
        n
        for n in ast.walk(ast.parse(generated))
        if isinstance(n, ast.Call) and getattr(n.func, "id", None) == STUB
    ]
    assert [ast.literal_eval(c.args[0]) for c in calls] == [
        "nn.ConvTranspose3d(1, 1, 3)",
        "Mlp(8, 16)",
        "torch.frobnicate(self.mlp(self.fc(x)))",
    ]
    namespace: dict = {}
    exec(compile(generated, str(target), "exec"), namespace)
    with pytest.raises(
        NotImplementedError, match="torch2tf could not translate nn.ConvTranspose3d"
    ):
        namespace["Net"]()


def test_allow_partial_on_exact_input_is_the_exact_translation(capsys):
    code, out, err = run(capsys, "translate", SEED, "--allow-partial")
    assert code == EXIT_OK and err == "" and STUB not in out


def test_translation_never_imports_or_runs_the_input(capsys, tmp_path):
    marker = tmp_path / "MARKER"
    src = write(
        tmp_path,
        "trap.py",
        f"""
        import pathlib
        import torch.nn as nn

        pathlib.Path({str(marker)!r}).write_text("the input was run")
        raise SystemExit("the input was run")


        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.fc = nn.Linear(2, 2)

            def forward(self, x):
                return self.fc(x)
        """,
    )
    code, out, _ = run(capsys, "translate", src)
    assert code == EXIT_OK and "class Net(tf.keras.Model):" in out
    code, _, _ = run(capsys, "translate", src, "--allow-partial")
    assert code == EXIT_OK
    assert not marker.exists() and "trap" not in sys.modules


def test_translation_imports_neither_torch_nor_tensorflow(tmp_path):
    """Annotations naming torch layer classes (``nn.modules.conv._ConvNd``) become Keras's
    layer type from their names: a fresh translating process imports no framework."""
    src = write(
        tmp_path,
        "typed.py",
        """
        from typing import Optional, Type

        import torch
        import torch.nn as nn


        class Net(nn.Module):
            def __init__(self, norm: Type[nn.modules.batchnorm._BatchNorm] = nn.BatchNorm1d):
                super().__init__()
                self.fc: nn.Linear = nn.Linear(2, 2)
                self.conv: Optional[nn.modules.conv._ConvNd] = None

            def forward(self, x: torch.Tensor) -> torch.Tensor:
                return self.fc(x)
        """,
    )
    probe = (
        "import sys; from torch2tf.translate import translate_file; "
        "out = translate_file(sys.argv[1]); "
        "print(sorted(m for m in ('torch', 'numpy', 'tensorflow') if m in sys.modules)); "
        "print(out)"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe, str(src)], capture_output=True, text=True, check=True
    )
    imported, out = done.stdout.split("\n", 1)
    assert imported == "[]", done.stdout
    assert "Type[tf.keras.layers.Layer]" in out and "Optional[tf.keras.layers.Layer]" in out


@pytest.mark.parametrize("problem", ["missing", "binary"])
def test_an_unreadable_input_is_a_usage_error(capsys, tmp_path, problem):
    src = {"missing": tmp_path / "nope.py", "binary": tmp_path / "b.py"}[problem]
    if problem == "binary":
        src.write_bytes(b"\xff\xfe\x00 not utf-8")
    code, out, err = run(capsys, "translate", src)
    assert code == EXIT_USAGE and out == ""
    assert one_line_error(err).startswith(f"torch2tf: error: cannot read {src}: ")


def test_translate_output_path_problems_are_usage_errors(capsys, tmp_path):
    (tmp_path / "file").write_text("keep me")
    code, _, err = run(capsys, "translate", SEED, "-o", tmp_path / "file" / "x.py")
    assert code == EXIT_USAGE
    assert one_line_error(err) == (
        f"torch2tf: error: -o {tmp_path / 'file/x.py'}: {tmp_path / 'file'} is a file, not a folder"
    )
    code, _, err = run(capsys, "translate", SEED, "-o", tmp_path)
    assert code == EXIT_USAGE and "expected a file name, found a folder" in one_line_error(err)
    assert snapshot(tmp_path) == {"file": b"keep me"}


def test_missing_output_folders_are_created(capsys, tmp_path):
    code, _, err = run(capsys, "translate", SEED, "-o", tmp_path / "no" / "such" / "x.py")
    assert code == EXIT_OK, err
    assert "class PyTorchMLP(tf.keras.Model)" in (tmp_path / "no/such/x.py").read_text()


# --------------------------------------------------------------------------- convert: usage


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--args", "[8, 16"], "--args: malformed JSON at column 7: Expecting ',' delimiter"),
        (["--args", '{"a": 1}'], "--args: expected a JSON list, received dict"),
        (["--kwargs", "[1]"], "--kwargs: expected a JSON object, received list"),
        (["--kwargs", "{'a': 1}"], "--kwargs: malformed JSON at column 2"),
        (["--input-shape", "32,x"], "--input-shape: expected positive integers like 32,784"),
        (["--input-shape", "0,8"], "--input-shape: expected positive integers like 32,784"),
        (["--input-shape", ""], "--input-shape: expected positive integers like 32,784"),
        (["--input-shape", "4,5"], "--input-shape 4,5: PyTorchMLP cannot run on it (RuntimeError"),
        (["--class", "Nope"], "--class Nope: expected an nn.Module class defined in"),
        (["--args", "[8, 16]"], "cannot construct PyTorchMLP with --args [8, 16] --kwargs {}: "),
        (["--args", "[8, -16, 4]"], "cannot construct PyTorchMLP with --args [8, -16, 4]"),
        (["--state-dict", "nope.pt"], "--state-dict: cannot read nope.pt: no such file"),
    ],
)
def test_convert_usage_errors_are_one_line_with_exit_2(capsys, tmp_path, extra, message):
    out = tmp_path / "out"
    code, _, err = run(capsys, *MLP, "-o", out, *extra)
    assert code == EXIT_USAGE
    assert one_line_error(err).startswith(f"torch2tf: error: {message}")
    assert snapshot(tmp_path) == {}


def test_convert_output_path_problems_are_usage_errors(capsys, tmp_path):
    (tmp_path / "file").write_text("keep me")
    code, _, err = run(capsys, *MLP, "-o", tmp_path / "file" / "out")
    assert code == EXIT_USAGE and "is a file, not a folder" in one_line_error(err)
    code, _, err = run(capsys, *MLP, "-o", tmp_path / "file")
    assert code == EXIT_USAGE and "expected a folder, found a file" in one_line_error(err)
    assert snapshot(tmp_path) == {"file": b"keep me"}


def test_convert_of_an_untranslatable_file_runs_nothing(capsys, tmp_path):
    marker = tmp_path / "MARKER"
    src = write(
        tmp_path,
        "net.py",
        f"import pathlib\npathlib.Path({str(marker)!r}).write_text('ran')\n"
        + textwrap.dedent(PROBLEMS),
    )
    code, _, err = run(capsys, "convert", src, "--class", "Net", "-o", tmp_path / "out")
    assert code == EXIT_FAILED and "3 problems; nothing written" in err
    assert not marker.exists() and not (tmp_path / "out").exists()


def test_a_malicious_checkpoint_is_refused_and_never_run(capsys, tmp_path):
    from test_loading import Malicious

    marker = tmp_path / "MARKER"
    checkpoint = tmp_path / "evil.pt"
    torch.save({"fc1.weight": Malicious(marker)}, checkpoint)
    code, _, err = run(capsys, *MLP, "--state-dict", checkpoint, "-o", tmp_path / "out")
    assert code == EXIT_USAGE
    line = one_line_error(err)
    assert f"refused {checkpoint}: loading it needs arbitrary unpickling" in line
    assert not marker.exists() and not (tmp_path / "out").exists()


def test_state_dict_problems_name_every_key_and_both_shapes(capsys, tmp_path):
    from seed_mlps import PyTorchMLP

    state = PyTorchMLP(8, 16, 4).state_dict()
    state["fc2.weight"] = torch.zeros(4, 15)
    del state["fc1.bias"]
    state["fc3.weight"] = torch.zeros(2, 2)
    checkpoint = tmp_path / "ckpt.pt"
    torch.save(state, checkpoint)
    code, _, err = run(capsys, *MLP, "--state-dict", checkpoint, "-o", tmp_path / "out")
    assert code == EXIT_USAGE and "Traceback" not in err
    assert f"--state-dict {checkpoint} does not fit PyTorchMLP (3 problems):" in err
    assert "missing key fc1.bias (model shape (16,))" in err
    assert "unexpected key fc3.weight (checkpoint shape (2, 2))" in err
    assert "fc2.weight: checkpoint shape (4, 15), model shape (4, 16)" in err


# --------------------------------------------------------------------------- convert: output


def test_convert_writes_source_weights_and_report_beside_other_files(capsys, tmp_path):
    from seed_mlps import PyTorchMLP

    out = tmp_path / "out"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    (out / "report.json").write_text("{}")  # an older report is replaced
    torch.manual_seed(1)
    checkpoint = tmp_path / "ckpt.pt"
    torch.save(PyTorchMLP(8, 16, 4).state_dict(), checkpoint)
    code, stdout, err = run(capsys, *MLP, "--state-dict", checkpoint, "-o", out)
    assert code == EXIT_OK, err
    assert "PASSED" in stdout
    assert sorted(p.name for p in out.iterdir()) == [
        "PyTorchMLP.weights.h5",
        "notes.txt",
        "report.json",
        "seed_mlps.py",
    ]
    assert (out / "notes.txt").read_text() == "mine"
    report = json.loads((out / "report.json").read_text())
    assert report["passed"] is True and report["first_divergent_source"] is None
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ckpt.pt", "out"]  # no staging left


def _count_translations(monkeypatch) -> list[str]:
    """The sources the engine translates from now on (its entry point, wrapped)."""
    import torch2tf.translate

    translated: list[str] = []
    engine = torch2tf.translate._translate

    def counted(source, *args, **kwargs):
        translated.append(source)
        return engine(source, *args, **kwargs)

    monkeypatch.setattr(torch2tf.translate, "_translate", counted)
    return translated


def test_convert_translates_the_file_once(capsys, tmp_path, monkeypatch):
    """The check before the file runs and the conversion share one translation."""
    translated = _count_translations(monkeypatch)
    code, _, err = run(capsys, *MLP, "-o", tmp_path / "out")
    assert code == EXIT_OK, err
    assert len(translated) == 1
    translated.clear()  # a second command translates again: nothing is kept between runs
    code, _, err = run(capsys, *MLP, "-o", tmp_path / "again")
    assert code == EXIT_OK, err
    assert len(translated) == 1


def test_convert_a_class_built_from_several_files_into_subfolders(capsys, tmp_path, monkeypatch):
    """The project's files are written in their folders; other files there stay; each file
    is translated once."""
    from conftest import MODELS

    translated = _count_translations(monkeypatch)

    out = tmp_path / "out"
    (out / "mlpkit").mkdir(parents=True)
    (out / "mlpkit" / "notes.txt").write_text("mine")
    src = MODELS / "mlpkit" / "nets" / "mlp.py"
    code, stdout, err = run(
        capsys, "convert", src, "--class", "ResMLP", "--args", "[6, 8, 3]", "-o", out
    )
    assert code == EXIT_OK, err
    assert {str(p.relative_to(out)) for p in out.rglob("*") if p.is_file()} == {
        "ResMLP.weights.h5",
        "report.json",
        "mlpkit/__init__.py",
        "mlpkit/base.py",
        "mlpkit/blocks.py",
        "mlpkit/notes.txt",
        "mlpkit/nets/__init__.py",
        "mlpkit/nets/mlp.py",
    }
    assert (out / "mlpkit" / "notes.txt").read_text() == "mine"
    assert translated and len(translated) == len(set(translated))


EPS_NET = """
    import torch.nn as nn


    class EpsNet(nn.Module):
        def __init__(self, width):
            super().__init__()
            self.fc = nn.Linear(width, width)
            self.bn = nn.BatchNorm1d(width)
            relax(self.bn)

        def forward(self, x):
            return self.bn(self.fc(x))


    def relax(layer):
        layer.eps = 0.5  # torch normalises with it; the Keras layer never reads `eps`
    """


def test_failed_verification_names_the_layer_and_its_line_and_still_saves(capsys, tmp_path):
    """A real divergence: a helper changes a layer after it is built, which static
    translation cannot see (Keras layers have no `eps`); verification catches it."""
    src = write(tmp_path, "eps_net.py", EPS_NET)
    out = tmp_path / "out"
    code, stdout, err = run(capsys, "convert", src, "--class", "EpsNet", "--args", "[6]", "-o", out)
    assert code == EXIT_FAILED
    where = f"{src}:8"  # self.bn = nn.BatchNorm1d(width)
    assert f"FAILED (first divergent layer: bn at {where})" in stdout
    assert f"verification failed: first divergent layer bn ({where})" in err
    assert f"report written to {out / 'report.json'}" in err
    report = json.loads((out / "report.json").read_text())
    assert report["passed"] is False
    assert report["first_divergent_layer"] == "bn"
    assert report["first_divergent_source"] == where
    assert (out / "EpsNet.weights.h5").is_file() and (out / "eps_net.py").is_file()


def test_a_perturbed_keras_weight_is_found_in_a_nested_module(tmp_path):
    """The state changes between conversion and checking: the check must see it and say where."""
    import tensorflow as tf

    from torch2tf.conversion import convert, source_line
    from torch2tf.verify import check

    src = write(
        tmp_path,
        "nested.py",
        """
        import torch.nn as nn


        class Block(nn.Module):
            def __init__(self, width):
                super().__init__()
                self.fc = nn.Linear(width, width)

            def forward(self, x):
                return self.fc(x)


        class Net(nn.Module):
            def __init__(self, width):
                super().__init__()
                self.first = Block(width)
                self.second = Block(width)

            def forward(self, x):
                return self.second(self.first(x))
        """,
    )
    sys.path.insert(0, str(tmp_path))
    try:
        from nested import Net
    finally:
        sys.path.remove(str(tmp_path))
    model = Net(5).eval()
    result = convert(model, [5], inputs=torch.randn(3, 5))
    assert result.passed
    kernel = result.keras_model.second.fc.kernel
    kernel.assign(kernel + tf.ones_like(kernel) * 0.1)
    result.checks = [check(model, result.keras_model, (torch.randn(3, 5),), "eval")]
    assert not result.passed and result.first_divergent_layer == "second.fc"
    assert source_line(model, "second.fc") == f"{src}:7"
    assert source_line(model, "second") == f"{src}:17"
    assert f"first divergent layer: second.fc at {src}:7" in result.table()
    result.save(tmp_path / "out")
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert report["first_divergent_source"] == f"{src}:7"


def converted(tmp_path):
    from seed_mlps import PyTorchMLP

    from torch2tf.conversion import convert

    return convert(PyTorchMLP(8, 16, 4).eval(), [8, 16, 4])


def test_a_save_that_fails_midway_leaves_the_folder_unchanged(tmp_path, monkeypatch):
    result = converted(tmp_path)
    out = tmp_path / "out"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    (out / "report.json").write_text('{"old": true}')
    before = snapshot(tmp_path)

    def fail(path, *args, **kwargs):
        Path(path).write_bytes(b"half-written weights")
        raise RuntimeError("disk full")

    monkeypatch.setattr(result.keras_model, "save_weights", fail)
    with pytest.raises(RuntimeError, match="disk full"):
        result.save(out)
    assert snapshot(tmp_path) == before
    with pytest.raises(RuntimeError):
        result.save(tmp_path / "new")
    assert snapshot(tmp_path) == before and not (tmp_path / "new").exists()


def test_a_failed_move_into_place_puts_the_older_files_back(tmp_path, monkeypatch):
    result = converted(tmp_path)
    out = tmp_path / "out"
    out.mkdir()
    for name in ("PyTorchMLP.weights.h5", "report.json", "seed_mlps.py", "notes.txt"):
        (out / name).write_text(f"old {name}")
    before = snapshot(out)
    real_replace = os.replace
    moves = []

    def flaky(src, dst):
        if Path(dst).parent == out:
            moves.append(dst)
            if len(moves) == 3:  # two new files are in place, the third move fails
                raise OSError(28, "No space left on device")
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", flaky)
    with pytest.raises(OSError):
        result.save(out)
    monkeypatch.setattr(os, "replace", real_replace)
    assert snapshot(out) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_a_new_output_folder_gets_normal_permissions(tmp_path):
    result = converted(tmp_path)
    result.save(tmp_path / "out")
    mask = os.umask(0)
    os.umask(mask)
    assert (tmp_path / "out").stat().st_mode & 0o777 == 0o777 & ~mask


# --------------------------------------------------------------------------- real processes


def test_subprocess_translate_never_runs_the_input(tmp_path):
    marker = tmp_path / "MARKER"
    src = write(
        tmp_path,
        "trap.py",
        f"""
        import pathlib
        import torch.nn as nn
        pathlib.Path({str(marker)!r}).write_text("ran")

        class Net(nn.Module):
            def forward(self, x):
                return x
        """,
    )
    result = subprocess.run(
        [sys.executable, "-m", "torch2tf.cli", "translate", str(src)],
        capture_output=True,
        text=True,
    )
    assert result.returncode == EXIT_OK, result.stderr
    assert "class Net(tf.keras.Model):" in result.stdout and not marker.exists()


def test_subprocess_usage_error_is_one_line_with_exit_2(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "torch2tf.cli", *MLP[:-1], "[8, 16", "-o", str(tmp_path / "o")],
        capture_output=True,
        text=True,
    )
    assert result.returncode == EXIT_USAGE
    expected = "torch2tf: error: --args: malformed JSON at column 7: Expecting ',' delimiter\n"
    assert result.stderr == expected


def test_translate_a_project_folder_mirrors_its_layout(capsys, tmp_path):
    from conftest import MODELS

    out = tmp_path / "tf"
    code, _, err = run(capsys, "translate", MODELS / "mlpkit", "-o", out)
    assert code == EXIT_OK, err
    files = {str(p.relative_to(out)) for p in out.rglob("*.py")}
    assert files == {
        "mlpkit/__init__.py",
        "mlpkit/base.py",
        "mlpkit/blocks.py",
        "mlpkit/nets/__init__.py",
        "mlpkit/nets/mlp.py",
    }
    assert "class ResMLP(BaseNet):" in (out / "mlpkit" / "nets" / "mlp.py").read_text()


def test_translate_a_folder_needs_an_output_folder(capsys):
    from conftest import MODELS

    code, out, err = run(capsys, "translate", MODELS / "mlpkit")
    assert code == EXIT_USAGE and out == ""
    assert (
        one_line_error(err)
        == "torch2tf: error: translating a folder or several files needs -o OUTDIR"
    )


def test_translate_one_file_of_a_package_resolves_its_imports(capsys):
    from conftest import MODELS

    code, out, err = run(capsys, "translate", MODELS / "mlpkit" / "blocks.py")
    assert code == EXIT_OK, err
    assert "class Residual(BaseNet):" in out
    assert "self.drop(self.inner(x, training=training), training=training)" in out


def test_the_readme_main_job(capsys, tmp_path, monkeypatch):
    """The README's first command, as written, from the repository root."""
    from conftest import ROOT

    readme = (ROOT / "README.md").read_text()
    line = next(x for x in readme.splitlines() if "torch2tf convert examples/seed_mlps.py" in x)
    argv = shlex.split(line.split("&& torch2tf ", 1)[1])
    monkeypatch.chdir(tmp_path)
    argv = [str(ROOT / a) if a.startswith("examples/") else a for a in argv]
    code, out, err = run(capsys, *argv)
    assert code == EXIT_OK, err
    assert "PASSED" in out
    report = json.loads((tmp_path / "out" / "complex" / "report.json").read_text())
    assert report["passed"] and report["model"] == "PyTorchMLPComplex"
    assert (tmp_path / "out" / "complex" / "seed_mlps.py").is_file()

    # Then the README's loading snippet, as written, in a fresh TensorFlow-only process.
    snippet = readme.split("Loading the converted model elsewhere", 1)[1]
    snippet = snippet.split("```python\n", 1)[1].split("```", 1)[0]
    check = "\nassert 'torch' not in sys.modules\n"
    done = subprocess.run(
        [sys.executable, "-c", snippet + check], cwd=tmp_path, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "(1, 10)"
