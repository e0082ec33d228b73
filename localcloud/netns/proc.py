"""Running host commands and keeping track of long-lived processes.

A process is known by its pid and start time (from /proc), so a recycled pid is never taken
for ours: pid files hold both. Processes we spawned are waited for through their Popen handle
(no zombies); adopted ones, started by an earlier run of the local cloud, by polling /proc.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

CLEAN_ENV = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C"}


class CommandError(RuntimeError):
    def __init__(self, argv: Sequence[str], code: int, stderr: str) -> None:
        super().__init__(f"{' '.join(argv)} exited with {code}: {stderr.strip()[-500:]}")


def run(argv: Sequence[str], stdin: str | None = None, check: bool = True) -> str:
    """Run a command to its end; its stdout. CommandError when it fails and `check`."""
    done = subprocess.run(
        list(argv), input=stdin, capture_output=True, text=True, env=CLEAN_ENV, timeout=30
    )
    if check and done.returncode != 0:
        raise CommandError(argv, done.returncode, done.stderr)
    return done.stdout


def start_time(pid: int) -> int | None:
    """When `pid` started (clock ticks after boot), None when it does not run."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[1].split()
    return None if fields[0] == "Z" else int(fields[19])


def command_line(pid: int) -> list[str]:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace").split("\0")[:-1]
    except OSError:
        return []


def all_pids() -> list[int]:
    return [int(name) for name in os.listdir("/proc") if name.isdigit()]


@dataclass(frozen=True)
class Identity:
    """A process, told from any later one with a recycled pid."""

    pid: int
    started: int

    def alive(self) -> bool:
        return start_time(self.pid) == self.started

    def save(self, path: Path) -> None:
        path.write_text(f"{self.pid} {self.started}\n")

    @classmethod
    def load(cls, path: Path) -> Identity | None:
        """The identity a pid file holds, if that process still runs."""
        try:
            pid, started = (int(part) for part in path.read_text().split())
        except (OSError, ValueError):
            return None
        found = cls(pid, started)
        return found if found.alive() else None


class Process:
    """A long-lived process of ours: spawned now (with its handle) or adopted from a pid file."""

    def __init__(self, identity: Identity, handle: subprocess.Popen[bytes] | None = None) -> None:
        self.identity = identity
        self._handle = handle

    @classmethod
    def spawn(cls, argv: Sequence[str], log: Path, cwd: Path | None = None) -> Process:
        """Start `argv` in a session of its own (it outlives us), output appended to `log`."""
        with log.open("ab") as out:
            handle = subprocess.Popen(
                list(argv),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                env=CLEAN_ENV,
                cwd=cwd,
            )
        started = start_time(handle.pid)
        return cls(Identity(handle.pid, -1 if started is None else started), handle)

    def alive(self) -> bool:
        if self._handle is not None:
            return self._handle.poll() is None  # reaps it once it exited
        return self.identity.alive()

    def kill(self, timeout: float = 5.0) -> None:
        """SIGKILL and wait until it is gone."""
        if self.alive():
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.identity.pid, signal.SIGKILL)
        if self._handle is not None:
            self._handle.wait(timeout)
            return
        deadline = time.monotonic() + timeout
        while self.identity.alive() and time.monotonic() < deadline:
            time.sleep(0.005)
