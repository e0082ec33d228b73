"""One command on one open SSH channel, read to its end by the calling thread alone: stdin sent
and closed, stdout and stderr drained as they come (poll on the channel, no helper threads
and no polling sleeps, unlike invoke's runner, whose three threads and 10 ms polls per command
cost more than the command itself when fifty run at once), and the exit status, all within one
deadline. Output beyond what is kept is counted, not stored."""

from __future__ import annotations

import select
import time
from dataclasses import dataclass, field

import paramiko

CHUNK = 65_536


class CommandTimeout(Exception):
    """The command did not end (output closed and exit status sent) before its deadline."""


@dataclass
class Stream:
    """Up to `keep` bytes of one output stream, and how many more came."""

    keep: int
    data: bytearray = field(default_factory=bytearray)
    dropped: int = 0

    def add(self, chunk: bytes) -> None:
        room = max(self.keep - len(self.data), 0)
        self.data += chunk[:room]
        self.dropped += max(len(chunk) - room, 0)

    def text(self) -> str:
        return self.data.decode("utf-8", "replace")

    @property
    def size(self) -> int:
        """Bytes the stream gave, kept or not."""
        return len(self.data) + self.dropped


@dataclass(frozen=True)
class Finished:
    exit_code: int  # -1: the session closed without an exit status (e.g. killed by a signal)
    stdout: Stream
    stderr: Stream


def execute(
    channel: paramiko.Channel,
    command: str,
    stdin: bytes | None,
    timeout_s: float,
    keep_bytes: int,
) -> Finished:
    """Run `command` on `channel` (open, unused; closed on return) with `stdin` as its input
    (none: closed at once); CommandTimeout after `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    out, err = Stream(keep_bytes), Stream(keep_bytes)
    try:
        channel.settimeout(timeout_s)
        channel.exec_command(command)
        if stdin:
            channel.sendall(stdin)
        channel.shutdown_write()
        ready = select.poll()  # not select.select: a busy worker's descriptors pass 1024
        ready.register(channel.fileno(), select.POLLIN)
        while not channel.eof_received:
            if channel.recv_ready():
                out.add(channel.recv(CHUNK))
            elif channel.recv_stderr_ready():
                err.add(channel.recv_stderr(CHUNK))
            else:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise CommandTimeout
                ready.poll(remaining * 1000)
        # after EOF reads do not block: they empty the buffers, then give b""
        while chunk := channel.recv(CHUNK):
            out.add(chunk)
        while chunk := channel.recv_stderr(CHUNK):
            err.add(chunk)
        if not channel.status_event.wait(max(deadline - time.monotonic(), 0)):
            raise CommandTimeout
        return Finished(channel.recv_exit_status(), out, err)
    except TimeoutError:  # a send or read on the channel ran into its timeout
        raise CommandTimeout from None
    finally:
        channel.close()
