"""Printing results: JSON for scripts (`--json`), aligned tables for people, progress on stderr."""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any, TextIO

from pydantic import BaseModel


def to_jsonable(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    if isinstance(value, list | tuple):
        return [to_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {k: to_jsonable(v) for k, v in value.items()}
    return value


def print_json(value: Any) -> None:
    sys.stdout.write(json.dumps(to_jsonable(value), indent=2, sort_keys=False) + "\n")


def print_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    cells = [[str(h) for h in headers]] + [["" if c is None else str(c) for c in r] for r in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    for row in cells:
        sys.stdout.write("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())
        sys.stdout.write("\n")


def progress(message: str) -> None:
    sys.stderr.write(message + "\n")
    sys.stderr.flush()


PROGRESS_EVERY_S = 5.0
"""Off a terminal, a changing progress line is written at most this often."""

_CLEAR_LINE = "\r\x1b[K"


class ProgressLine:
    """The progress of one long operation on stderr, without a line per poll.

    On a terminal, one line rewritten in place at every `update`, ended with a newline by
    `close`. Elsewhere (CI, pipes, tests): a line when `key` (the operation or phase) changes,
    else when its `text` changed and `every_s` passed since the last line, and at `close` the
    last text if it was not written. `extra` (a rate, the time taken) is shown with the text but
    is not a change."""

    def __init__(
        self,
        stream: TextIO | None = None,
        *,
        tty: bool | None = None,
        every_s: float = PROGRESS_EVERY_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._stream = stream
        self._tty = tty
        self.every_s = every_s
        self.clock = clock
        self._key: str | None = None
        self._text: str | None = None  # the text last written
        self._at = 0.0  # when it was written
        self._pending: str | None = None  # the line not written yet (off a terminal)
        self._open = False  # on a terminal: a line is shown without its newline

    @property
    def stream(self) -> TextIO:
        return self._stream if self._stream is not None else sys.stderr

    @property
    def tty(self) -> bool:
        if self._tty is None:
            self._tty = self.stream.isatty()
        return self._tty

    def update(self, key: str, text: str, extra: str = "") -> None:
        line = f"{text} {extra}" if extra else text
        if self.tty:
            self._write(_CLEAR_LINE + _fit(line, self.stream), end="")
            self._open = True
            return
        now = self.clock()
        changed = text != self._text
        if key != self._key or (changed and now - self._at >= self.every_s):
            self._write(line)
            self._key, self._text, self._at, self._pending = key, text, now, None
        elif changed:
            self._pending = line

    def note(self, message: str) -> None:
        """A message of its own line (the in-place line comes back at the next `update`)."""
        self._write((_CLEAR_LINE if self._open else "") + message)
        self._open = False

    def close(self) -> None:
        """End the progress: the last line stays shown."""
        if self._open:
            self._write("")
            self._open = False
        elif self._pending is not None:
            self._write(self._pending)
            self._pending = None

    def _write(self, text: str, end: str = "\n") -> None:
        self.stream.write(text + end)
        self.stream.flush()


def _fit(line: str, stream: TextIO) -> str:
    """`line` cut to the terminal's width (a wrapped line is not rewritten in place)."""
    try:
        width = os.get_terminal_size(stream.fileno()).columns
    except (OSError, ValueError):
        return line
    return line if len(line) < width else line[: max(width - 4, 1)] + "..."
