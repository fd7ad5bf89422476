"""The ``torch2tf`` command line: ``translate`` and ``convert``.

``translate`` parses the input and never imports or runs it. ``convert`` imports it (which runs
it), builds the model, loads a checkpoint safely (``torch.load(weights_only=True)`` or
safetensors; anything that would need arbitrary unpickling is refused), converts and verifies.
Output is written atomically: a failed run writes nothing and leaves other files alone.

Exit codes:
  0  success: an exact translation, or a conversion that matches torch in eval and train mode
  1  the input cannot be translated exactly (every problem is listed at once as
     file:line:col, nothing is written; with --allow-partial the stubbed output is written
     and the exit code is still 1), the model cannot be converted, or verification failed
     (the report is still written, and the first diverging layer named with its source line)
  2  usage error: a bad option, malformed --args/--kwargs JSON, a bad --input(-shape), an
     unreadable or unsafe file, an unknown class, a constructor that fails, a checkpoint
     that does not fit the model, an output path that cannot be written
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import NoReturn

from torch2tf.diagnostics import TranslationError, translate_partial
from torch2tf.errors import UsageError
from torch2tf.output import write_file, write_folder
from torch2tf.reach import UnknownName, reach
from torch2tf.translate import (
    translate_file,
    translate_project,
    translate_source,
    translations_reused,
)

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2

EXIT_CODES = """\
exit codes:
  0  success (exact translation; conversion verified in eval and train mode: within
     --atol/--rtol, or for a deep float32 net within torch's own round-off, see report.json)
  1  not translatable exactly (every problem listed as file:line:col, nothing written;
     with --allow-partial the stubbed output is written, still exit 1), not convertible,
     or verification failed (report still written, first diverging layer named)
  2  usage error (bad option or JSON, bad --input(-shape), unreadable or unsafe file,
     unknown class, failing constructor, checkpoint not fitting the model, bad output path)
"""


NOT_TRANSLATED_HINT = (
    "torch2tf: what is covered today: the README's 'What is translated' section and "
    "`torch2tf --list-rules`; `translate --allow-partial` writes the rest as stubs to finish "
    "by hand"
)


class _Parser(argparse.ArgumentParser):
    """Usage errors as one line (no usage dump) with exit code 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="torch2tf",
        description="Convert PyTorch nn.Module classes into readable tf.keras code and weights.",
        epilog=EXIT_CODES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--list-rules", action="store_true", help="list the torch names that are translated"
    )
    parser.add_argument("--version", action="version", version=f"torch2tf {_version()}")
    commands = parser.add_subparsers(dest="command")
    translate = commands.add_parser(
        "translate",
        help="translate a file or a project statically (never imports or runs it)",
        description="Translate every nn.Module class of SRC into a tf.keras.Model class. "
        "The file is parsed, never imported or executed. Every construct that cannot be "
        "translated exactly is reported at once, and nothing is written.",
        epilog="example:\n  torch2tf translate examples/seed_mlps.py -o seed_mlps_tf.py\n"
        "  torch2tf translate mypkg/ --helpers-module tf_helpers -o out/\n\n" + EXIT_CODES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    translate.add_argument(
        "src",
        metavar="SRC",
        type=Path,
        nargs="+",
        help="PyTorch source file; or a folder or several files of one project, translated "
        "together (imports between them resolved) into the folder -o, layout mirrored",
    )
    translate.add_argument(
        "-o", "--output", type=Path, help="write here instead of standard output"
    )
    translate.add_argument(
        "--class",
        dest="classes",
        action="append",
        metavar="NAME",
        help="translate only this class and what it reaches (repeatable); what is left out "
        "is listed on standard error",
    )
    translate.add_argument(
        "--allow-partial",
        action="store_true",
        help="write the output even if some constructs cannot be translated: each becomes a "
        "marked torch2tf_untranslated(...) stub that raises NotImplementedError when run "
        "(the problems are still reported, and the exit code is still 1)",
    )
    translate.add_argument(
        "--helpers-module",
        metavar="NAME",
        help="for a folder or several files: write the helpers (torch_default_kernel, "
        "TorchBatchNorm, ...) once into OUTDIR/NAME.py, and have each generated file import "
        "the ones it uses (from NAME import ...) instead of carrying its own copies",
    )
    convert = commands.add_parser(
        "convert",
        help="build a model from SRC, convert it with its weights, verify, and save",
        description="Import SRC (this runs it), build CLASS with ARGS/KWARGS, optionally load "
        "a state dict, then write the generated .py, the .weights.h5 and report.json to "
        "OUTDIR, atomically. Exits 0 only when the Keras model matches torch in eval and "
        "train mode; on a mismatch the report is still written.",
        epilog="example:\n  torch2tf convert examples/seed_mlps.py --class PyTorchMLP "
        "--args '[784, 256, 10]' --export keras,tflite -o out/mlp\n"
        "  torch2tf convert text.py --class Classifier --args '[1000, 64, 2]' "
        "--input int64:16,20:0..1000 -o out/text\n\n" + EXIT_CODES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    convert.add_argument(
        "src", metavar="SRC", type=Path, help="PyTorch source file defining the class"
    )
    convert.add_argument(
        "--class", dest="class_name", metavar="CLASS", required=True, help="model class name"
    )
    convert.add_argument("--args", default="[]", help="constructor arguments, a JSON list")
    convert.add_argument("--kwargs", default="{}", help="constructor keywords, a JSON object")
    convert.add_argument(
        "--state-dict",
        type=Path,
        help="checkpoint to load: a torch.save'd state dict (loaded with weights_only=True; "
        "files that need arbitrary unpickling are refused) or a .safetensors file",
    )
    convert.add_argument(
        "--input",
        dest="inputs",
        action="append",
        metavar="DTYPE:SHAPE[:LOW..HIGH]",
        help="a verification input, one per positional input of forward, in order "
        "(repeatable), e.g. int64:16,20:0..1000 (HIGH excluded) or float32:16,8; floats "
        "without a range are N(0,1), integers without one take [0, num_embeddings) of the "
        "first Embedding; seeded. Default: inferred from the first convolution (NCHW/NCL "
        "floats), Linear (floats) or Embedding (int64 ids)",
    )
    convert.add_argument(
        "--input-shape",
        help="short for --input with the model's float dtype: 32,784 is --input float32:32,784 "
        "for a float32 model; not together with --input",
    )
    convert.add_argument("--atol", type=float, default=1e-5, help="absolute tolerance (1e-5)")
    convert.add_argument("--rtol", type=float, default=1e-4, help="relative tolerance (1e-4)")
    convert.add_argument(
        "--export",
        metavar="FORMATS",
        help="also write these, comma-separated, each loaded back in a fresh TensorFlow-only "
        "process and compared with torch: keras (NAME.keras), savedmodel (NAME_savedmodel/), "
        "tflite (float32), tflite-int8 (dynamic-range int8, error measured)",
    )
    convert.add_argument(
        "--helpers-module",
        metavar="NAME",
        help="write the helpers (torch_default_kernel, TorchBatchNorm, ...) into OUTDIR/NAME.py, "
        "imported by the generated files (from NAME import ...), instead of copies in each",
    )
    convert.add_argument(
        "-o", "--output", metavar="OUTDIR", type=Path, required=True, help="output folder"
    )
    convert.add_argument("--verbose", action="store_true", help="show TensorFlow's own log lines")
    return parser


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("torch2tf")
    except PackageNotFoundError:
        return "(not installed)"


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        reason = err.strerror if isinstance(err, OSError) and err.strerror else err
        raise UsageError(f"cannot read {path}: {reason}") from None


def _output(path: Path, folder: bool) -> None:
    """Refuse an output path that cannot be written before any work is done. Missing folders
    are fine: they are created once the output is complete."""
    existing = next(p for p in (path, *path.parents) if p.exists() or p == p.parent)
    if existing != path and not existing.is_dir():
        raise UsageError(f"-o {path}: {existing} is a file, not a folder")
    if folder and path.exists() and not path.is_dir():
        raise UsageError(f"-o {path}: expected a folder, found a file")
    if not folder and path.is_dir():
        raise UsageError(f"-o {path}: expected a file name, found a folder")


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
        raise UsageError(
            f"--input-shape: expected positive integers like 32,784, received {text!r}"
        )
    return shape


def _input_specs(texts: list[str] | None, shape: tuple[int, ...] | None) -> list:
    if not texts:
        return []
    if shape is not None:
        raise UsageError("--input-shape: expected either --input or --input-shape, received both")
    from torch2tf.inputs import InputError, parse_input

    specs = []
    for text in texts:
        try:
            specs.append(parse_input(text))
        except InputError as err:
            raise UsageError(f"--input {text}: {err}") from None
    return specs


def _formats(text: str | None) -> tuple[str, ...]:
    if text is None:
        return ()
    from torch2tf.export import ExportError, parse_formats

    try:
        return parse_formats(text)
    except ExportError as err:
        raise UsageError(f"--export: {err}") from None


def _translate(args: argparse.Namespace) -> int:
    if len(args.src) > 1 or args.src[0].is_dir():
        if args.classes:
            raise UsageError("--class takes a single file")
        return _translate_project(args)
    if args.helpers_module is not None:
        raise UsageError("--helpers-module: expected a folder or several files, received one file")
    src = args.src[0]
    source = _read(src)
    if args.output is not None:
        _output(args.output, folder=False)
    problems = []
    if args.classes:
        code, problems = _translate_classes(src, args.classes, args.allow_partial)
    elif args.allow_partial:
        code, problems = translate_partial(source, str(src))
    else:
        code = translate_file(src)
    if args.output is None:
        sys.stdout.write(code)
    else:
        write_file(args.output, code)
    if not problems:
        return EXIT_OK
    for problem in problems:
        print(problem, file=sys.stderr)
    where = "standard output" if args.output is None else args.output
    print(
        f"torch2tf: {_count(problems)}; wrote partial output with stubs that raise "
        f"NotImplementedError to {where}",
        file=sys.stderr,
    )
    return EXIT_FAILED


def _translate_classes(
    src: Path, classes: list[str], partial: bool, note: bool = True
) -> tuple[str, list]:
    """``--class``: the classes and what they reach; the rest is listed on standard error."""
    try:
        reached = reach(src, classes)
    except UnknownName as err:
        raise UsageError(str(err)) from None
    main = reached.sources[reached.main]
    problems = []
    if partial:
        code, problems = translate_partial(main, str(src))
    elif len(reached.sources) > 1:
        code = translate_project(reached.root, sources=reached.sources)[reached.main]
    else:
        code = translate_source(main, str(src), module_name=reached.module_name)
    if reached.left_out and note:
        print(
            f"torch2tf: left out {len(reached.left_out)} top-level statement"
            f"{'s' * (len(reached.left_out) != 1)} not reached from {', '.join(classes)}:",
            file=sys.stderr,
        )
        for item in reached.left_out:
            print(f"  {item}", file=sys.stderr)
    return code, problems


def _translate_project(args: argparse.Namespace) -> int:
    """Folders and several files: one project, its layout mirrored under -o."""
    if args.output is None:
        raise UsageError("translating a folder or several files needs -o OUTDIR")
    if args.allow_partial:
        raise UsageError("--allow-partial takes a single file")
    _output(args.output, folder=True)
    files: list[Path] = []
    for src in args.src:
        if not src.exists():
            raise UsageError(f"cannot read {src}: no such file or folder")
        files += sorted(src.rglob("*.py")) if src.is_dir() else [src]
    if not files:
        raise UsageError(f"no .py files in {', '.join(map(str, args.src))}")
    files = [f.resolve() for f in files]
    root = Path(os.path.commonpath([f.parent for f in files]))
    if len(args.src) == 1 and args.src[0].is_dir():
        root = args.src[0].resolve().parent  # keep the folder's own name, e.g. mypkg/...
    generated = translate_project(root, files)
    if args.helpers_module is not None:
        from torch2tf.helpers_module import split_helpers

        generated = split_helpers(generated, args.helpers_module)

    def write(staging: Path) -> None:
        for relative, code in generated.items():
            (staging / relative).parent.mkdir(parents=True, exist_ok=True)
            (staging / relative).write_text(code, encoding="utf-8")

    write_folder(args.output, write)
    print(f"translated {len(generated)} files into {args.output}/", file=sys.stderr)
    return EXIT_OK


@translations_reused()  # the file is translated once: checked before it runs, then converted
def _convert(args: argparse.Namespace) -> int:
    ctor_args = _json(args.args, list, "--args")
    ctor_kwargs = _json(args.kwargs, dict, "--kwargs")
    shape = _shape(args.input_shape)
    specs = _input_specs(args.inputs, shape)
    formats = _formats(args.export)
    if args.helpers_module is not None:
        from torch2tf.helpers_module import check_name

        check_name(args.helpers_module, {Path(args.src.name): ""})  # the project's: at save
    _output(args.output, folder=True)
    if args.state_dict is not None and not args.state_dict.is_file():
        raise UsageError(f"--state-dict: cannot read {args.state_dict}: no such file")
    _read(args.src)  # unreadable input is a usage error, before anything runs

    if not args.verbose:  # TensorFlow's start-up lines say nothing about the conversion
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    from torch2tf import loading
    from torch2tf.conversion import convert, source_line

    # Report diagnostics (of what the class reaches, in its project too) before running
    # anything; a class the file only imports is found, and translated, once it is loaded.
    with contextlib.suppress(UsageError):
        _translate_classes(args.src, [args.class_name], partial=False, note=False)
    cls = loading.load_class(args.src, args.class_name)
    model = loading.construct(cls, ctor_args, ctor_kwargs)
    if args.state_dict is not None:
        loading.load_state_dict(model, args.state_dict)
    model.eval()
    inputs = loading.verification_inputs(model, shape, specs)
    result = convert(model, ctor_args, ctor_kwargs, inputs=inputs, atol=args.atol, rtol=args.rtol)
    try:
        result.save(args.output, formats, helpers_module=args.helpers_module)
    except OSError as err:
        raise UsageError(f"cannot write {args.output}: {err.strerror or err}") from None
    print(result.table())
    for fmt, outcome in result.exports.items():
        if outcome["passed"]:
            error = outcome["max_abs_error"]
            print(f"export {fmt:<12} {outcome['file']:<36} max abs error {error:.3e}")
        else:
            print(
                f"torch2tf: export {fmt} failed, not written: {outcome['error']}", file=sys.stderr
            )
    if result.passed and not result.exports_passed:
        return EXIT_FAILED
    if result.passed:
        print(f"wrote {args.output}/")
        if result.build_hint():
            print(f"note: {result.build_hint()}")
        return EXIT_OK
    layer = result.first_divergent_layer
    if layer is None and any(c.roundoff is not None for c in result.checks):
        culprit = "no single layer diverges; the whole model is beyond its round-off comparison"
    elif layer is None:
        culprit = "no single layer diverges, only the whole model"
    else:
        where = source_line(model, layer)
        culprit = f"first divergent layer {layer}" + (f" ({where})" if where else "")
    print(
        f"torch2tf: verification failed: {culprit}; max abs error "
        f"{result.max_abs_error:.3e} (atol {args.atol:g}, rtol {args.rtol:g}); "
        f"report written to {args.output / 'report.json'}",
        file=sys.stderr,
    )
    return EXIT_FAILED


def _list_rules() -> int:
    from torch2tf import rules

    for name, rule in sorted(rules.LAYERS.items()):
        print(f"{name:<32} {(rule.__doc__ or '').strip()}")
    for name in sorted(rules.INITIALIZERS):
        print(name)
    for name in sorted(rules.FUNCTIONS):
        print(name)
    return EXIT_OK


def _count(problems: Sequence[object]) -> str:
    return f"{len(problems)} problem{'s' * (len(problems) != 1)}"


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code (see the module docstring)."""
    parser = _parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as stop:  # --help, or a usage error already printed
        return stop.code if isinstance(stop.code, int) else EXIT_USAGE
    try:
        return _run(parser, args)
    except BrokenPipeError:  # the reader stopped early (`torch2tf --list-rules | head`)
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())  # no second error when Python flushes at exit
        return EXIT_OK


def _run(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
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
        print(f"torch2tf: {_count(err.diagnostics)}; nothing written", file=sys.stderr)
        print(NOT_TRANSLATED_HINT, file=sys.stderr)
        return EXIT_FAILED
    except Exception as err:  # conversion problems: one clear message, no traceback
        from torch2tf.loading import conversion_errors

        if args.command == "convert" and isinstance(err, conversion_errors()):
            print(f"torch2tf: error: {err}", file=sys.stderr)
            return EXIT_FAILED
        raise


if __name__ == "__main__":
    sys.exit(main())
