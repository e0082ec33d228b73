"""What a person and a script see of the `mcis` CLI on the real stack: off a terminal (pipes, CI)
the progress of a create is plain lines on stderr and the status a table of plain columns on
stdout, with no colour or cursor code anywhere; on a terminal (a pseudo-terminal here) the
progress is a live display redrawn in place and the table is drawn by rich."""

from __future__ import annotations

import fcntl
import os
import pty
import re
import struct
import subprocess
import sys
import termios
from collections.abc import Iterator

import pytest

from tests.e2e.conftest import E2E
from tests.e2e.test_create_delete import groups_for

pytestmark = pytest.mark.e2e

NS, MCIS = "cli", "web"
ESCAPE = "\x1b"
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
PROGRESS = re.compile(r"^web: [\w ]+, [\w-]+ \(\d+/4\)( \[[\w ,]+\])?( [\d.]+ VMs/s,)? \d+s$")
STATUS_HEADERS = ["VM", "GROUP", "STATUS", "NATIVE", "CLOUD", "REGION", "IP", "ERROR"]


@pytest.fixture(scope="module")
def created(e2e: E2E) -> Iterator[subprocess.CompletedProcess[str]]:
    """`mcis create` of 4 VMs, output captured (not a terminal); deleted at the end, leaving the
    shared stack as it was for the other tests."""
    e2e.ok("ns", "create", NS)
    done = e2e.run("create", NS, MCIS, *groups_for(e2e, {"aws": 4}), timeout=300)
    assert done.returncode == 0, done.stderr
    try:
        yield done
    finally:
        e2e.ok("delete", NS, MCIS, timeout=300)
        e2e.ok("ns", "delete", NS)


def test_off_a_terminal_progress_is_plain_lines(created: subprocess.CompletedProcess[str]) -> None:
    lines = created.stderr.splitlines()
    assert lines[0].startswith(f"creating MCIS {NS}/{MCIS}: 4 VMs, workflow mcis/{NS}/{MCIS}")
    progress = [line for line in lines if line.startswith(f"{MCIS}: ")]
    assert progress and all(PROGRESS.match(line) for line in progress), progress
    assert progress[-1].startswith("web: active, Running (4/4) [Running 4] ")
    assert ESCAPE not in created.stderr + created.stdout


def test_off_a_terminal_the_status_is_plain_columns(
    e2e: E2E, created: subprocess.CompletedProcess[str]
) -> None:
    out = e2e.ok("status", NS, MCIS)
    assert ESCAPE not in out and "─" not in out
    header = next(line for line in out.splitlines() if line.startswith("VM "))
    assert header.split() == STATUS_HEADERS
    rows = out.splitlines()[out.splitlines().index(header) + 1 :]
    assert [row.split()[2] for row in rows] == ["Running"] * 4
    assert [row.split()[0] for row in rows] == [f"g1-{i}" for i in range(1, 5)]


def on_a_terminal(e2e: E2E, *args: str) -> tuple[int, str]:
    """Run `mcis ARGS` with a 160x40 pseudo-terminal as stdout and stderr: exit code, output."""
    main, child = pty.openpty()
    fcntl.ioctl(child, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 160, 0, 0))
    env = {**e2e.env, "TERM": "xterm-256color"}
    env.pop("NO_COLOR", None)
    process = subprocess.Popen(
        [sys.executable, "-m", "starter", *args], env=env, stdout=child, stderr=child
    )
    os.close(child)
    sent = b""
    while True:
        try:
            chunk = os.read(main, 65536)
        except OSError:  # EIO: the child closed the terminal
            break
        if not chunk:
            break
        sent += chunk
    os.close(main)
    return process.wait(timeout=300), sent.decode(errors="replace")


def test_on_a_terminal_progress_is_live_and_the_table_rich(
    e2e: E2E, created: subprocess.CompletedProcess[str]
) -> None:
    code, sent = on_a_terminal(e2e, "suspend", NS, MCIS)
    assert code == 0, sent
    shown = ANSI.sub("", sent).replace("\r", "")
    assert "\x1b[1A" in sent  # the display is redrawn over itself, not a line per poll
    assert "web: suspend running, Suspending (4/4)  " in shown
    assert re.search(r"web: active, Suspended \(4/4\)  \d+s\n━+ 4/4 Suspended 4\n", shown)
    assert "\x1b[34mSuspended 4" in sent  # the counts by status, in colour
    lines = shown.splitlines()
    table = lines[next(i for i, line in enumerate(lines) if line.startswith("VM ")) :]
    assert table[0].split() == STATUS_HEADERS
    assert set(table[1].strip()) <= {"─", " "}  # rich's rule under the headers
    assert [row.split()[2] for row in table[2:6]] == ["Suspended"] * 4
