"""The newcomer's command line: --version, a closed pipe, per-command help with an example."""

import subprocess
import sys

from torch2tf.cli import EXIT_OK, main


def test_version(capsys):
    assert main(["--version"]) == EXIT_OK
    out, _ = capsys.readouterr()
    assert out.startswith("torch2tf ") and out.strip().split()[1][0].isdigit()


def test_a_reader_that_stops_early_is_not_an_error():
    """`torch2tf --list-rules | head`: the pipe is closed before anything is written."""
    process = subprocess.Popen(
        [sys.executable, "-m", "torch2tf.cli", "--list-rules"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    process.stdout.close()
    stderr = process.stderr.read().decode()
    assert process.wait() == EXIT_OK, stderr
    assert "BrokenPipeError" not in stderr and "Traceback" not in stderr


def options(help_text: str) -> set[str]:
    return {line.split()[0] for line in help_text.splitlines() if line.startswith("  -")}


def test_each_command_help_shows_its_own_options_and_an_example(capsys):
    assert main(["convert", "--help"]) == EXIT_OK
    convert, _ = capsys.readouterr()
    assert "--export" in options(convert) and "--allow-partial" not in options(convert)
    assert "example:\n  torch2tf convert " in convert
    assert main(["translate", "--help"]) == EXIT_OK
    translate, _ = capsys.readouterr()
    assert "--allow-partial" in options(translate) and "--export" not in options(translate)
    assert "example:\n  torch2tf translate " in translate


def test_an_untranslated_construct_says_what_to_do(capsys, tmp_path):
    from conftest import ROOT

    from torch2tf.cli import EXIT_FAILED, NOT_TRANSLATED_HINT

    src = tmp_path / "conv.py"
    src.write_text(
        "import torch.nn as nn\n\n\nclass Net(nn.Module):\n    def __init__(self):\n"
        "        super().__init__()\n        self.conv = nn.ConvTranspose3d(3, 8, 3)\n"
    )
    assert main(["translate", str(src)]) == EXIT_FAILED
    _, err = capsys.readouterr()
    assert err.strip().splitlines()[-1] == NOT_TRANSLATED_HINT
    readme = (ROOT / "README.md").read_text()
    assert "## What is translated" in readme and "not translated yet" in readme


def test_tensorflow_start_up_lines_are_not_printed_without_verbose(tmp_path):
    """convert (with an export, whose check runs in a second process) prints the table and
    the result, not TensorFlow's start-up log lines (``cpu_feature_guard``, absl's notice)."""
    import os

    from conftest import EXAMPLES

    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    argv = ["convert", str(EXAMPLES / "seed_mlps.py"), "--class", "PyTorchMLP"]
    argv += ["--args", "[8, 6, 3]", "--export", "keras", "-o", str(tmp_path / "out")]
    done = subprocess.run(
        [sys.executable, "-m", "torch2tf.cli", *argv], capture_output=True, text=True, env=env
    )
    assert done.returncode == EXIT_OK, done.stderr
    printed = done.stdout + done.stderr
    for mark in ("I0000", "W0000", "absl::InitializeLog", "cpu_feature_guard", "oneDNN"):
        assert mark not in printed, printed
    assert "PASSED" in done.stdout and "export keras" in done.stdout
