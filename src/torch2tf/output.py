"""Atomic output: a failed run leaves no half-written files and never touches other files."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path


def write_folder(outdir: str | Path, write: Callable[[Path], None]) -> Path:
    """Let ``write`` fill a staging folder, then move its files into ``outdir``.

    The staging folder sits beside ``outdir``. A new ``outdir`` is that folder renamed; into an
    existing one the files are moved one by one, and if a move fails the files already moved
    are put back as they were. Either way a failure leaves no half-written output, and other
    files in ``outdir`` are never touched.
    """
    outdir = Path(outdir)
    if outdir.exists() and not outdir.is_dir():
        raise NotADirectoryError(f"{outdir} exists and is not a folder")
    outdir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{outdir.name}.", dir=outdir.parent))
    try:
        write(staging)
        if not outdir.exists():
            os.chmod(staging, 0o777 & ~umask())  # mkdtemp's folder is private
            staging.rename(outdir)
            return outdir
        _move_into(staging, outdir)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return outdir


def write_file(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file in the same folder, then rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.chmod(tmp, 0o666 & ~umask())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def umask() -> int:
    """The process's file-creation mask (read without changing it for long)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _move_into(staging: Path, outdir: Path) -> None:
    """Move the files of ``staging`` into ``outdir`` one by one (into subfolders too, never
    replacing a folder); on failure put every older file back and remove what was added."""
    backup = Path(tempfile.mkdtemp(prefix=".previous.", dir=staging))
    files = sorted(p for p in staging.rglob("*") if p.is_file() and backup not in p.parents)
    done: list[tuple[Path, bool]] = []  # (relative path, whether an older file was set aside)
    made: list[Path] = []  # folders created inside outdir
    try:
        for item in files:
            relative = item.relative_to(staging)
            target = outdir / relative
            for folder in reversed(target.parents[: len(relative.parts) - 1]):
                if not folder.is_dir():
                    folder.mkdir()
                    made.append(folder)
            if target.is_dir() and not target.is_symlink():
                raise IsADirectoryError(f"{target} is a folder; expected a file or nothing")
            existed = target.exists() or target.is_symlink()
            if existed:
                (backup / relative).parent.mkdir(parents=True, exist_ok=True)
                os.replace(target, backup / relative)
            done.append((relative, existed))
            os.replace(item, target)
    except BaseException:
        for relative, existed in reversed(done):
            if existed:
                os.replace(backup / relative, outdir / relative)
            else:
                (outdir / relative).unlink(missing_ok=True)
        for folder in reversed(made):
            with contextlib.suppress(OSError):
                folder.rmdir()
        raise
