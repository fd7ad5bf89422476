"""The errors torch2tf reports to its users: diagnostics of the input, and usage errors.

Kept apart from the modules that raise them, so that the engine, the command line and the
passes can all import them without importing each other.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Diagnostic:
    """One problem in the input, with its 1-based line and column."""

    path: str
    line: int
    column: int
    message: str
    hint: str = ""

    def __str__(self) -> str:
        hint = f" (hint: {self.hint})" if self.hint else ""
        return f"{self.path}:{self.line}:{self.column}: error: {self.message}{hint}"


class TranslationError(Exception):
    """The input cannot be translated exactly; ``diagnostics`` lists every reason at once."""

    def __init__(self, diagnostics: list[Diagnostic]) -> None:
        self.diagnostics = sorted(set(diagnostics), key=lambda d: (d.path, d.line, d.column))
        super().__init__("\n".join(str(d) for d in self.diagnostics))


class UsageError(Exception):
    """Bad command-line input; reported as one line with exit code 2."""


class ConversionError(Exception):
    """The model cannot be converted; the message says why."""
