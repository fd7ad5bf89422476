"""Where a source file sits in its project: its module name and the project files it imports.

Static, like the engine: files are parsed, never imported. A file's project is its own top-level
package (or, for a top-level module, the module and the modules beside it, unless it sits among
installed packages): imports of other distributions (torch, numpy, any installed package) are
never read as project files.
"""

from __future__ import annotations

from pathlib import Path

import libcst as cst

from torch2tf.names import ImportTable

# Never project files, wherever they sit: the frameworks themselves.
FRAMEWORKS = frozenset({"torch", "tensorflow", "keras", "numpy", "torchvision", "torchaudio"})
INSTALL_FOLDERS = ("site-packages", "dist-packages")


def project_of(path: Path) -> tuple[Path, str]:
    """(root folder, dotted module name) of a source file: root is above its top package."""
    path = path.resolve()
    parts = [path.stem]
    folder = path.parent
    while (folder / "__init__.py").exists() or _namespace_package(folder):
        parts.insert(0, folder.name)
        folder = folder.parent
    return folder, ".".join(parts)


def _namespace_package(folder: Path) -> bool:
    """A package without ``__init__.py`` (PEP 420) installed as a distribution's top package
    (pytorch-tabnet's ``pytorch_tabnet``): a folder named like a module among installed ones."""
    return (
        folder.name.isidentifier()
        and not is_install_folder(folder)
        and is_install_folder(folder.parent)
    )


def is_install_folder(folder: Path) -> bool:
    """Whether ``folder`` holds installed distributions (site-packages and the like)."""
    if folder.name in INSTALL_FOLDERS:
        return True
    try:
        return any(entry.suffix in (".dist-info", ".egg-info") for entry in folder.iterdir())
    except OSError:
        return False


def project_tops(path: Path) -> frozenset[str] | None:
    """The top-level module names that belong to ``path``'s project: its own top package, or
    for a top-level module among installed packages that module alone. None: any module beside
    a top-level module in a folder of the user's own (scripts importing their siblings)."""
    root, name = project_of(path)
    top = name.split(".")[0]
    if "." in name or is_install_folder(root):
        return frozenset({top})
    return None


def is_project_top(top: str, root: Path, tops: frozenset[str] | None) -> bool:
    """Whether top-level module ``top`` is a file of the project rooted at ``root``: a
    framework only when the file translated is its own (torchvision's models, ops/misc.py)."""
    if tops is not None:
        return top in tops
    if top in FRAMEWORKS:
        return False
    return (root / f"{top}.py").is_file() or (root / top).is_dir()


def module_file(root: Path, module_name: str, tops: frozenset[str] | None) -> Path | None:
    """The project file of a dotted module name, or None (not a module of the project)."""
    if not is_project_top(module_name.split(".")[0], root, tops):
        return None
    base = root.joinpath(*module_name.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate.resolve()
    return None


def local_imports(path: Path, root: Path, parsed: cst.Module | None = None) -> list[Path]:
    """``path`` and every file of its project it imports, directly or not (``parsed``: the
    file ``path`` parsed already, if it was)."""
    tops = project_tops(path)
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
            if parsed is not None and file == seen[0]:
                module = parsed
            else:
                module = cst.parse_module(file.read_text(encoding="utf-8"))
        except cst.ParserSyntaxError:
            continue  # translate_project reports it
        table = ImportTable.of(module, package)
        for full in [*table.aliases.values(), *table.stars]:
            parts = full.split(".")
            for end in range(len(parts), 0, -1):  # the longest prefix that is a project file
                found = module_file(root, ".".join(parts[:end]), tops)
                if found is not None:
                    queue.append(found)
                    break
    return seen
