"""The pool of kept SSH connections: expiry after idling, a cap on what it keeps, and a
connection only ever handed back for the same VM, user and key."""

from __future__ import annotations

from typing import Any, cast

from fabric import Connection

from models.remote import VmTarget
from remote.sessions import SessionKey, SessionPool


class FakeTransport:
    def __init__(self) -> None:
        self.active = True

    def is_active(self) -> bool:
        return self.active


class FakeConnection:
    """What the pool looks at in a fabric Connection: its transport, and close()."""

    def __init__(self) -> None:
        self.transport = FakeTransport()
        self.client = self
        self.closed = False

    def get_transport(self) -> FakeTransport:
        return self.transport

    def close(self) -> None:
        self.closed = True
        self.transport.active = False


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def connection() -> Any:
    return cast(Connection, FakeConnection())


def key(vm: str = "i-1", private_key: str = "k1", host: str = "10.0.0.1") -> SessionKey:
    target = VmTarget(
        vm="web-1", group="web", provider="aws", region="r", csp_id=vm, host=host, ssh_key="k"
    )
    return SessionKey.of(target, private_key)


def test_a_connection_comes_back_only_for_the_same_vm_and_key() -> None:
    pool = SessionPool()
    kept = connection()
    pool.give(key(), kept)
    assert pool.take(key(vm="i-2")) is None  # a new VM on the same address
    assert pool.take(key(private_key="k2")) is None
    assert pool.take(key(host="10.0.0.2")) is None
    assert pool.take(key()) is kept
    assert pool.take(key()) is None  # handed out: the taker owns it


def test_the_digest_of_the_private_key_does_not_contain_it() -> None:
    assert "k1" not in repr(key(private_key="k1"))


def test_a_connection_idle_too_long_is_closed_not_reused() -> None:
    clock = Clock()
    pool = SessionPool(idle_s=60, clock=clock)
    kept = connection()
    pool.give(key(), kept)
    clock.now = 61
    assert pool.take(key()) is None
    assert kept.closed


def test_a_broken_connection_is_neither_kept_nor_handed_out() -> None:
    pool = SessionPool()
    broken = connection()
    broken.transport.active = False
    pool.give(key(), broken)
    assert len(pool) == 0 and broken.closed
    later = connection()
    pool.give(key(), later)
    later.transport.active = False  # the VM went away while it idled
    assert pool.take(key()) is None and later.closed


def test_beyond_the_cap_the_oldest_connections_are_closed() -> None:
    pool = SessionPool(max_idle=2)
    first, second, third = connection(), connection(), connection()
    for i, c in enumerate((first, second, third)):
        pool.give(key(vm=f"i-{i}"), c)
    assert len(pool) == 2 and first.closed and not second.closed
    pool.close_all()
    assert len(pool) == 0 and second.closed and third.closed


def test_keeping_nothing_closes_at_once() -> None:
    pool = SessionPool(idle_s=0)
    kept = connection()
    pool.give(key(), kept)
    assert kept.closed and pool.take(key()) is None
