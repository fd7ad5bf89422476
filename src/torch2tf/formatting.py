"""Generated code's trailing comments kept readable by the formatter.

A statement too long for one line with its trailing comment is wrapped by the formatter, and the
comment is left on the closing bracket::

    x = torch_flatten(
        x, 1
    )  # rows of fc are permuted at conversion

Such a comment is moved onto its own line above the statement, which is formatted again (and
then fits on one line where it can).
"""

from __future__ import annotations

import io
import re
import tokenize
from collections.abc import Callable

CLOSING = (")", "]", "}")
_CLOSING_WITH_COMMENT = re.compile(r"^[ \t]*[)\]}][^\n]*#", re.MULTILINE)


def hoist_wrapped_comments(code: str, format_code: Callable[[str], str]) -> str:
    """``code`` (formatted) with every comment trailing a wrapped statement's closing bracket
    moved above the statement, formatted again with ``format_code``; unchanged if none."""
    if not _CLOSING_WITH_COMMENT.search(code):  # no line could hold one: skip tokenizing
        return code
    lines = code.splitlines(keepends=True)
    moves: list[tuple[int, int, int]] = []  # (statement's first row, comment row, column)
    start: int | None = None
    previous: tokenize.TokenInfo | None = None
    try:
        for token in tokenize.generate_tokens(io.StringIO(code).readline):
            if start is None and token.type not in _NOT_CODE:
                start = token.start[0]
            if (
                token.type == tokenize.COMMENT
                and start is not None
                and token.start[0] > start
                and previous is not None
                and previous.end[0] == token.start[0]
                and lines[token.start[0] - 1].lstrip().startswith(CLOSING)
            ):
                moves.append((start, token.start[0], token.start[1]))
            if token.type in (tokenize.NEWLINE, tokenize.ENDMARKER):
                start = None
            if token.type not in (tokenize.NL, tokenize.COMMENT):
                previous = token
    except (tokenize.TokenError, SyntaxError):  # not ours to judge: left to the formatter
        return code
    if not moves:
        return code
    for first, row, column in reversed(moves):  # bottom-up: the rows above stay valid
        comment = lines[row - 1][column:].rstrip("\n")
        lines[row - 1] = lines[row - 1][:column].rstrip() + "\n"
        indent = lines[first - 1][: len(lines[first - 1]) - len(lines[first - 1].lstrip())]
        lines.insert(first - 1, f"{indent}{comment}\n")
    return format_code("".join(lines))


_NOT_CODE = (
    tokenize.NL,
    tokenize.NEWLINE,
    tokenize.COMMENT,
    tokenize.INDENT,
    tokenize.DEDENT,
    tokenize.ENCODING,
    tokenize.ENDMARKER,
)
