"""How the CLI reports bad input: one line on stderr starting `mcis: `, exit code 2, before
anything is loaded or started, whatever characters the user typed."""

from __future__ import annotations

import pytest

from starter.cli import execute
from starter.errors import one_line

LINE_BREAKS = ["\n", "\r", "\x0b", "\x0c", "\x1c", "\x1d", "\x1e", "\x85", "\u2028", "\u2029"]


@pytest.mark.parametrize("brk", LINE_BREAKS, ids=repr)
def test_one_line_escapes_every_line_break(brk: str) -> None:
    shown = one_line(f"bad name a{brk}b")
    assert shown.splitlines() == [shown]
    assert shown == f"bad name a{brk.encode('unicode_escape').decode()}b"


def test_one_line_keeps_printable_text() -> None:
    assert one_line("이름 'web-1' ist ungültig: 2..4") == "이름 'web-1' ist ungültig: 2..4"


def stderr_of(capsys: pytest.CaptureFixture[str], argv: list[str]) -> tuple[int, list[str]]:
    capsys.readouterr()
    code = execute(argv)
    return code, capsys.readouterr().err.splitlines()


@pytest.mark.parametrize("brk", LINE_BREAKS, ids=repr)
def test_a_line_break_in_a_name_does_not_split_the_error(
    brk: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, lines = stderr_of(capsys, ["cmd", f"ns{brk}x", "web", "--", "ls"])
    assert code == 2
    assert len(lines) == 1 and lines[0].startswith("mcis: namespace 'ns\\")


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["recommend", "--vcpus", "x\x85y"], "argument --vcpus: 'x\\x85y': expected MIN..MAX"),
        (["catalog", "specs", "--memory", "16..4"], "the minimum exceeds the maximum"),
        (["recommend", "--price", "..inf"], "bounds must be finite numbers"),
    ],
)
def test_a_bad_range_is_rejected_while_parsing(
    argv: list[str], says: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # nothing listens here: a range checked only after loading the catalog would fail to connect
    monkeypatch.setenv("MCIS_LOCALCLOUD_URL", "http://127.0.0.1:9")
    code, lines = stderr_of(capsys, argv)
    assert code == 2
    assert len(lines) == 1 and says in lines[0], lines
