"""Progress of a long operation (`starter/watch.py`, `starter/progress.py`): counts by
status, a rate and the time taken; a live display redrawn in place on a terminal, elsewhere a
line when the operation changes or at most every 5 s, and the last one. The clock and the polling
are fakes: nothing sleeps."""

from __future__ import annotations

import io
import re
from collections.abc import Sequence

import pytest
from temporalio.client import WorkflowExecutionStatus

from models.lifecycle import OperationKind, OperationState
from models.mcis import McisView
from models.status import TargetAction
from starter.errors import CliError
from starter.progress import BAR_WIDTH, ProgressDisplay
from starter.watch import Throughput, watch
from tests.starter.fakes import Clock, FakeHandle, S, Terminal, view

CREATE_RUNNING = (OperationKind.CREATE, OperationState.RUNNING)
CREATE_DONE = (OperationKind.CREATE, OperationState.DONE)
SUSPEND_RUNNING = (OperationKind.SUSPEND, OperationState.RUNNING)


def creating(running: int, total: int = 10_000) -> McisView:
    counts = {S.CREATING: total - running, S.RUNNING: running}
    return view(
        {s: n for s, n in counts.items() if n},
        operation=CREATE_RUNNING,
        target=TargetAction.CREATE,
        listed=False,
    )


def created(total: int = 10_000) -> McisView:
    return view({S.RUNNING: total}, phase="active", operation=CREATE_DONE, listed=False)


async def watched(
    views: Sequence[McisView | None],
    stream: io.StringIO,
    until: str = "active",
    then: WorkflowExecutionStatus = WorkflowExecutionStatus.COMPLETED,
) -> tuple[McisView, Clock]:
    clock = Clock()
    shown = ProgressDisplay(stream, clock=clock)
    handle = FakeHandle(views, then)
    last = await watch(
        handle.typed(), lambda v: v.phase == until, shown=shown, poll_s=0.5, sleep=clock.sleep
    )
    return last, clock


async def test_off_a_terminal_a_large_create_shows_a_line_every_5_s_with_its_rate() -> None:
    # 10,000 VMs, 400 more Running at each poll (every 0.5 s): 800 VMs/s
    views = [creating(400 * k) for k in range(25)] + [created()]
    out = io.StringIO()
    last, clock = await watched(views, out)
    assert out.getvalue().splitlines() == [
        "web: create running, Creating (10000/10000) [Creating 10000] 0s",
        "web: create running, Partial-Creating (6000/10000) [Creating 6000, Running 4000] "
        "800 VMs/s, 5s",
        "web: create running, Partial-Running (8000/10000) [Creating 2000, Running 8000] "
        "800 VMs/s, 10s",
        "web: create done, Running (10000/10000) [Running 10000] 12s",
    ]
    assert last.counts == {S.RUNNING: 10_000}
    assert clock.slept == [0.5] * 25  # polled every 0.5 s, never slept for real


async def test_off_a_terminal_the_last_change_is_shown_at_the_end() -> None:
    suspending = view(
        {S.SUSPENDING: 4}, phase="active", operation=SUSPEND_RUNNING, target=TargetAction.SUSPEND
    )
    suspended = view({S.SUSPENDED: 4}, phase="done", operation=SUSPEND_RUNNING)
    out = io.StringIO()
    await watched([suspending, suspended], out, until="done")
    assert out.getvalue().splitlines() == [
        "web: suspend running, Suspending (4/4) [Suspending 4] 0s",
        "web: suspend running, Suspended (4/4) [Suspended 4] 0s",
    ]


async def test_off_a_terminal_an_unchanged_status_is_not_repeated() -> None:
    stuck = creating(100, total=200)
    out = io.StringIO()
    await watched([stuck] * 30 + [created(200)], out)
    assert out.getvalue().splitlines() == [
        "web: create running, Partial-Creating (100/200) [Creating 100, Running 100] 0s",
        "web: create done, Running (200/200) [Running 200] 15s",
    ]


async def test_off_a_terminal_a_change_waits_out_the_5_s_then_shows() -> None:
    # one change 1 s in, then nothing moves: the change shows 5 s after the first line
    views = [creating(0, 8), creating(0, 8), creating(4, 8), *[creating(4, 8)] * 12, created(8)]
    out = io.StringIO()
    await watched(views, out)
    assert out.getvalue().splitlines() == [
        "web: create running, Creating (8/8) [Creating 8] 0s",
        "web: create running, Partial-Creating (4/8) [Creating 4, Running 4] 0.8 VMs/s, 5s",
        "web: create done, Running (8/8) [Running 8] 7s",
    ]


ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
CURSOR_UP = "\x1b[1A"


