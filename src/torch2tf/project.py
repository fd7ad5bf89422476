"""Where a source file sits in its project: its module name and the project files it imports.

Static, like the engine: files are parsed, never imported.
"""

from __future__ import annotations

from pathlib import Path

import libcst as cst

from torch2tf.names import ImportTable


def project_of(path: Path) -> tuple[Path, str]:
    """(root folder, dotted module name) of a source file: root is above its top package."""
    path = path.resolve()
    parts = [path.stem]
    folder = path.parent
    while (folder / "__init__.py").exists():
        parts.insert(0, folder.name)
        folder = folder.parent
    return folder, ".".join(parts)


def local_imports(path: Path, root: Path) -> list[Path]:
    """``path`` and every file under ``root`` it imports, directly or not."""

    def target(module_name: str) -> Path | None:
        base = root.joinpath(*module_name.split("."))
        for candidate in (base.with_suffix(".py"), base / "__init__.py"):
            if candidate.is_file():
                return candidate.resolve()
        return None

    seen: list[Path] = []
    queue = [path.resolve()]
    while queue:
        file = queue.pop()
        if file in seen:
            continue
        seen.append(file)
        for folder in file.parents:  # the packages' own __init__ files come along
            if folder == root or not (folder / "__init__.py").is_file():
                break
            queue.append((folder / "__init__.py").resolve())
        relative = file.relative_to(root)
        package = ".".join(relative.parent.parts)
        try:
            module = cst.parse_module(file.read_text(encoding="utf-8"))
        except cst.ParserSyntaxError:
            continue  # translate_project reports it
        table = ImportTable.of(module, package)
        for full in table.aliases.values():
            parts = full.split(".")
            for end in range(len(parts), 0, -1):  # the longest prefix that is a project file
                found = target(".".join(parts[:end]))
                if found is not None:
                    queue.append(found)
                    break
    return seen
