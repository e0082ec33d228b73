"""Showing the progress of a long operation on stderr: what goes on, the counts by status, how
many VMs per second reach the target and the time taken.

On a terminal, a live display (rich) redrawn at every `update`: the title, a bar of the VMs at
the target status, the rate and the time taken, and the counts by status in colour. Elsewhere
(CI, pipes, tests) plain lines that scripts parse, one line per change
(`web: create running, Partial-Running (4200/10000) [Creating 5800, Running 4200] 812 VMs/s,
12s`): a line when the `key` (the operation or phase) changes, else when the text changed and
`every_s` passed since the last line, and at `close` the last text if it was not written. The
rate and the time taken are shown but are not a change."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TextIO

from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.progress_bar import ProgressBar
from rich.table import Table
from rich.text import Text

from models.status import VmStatus
from starter.output import STATUS_STYLES

PROGRESS_EVERY_S = 5.0
"""Off a terminal, a changing progress line is written at most this often."""
BAR_WIDTH = 24


@dataclass(frozen=True)
class Snapshot:
    """One look at a long operation."""

    key: str  # what goes on (the operation and its state, else the phase): a new one shows
    title: str  # `web: create running, Partial-Running (4200/10000)`
    counts: Mapping[VmStatus, int]  # VMs by status
    reached: int | None  # VMs at the target status (or Failed); None: no target
    total: int
    per_s: float | None  # VMs per second reaching the target; None: not known
    elapsed_s: float

    @property
    def text(self) -> str:
        """The title with the counts: what changes."""
        counts = counts_text(self.counts)
        return f"{self.title} [{counts}]" if counts else self.title

    @property
    def pace(self) -> str:
        """`812 VMs/s, 12s`: the rate (when known) and the time taken."""
        rate = f"{_rate(self.per_s)} VMs/s, " if self.per_s is not None else ""
        return rate + _duration(self.elapsed_s)

    @property
    def line(self) -> str:
        return f"{self.text} {self.pace}"


def counts_text(counts: Mapping[VmStatus, int]) -> str:
    """`Creating 5800, Running 4200`."""
    return ", ".join(f"{status} {n}" for status, n in counts.items())


def _rate(per_s: float) -> str:
    return f"{per_s:.0f}" if per_s >= 10 or per_s == 0 else f"{per_s:.1f}"


def _duration(seconds: float) -> str:
    whole = int(seconds)
    return f"{whole}s" if whole < 60 else f"{whole // 60}m{whole % 60:02d}s"


class ProgressDisplay:
    """The progress of one long operation on `stream` (stderr by default): live on a terminal,
    plain lines elsewhere. `clock` tells the time taken since it was made."""

    def __init__(
        self,
        stream: TextIO | None = None,
        *,
        tty: bool | None = None,
        every_s: float = PROGRESS_EVERY_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.stream = stream if stream is not None else sys.stderr
        if tty is None:  # a dumb terminal cannot move its cursor up: plain lines there
            tty = self.stream.isatty() and os.environ.get("TERM") != "dumb"
        self.tty = tty
        self.every_s = every_s
        self.clock = clock
        self.started = clock()
        self._live: Live | None = None  # on a terminal, from the first update
        self._key: str | None = None  # off a terminal: the key and text last written, when
        self._text: str | None = None
        self._at = 0.0
        self._pending: str | None = None  # the line not written yet

    def update(self, shot: Snapshot) -> None:
        if self.tty:
            self._show(shot)
            return
        now = self.clock()
        changed = shot.text != self._text
        if shot.key != self._key or (changed and now - self._at >= self.every_s):
            self._write(shot.line)
            self._key, self._text, self._at, self._pending = shot.key, shot.text, now, None
        elif changed:
            self._pending = shot.line

    def note(self, message: str) -> None:
        """A message on a line of its own, above the live display on a terminal."""
        if self._live is not None:
            self._live.console.print(Text(message))
        else:
            self._write(message)

    def close(self) -> None:
        """End the progress: the last of it stays shown."""
        if self._live is not None:
            self._live.stop()
            self._live = None
        elif self._pending is not None:
            self._write(self._pending)
            self._pending = None

    def _show(self, shot: Snapshot) -> None:
        if self._live is None:
            console = Console(file=self.stream, force_terminal=True, highlight=False)
            self._live = Live(
                console=console, auto_refresh=False, redirect_stdout=False, redirect_stderr=False
            )
            self._live.start()
        self._live.update(_render(shot), refresh=True)

    def _write(self, line: str) -> None:
        self.stream.write(line + "\n")
        self.stream.flush()


def _render(shot: Snapshot) -> RenderableType:
    """The title and the pace; under them a bar of the VMs at the target and the counts."""
    done = shot.total if shot.reached is None else shot.reached
    counts = Text("  ").join(
        Text(f"{status} {n}", style=STATUS_STYLES.get(status, ""))
        for status, n in shot.counts.items()
    )
    bar = Table.grid(padding=(0, 1))
    bar.add_row(
        ProgressBar(
            total=max(shot.total, 1),
            completed=done,
            width=BAR_WIDTH,
            complete_style="cyan",
            finished_style="green",
        ),
        Text(f"{done}/{shot.total}"),
        counts,
    )
    return Group(Text.assemble((shot.title, "bold"), "  ", shot.pace), bar)