def seen(out: io.StringIO) -> str:
    """What a terminal was sent, without its colours and cursor moves."""
    return ANSI.sub("", out.getvalue()).replace("\r", "")


@pytest.fixture(autouse=True)
def colour_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    """A `Terminal` stream is a colour terminal, whatever the one running the tests."""
    monkeypatch.setenv("TERM", "xterm-256color")
    monkeypatch.delenv("NO_COLOR", raising=False)


async def test_on_a_terminal_a_live_display_is_redrawn_in_place_and_left_shown() -> None:
    out = Terminal()
    await watched([creating(0, 8), creating(4, 8), created(8)], out)
    sent, shown = out.getvalue(), seen(out)
    assert sent.count(CURSOR_UP) >= 2  # each update redraws the display over the last one
    bar = "━" * BAR_WIDTH
    assert "web: create running, Creating (8/8)  0s\n" in shown
    assert "web: create running, Partial-Creating (4/8)  8.0 VMs/s, 0s\n" in shown
    assert "4/8 Creating 4  Running 4" in shown  # the counts by status under a half bar
    assert shown.endswith(f"web: create done, Running (8/8)  1s\n{bar} 8/8 Running 8\n")
    assert "\x1b[32mRunning 8" in sent  # in colour: Running is green
    assert sent.startswith("\x1b[?25l") and sent.endswith("\x1b[?25h")  # the cursor is back


async def test_a_workflow_that_ends_badly_ends_the_display_before_the_error() -> None:
    out = Terminal()
    with pytest.raises(CliError, match="workflow mcis/dev/web ended FAILED"):
        await watched([creating(0, 8)], out, then=WorkflowExecutionStatus.FAILED)
    assert seen(out).endswith("0/8 Creating 8\n")
    assert out.getvalue().endswith("\x1b[?25h")


async def test_waiting_for_a_worker_is_said_once_above_the_display() -> None:
    out = Terminal()
    await watched([creating(0, 8), None, None, created(8)], out)
    shown = seen(out)
    assert shown.count("mcis/dev/web: waiting for a worker to answer\n") == 1
    assert shown.index("waiting for a worker") < shown.rindex("web: create done")
    assert shown.endswith("8/8 Running 8\n")


async def test_a_dumb_terminal_gets_plain_lines(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TERM", "dumb")  # e.g. an Emacs shell: no cursor moves
    out = Terminal()
    await watched([creating(0, 8), created(8)], out)
    assert out.getvalue().splitlines() == [
        "web: create running, Creating (8/8) [Creating 8] 0s",
        "web: create done, Running (8/8) [Running 8] 0s",
    ]


async def test_quiet_shows_no_progress(capsys: pytest.CaptureFixture[str]) -> None:
    clock = Clock()
    handle = FakeHandle([creating(0, 8), None, creating(4, 8), created(8)])
    last = await watch(handle.typed(), lambda v: v.phase == "active", True, sleep=clock.sleep)
    assert last.phase == "active"
    assert capsys.readouterr() == ("", "")


async def test_progress_goes_to_stderr(capsys: pytest.CaptureFixture[str]) -> None:
    clock = Clock()
    handle = FakeHandle([creating(0, 8), created(8)])
    await watch(handle.typed(), lambda v: v.phase == "active", sleep=clock.sleep)
    out, err = capsys.readouterr()
    assert out == ""
    assert err.splitlines()[-1].startswith("web: create done, Running (8/8) [Running 8]")


def test_the_rate_is_over_the_last_10_s() -> None:
    rate, clock = Throughput(), Clock()
    for k in range(21):  # 800 VMs/s for 10 s
        assert rate.add(clock.now + 0.5 * k, creating(400 * k)) in (None, 800.0)
    for k in range(21, 42):  # then nothing moves for 10.5 s
        per_s = rate.add(clock.now + 0.5 * k, creating(8000))
    assert per_s == 0.0
    assert rate.add(clock.now + 21.5, created()) is None  # no target: no rate
