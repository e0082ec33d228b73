"""Detached background processes on POSIX: spawn one in its own session with its output in a log
file, tell whether a pid still runs (reaping it if it is our exited child), recognise it by its
command line, stop its process group, check that a TCP port is free, read a log's last lines.

Nothing here knows about mcis; `starter.stack` describes the components and drives these.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime
from pathlib import Path

POLL_INTERVAL = 0.05


def spawn_detached(
    argv: Sequence[str], log_file: Path, env: Mapping[str, str], cwd: Path
) -> tuple[int, int]:
    """Start `argv` in a new session (it outlives us and gets no terminal signals), stdin from
    /dev/null, stdout and stderr appended to `log_file` after a header line. Returns the pid and
    the log offset where this run's output starts. FileNotFoundError if the program is missing.
    """
    log_file.parent.mkdir(parents=True, exist_ok=True)
    with log_file.open("ab") as log:
        log.write(f"--- {datetime.now().isoformat(timespec='seconds')} {' '.join(argv)}\n".encode())
        log.flush()
        offset = log.tell()
        proc = subprocess.Popen(
            list(argv),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=dict(env),
            cwd=cwd,
            start_new_session=True,
        )
    return proc.pid, offset


def is_running(pid: int) -> bool:
    """Whether `pid` is a live process. An exited child of ours is reaped (so it is not mistaken
    for a live zombie)."""
    with contextlib.suppress(ChildProcessError):
        if os.waitpid(pid, os.WNOHANG)[0] == pid:
            return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # alive, owned by another user
    return True


def command_line(pid: int) -> list[str] | None:
    """The argv of `pid` from /proc, or None where that is not available."""
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return None
    return raw.decode(errors="replace").split("\0")[:-1]


def runs_command(pid: int, signature: Sequence[str]) -> bool:
    """Whether `pid` runs and its command line holds `signature` (consecutive arguments), so a
    recycled pid of an unrelated process is not taken for ours. Without /proc, running is enough.
    """
    if not is_running(pid):
        return False
    argv = command_line(pid)
    if argv is None:
        return True
    width = len(signature)
    return any(argv[i : i + width] == list(signature) for i in range(len(argv) - width + 1))


def send_signal(pid: int, sig: int) -> None:
    """Signal the process group that `pid` leads (it was spawned in a session of its own), or
    `pid` alone if it leads none. A process that is already gone is not an error."""
    with contextlib.suppress(ProcessLookupError):
        if os.getpgid(pid) == pid:
            os.killpg(pid, sig)
        else:
            os.kill(pid, sig)


def wait_gone(pid: int, timeout: float) -> bool:
    """Wait up to `timeout` seconds for `pid` to exit; whether it did."""
    deadline = time.monotonic() + timeout
    while is_running(pid):
        if time.monotonic() >= deadline:
            return False
        time.sleep(POLL_INTERVAL)
    return True


def terminate(pid: int, grace: float) -> None:
    """SIGTERM, up to `grace` seconds to exit, then SIGKILL; returns once the process is gone."""
    send_signal(pid, signal.SIGTERM)
    if not wait_gone(pid, grace):
        send_signal(pid, signal.SIGKILL)
        wait_gone(pid, grace)


def port_in_use(host: str, port: int) -> bool:
    """Whether something already listens on (host, port): binding it fails with EADDRINUSE."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                return True
            raise
    return False


def read_pid(pid_file: Path) -> int | None:
    """The pid a pid file holds, or None if it is missing or unreadable."""
    try:
        return int(pid_file.read_text().strip())
    except (OSError, ValueError):
        return None


def log_tail(log_file: Path, since: int = 0, lines: int = 8, width: int = 400) -> list[str]:
    """The last `lines` non-empty lines of `log_file` written after offset `since`, each cut to
    `width` characters; empty if the file is missing."""
    try:
        with log_file.open("rb") as log:
            size = log.seek(0, os.SEEK_END)
            log.seek(max(since, size - 64 * 1024))
            text = log.read().decode(errors="replace")
    except OSError:
        return []
    kept = [line for line in text.splitlines() if line.strip()][-lines:]
    return [line if len(line) <= width else line[: width - 1] + "…" for line in kept]


@contextlib.contextmanager
def exclusive_lock(lock_file: Path) -> Iterator[None]:
    """Hold an exclusive advisory lock on `lock_file` (created if needed) for the block, so two
    `mcis` commands do not start or stop the same processes at once."""
    lock_file.parent.mkdir(parents=True, exist_ok=True)
    with lock_file.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nothing listens on right now (the OS picks it)."""
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])
