"""The ``torch2tf`` command line: ``translate`` and ``convert``.

Exit codes: 0 success; 1 the input cannot be translated exactly, or verification failed;
2 usage error (bad arguments, unreadable file, malformed JSON, unknown class).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from torch2tf.diagnostics import TranslationError
from torch2tf.translate import translate_source

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


class UsageError(Exception):
    """Bad command-line input; reported as one line with exit code 2."""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="torch2tf",
        description="Convert PyTorch nn.Module classes into readable tf.keras code and weights.",
        epilog="Exit codes: 0 success, 1 not translatable or verification failed, 2 usage error.",
    )
    parser.add_argument(
        "--list-rules", action="store_true", help="list the torch names that are translated"
    )
    commands = parser.add_subparsers(dest="command")
    translate = commands.add_parser(
        "translate",
        help="translate a file statically (never imports or runs it)",
        description="Translate every nn.Module class of SRC into a tf.keras.Model class. "
        "The file is parsed, never imported or executed.",
    )
    translate.add_argument("src", type=Path, help="PyTorch source file")
    translate.add_argument(
        "-o", "--output", type=Path, help="write here instead of standard output"
    )
    convert = commands.add_parser(
        "convert",
        help="build a model from SRC, convert it with its weights, verify, and save",
        description="Import SRC (this runs it), build CLASS with ARGS/KWARGS, optionally load "
        "a state dict, then write the generated .py, the .weights.h5 and report.json to "
        "OUTDIR. Exits 0 only when the Keras model matches torch in eval and train mode.",
    )
    convert.add_argument("src", type=Path, help="PyTorch source file defining the class")
    convert.add_argument("--class", dest="class_name", required=True, help="model class name")
    convert.add_argument("--args", default="[]", help="constructor arguments, a JSON list")
    convert.add_argument("--kwargs", default="{}", help="constructor keywords, a JSON object")
    convert.add_argument(
        "--state-dict",
        type=Path,
        help="checkpoint to load: a torch.save'd state dict (loaded with weights_only=True) "
        "or a .safetensors file",
    )
    convert.add_argument(
        "--input-shape", help="verification input shape, e.g. 32,784 (default: inferred)"
    )
    convert.add_argument("--atol", type=float, default=1e-5, help="absolute tolerance (1e-5)")
    convert.add_argument("--rtol", type=float, default=1e-4, help="relative tolerance (1e-4)")
    convert.add_argument("-o", "--output", type=Path, required=True, help="output folder")
    return parser


def _write_atomically(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise UsageError(f"cannot read {path}: {err.strerror or err}") from None


def _json(text: str, expected: type, option: str):
    try:
        value = json.loads(text)
    except json.JSONDecodeError as err:
        raise UsageError(f"{option}: malformed JSON at column {err.colno}: {err.msg}") from None
    if not isinstance(value, expected):
        raise UsageError(
            f"{option}: expected a JSON {'list' if expected is list else 'object'}, "
            f"received {type(value).__name__}"
        )
    return value


def _shape(text: str | None) -> tuple[int, ...] | None:
    if text is None:
        return None
    try:
        shape = tuple(int(part) for part in text.split(","))
    except ValueError:
        shape = ()
    if not shape or any(size <= 0 for size in shape):
        raise UsageError(f"--input-shape: expected positive integers like 32,784, received {text!r}")
    return shape


def _translate(args: argparse.Namespace) -> int:
    code = translate_source(_read(args.src), str(args.src))
    if args.output is None:
        sys.stdout.write(code)
    else:
        _write_atomically(args.output, code)
    return EXIT_OK


def _convert(args: argparse.Namespace) -> int:
    ctor_args = _json(args.args, list, "--args")
    ctor_kwargs = _json(args.kwargs, dict, "--kwargs")
    shape = _shape(args.input_shape)
    source = _read(args.src)
    translate_source(source, str(args.src))  # report diagnostics before running anything

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # keep TensorFlow's start-up chatter out
    from torch2tf import loading
    from torch2tf.conversion import convert

    cls = loading.load_class(args.src, args.class_name)
    try:
        model = cls(*ctor_args, **ctor_kwargs)
    except TypeError as err:
        raise UsageError(f"cannot construct {args.class_name}: {err}") from None
    if args.state_dict is not None:
        loading.load_state_dict(model, args.state_dict)
    model.eval()
    inputs = loading.random_inputs(model, shape) if shape else None
    result = convert(
        model, ctor_args, ctor_kwargs, inputs=inputs, atol=args.atol, rtol=args.rtol
    )
    result.save(args.output)
    print(result.table())
    print(f"wrote {args.output}/")
    return EXIT_OK if result.passed else EXIT_FAILED


def _list_rules() -> int:
    from torch2tf import rules

    for name, rule in sorted(rules.LAYERS.items()):
        print(f"{name:<32} {(rule.__doc__ or '').strip()}")
    for name in sorted(rules.INITIALIZERS):
        print(name)
    for name in sorted(rules.FUNCTIONS):
        print(name)
    return EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code."""
    parser = _parser()
    args = parser.parse_args(argv)
    if args.list_rules:
        return _list_rules()
    if args.command is None:
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    try:
        return _translate(args) if args.command == "translate" else _convert(args)
    except UsageError as err:
        print(f"torch2tf: error: {err}", file=sys.stderr)
        return EXIT_USAGE
    except TranslationError as err:
        print(err, file=sys.stderr)
        count = len(err.diagnostics)
        print(f"torch2tf: {count} problem{'s' * (count != 1)}; nothing written", file=sys.stderr)
        return EXIT_FAILED
    except Exception as err:  # conversion problems: one clear line, no traceback
        from torch2tf.loading import conversion_errors

        if isinstance(err, conversion_errors()):
            print(f"torch2tf: error: {err}", file=sys.stderr)
            return EXIT_FAILED
        raise


if __name__ == "__main__":
    sys.exit(main())
