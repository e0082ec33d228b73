"""SSH connections kept open between commands, as OpenSSH's ControlPersist does: a VM reached
again within `idle_s` reuses its authenticated connection instead of a new handshake (the
handshake is most of the CPU an SSH command costs, on both ends). Keyed by address, user, the
VM's identity (provider/csp id: a new VM on a reused IP never meets an old connection) and a
digest of the private key; connections idle too long, or beyond `max_idle`, are closed."""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from fabric import Connection

from models.remote import VmTarget

IDLE_S = 60.0
MAX_IDLE = 256  # each open connection holds a paramiko thread here and an sshd at the VM


@dataclass(frozen=True)
class SessionKey:
    host: str
    port: int
    user: str
    vm_identity: str
    key_digest: str

    @classmethod
    def of(cls, target: VmTarget, private_key: str) -> SessionKey:
        digest = hashlib.sha256(private_key.encode()).hexdigest()
        return cls(target.host, target.port, target.user, target.host_key_ref, digest)


def is_open(connection: Connection) -> bool:
    transport = connection.client.get_transport()
    return transport is not None and bool(transport.is_active())


class SessionPool:
    """Idle connections by key, most recently used last; thread-safe."""

    def __init__(
        self,
        idle_s: float = IDLE_S,
        max_idle: int = MAX_IDLE,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.idle_s = idle_s
        self.max_idle = max_idle
        self._clock = clock
        self._lock = threading.Lock()
        self._idle: list[tuple[float, SessionKey, Connection]] = []

    def take(self, key: SessionKey) -> Connection | None:
        """An idle open connection for `key` (the caller owns it now), or None."""
        with self._lock:
            stale = self._expire()
            found = None
            for i in range(len(self._idle) - 1, -1, -1):
                if self._idle[i][1] == key:
                    found = self._idle.pop(i)[2]
                    break
        for connection in stale:
            connection.close()
        if found is not None and not is_open(found):
            found.close()
            return None
        return found

    def give(self, key: SessionKey, connection: Connection) -> None:
        """Keep `connection` for the next command on the same VM (closed if it broke)."""
        if self.idle_s <= 0 or not is_open(connection):
            connection.close()
            return
        with self._lock:
            self._idle.append((self._clock(), key, connection))
            stale = self._expire()
            excess = len(self._idle) - self.max_idle
            if excess > 0:
                stale += [c for _, _, c in self._idle[:excess]]
                del self._idle[:excess]
        for old in stale:
            old.close()

    def close_all(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
        for _, _, connection in idle:
            connection.close()

    def __len__(self) -> int:
        return len(self._idle)

    def _expire(self) -> list[Connection]:
        """Drop (and return, to be closed outside the lock) connections idle too long."""
        cutoff = self._clock() - self.idle_s
        expired = [c for at, _, c in self._idle if at <= cutoff]
        if expired:
            self._idle = [entry for entry in self._idle if entry[0] > cutoff]
        return expired
