"""How the CLI prints tables: plain columns aligned with spaces when stdout is not a terminal
(scripts and tests parse them: no colour, no box lines), a rich table on a terminal, and plain
columns again on a terminal for a table too long for rich to lay out quickly. VM statuses are in
colour on a terminal."""

from __future__ import annotations

import io
import re
from collections.abc import Sequence

import pytest

from starter.output import RICH_ROWS, STATUS_STYLES, print_table

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
HEADERS = ["NAME", "STATUS", "IP"]
ROWS = [("web-1", "Running", "10.0.0.1"), ("web-10", "Failed", None), ("db-1", "[bold]x", "-")]


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def printed(
    monkeypatch: pytest.MonkeyPatch, out: io.StringIO, rows: Sequence[Sequence[str | None]]
) -> str:
    monkeypatch.setattr("sys.stdout", out)
    print_table(HEADERS, rows, STATUS_STYLES)
    return out.getvalue()


def test_off_a_terminal_a_table_is_plain_aligned_columns(monkeypatch: pytest.MonkeyPatch) -> None:
    assert printed(monkeypatch, io.StringIO(), ROWS).splitlines() == [
        "NAME    STATUS   IP",
        "web-1   Running  10.0.0.1",
        "web-10  Failed",
        "db-1    [bold]x  -",
    ]


def test_on_a_terminal_a_table_is_drawn_by_rich(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TERM", "xterm-256color")
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.setenv("COLUMNS", "100")
    sent = printed(monkeypatch, Terminal(), ROWS)
    lines = [line.rstrip() for line in ANSI.sub("", sent).splitlines()]
    assert "\x1b[1m" in sent  # bold headers
    assert "\x1b[32mRunning" in sent and "\x1b[1;31mFailed" in sent  # statuses in colour
    assert [line.split() for line in lines if line.strip() and "─" not in line] == [
        ["NAME", "STATUS", "IP"],
        ["web-1", "Running", "10.0.0.1"],
        ["web-10", "Failed"],
        ["db-1", "[bold]x", "-"],  # cells are text, never markup
    ]
    assert any(set(line.strip()) <= {"─", " "} for line in lines if line.strip())  # a rule


def test_on_a_terminal_a_long_table_is_plain(monkeypatch: pytest.MonkeyPatch) -> None:
    rows = [(f"web-{i}", "Running", "10.0.0.1") for i in range(RICH_ROWS + 1)]
    lines = printed(monkeypatch, Terminal(), rows).splitlines()
    assert lines[0] == "NAME      STATUS   IP"
    assert len(lines) == RICH_ROWS + 2 and "\x1b" not in "".join(lines)
