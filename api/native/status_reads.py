"""Reading an MCIS's status for the API, one query for many readers.

Each read of a live MCIS is a describe (is its workflow running?) and a status query, which a
worker answers. `StatusReads` coalesces the reads of one MCIS: a read that arrives while
another is in flight waits for it to end, then shares the next one with every read that
arrived meanwhile. Every answer was therefore read after its request arrived (a client that
got a 202 sees its operation), while 200 clients polling one MCIS, or 200 event streams of it,
cost one query per round trip instead of 200."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from fastapi import Request

from models.mcis import McisView
from starter.context import Context
from starter.errors import FAILED, CliError
from starter.views import checked_name, mcis_handle, running_handle
from starter.watch import query_status

Key = tuple[str, str]
Reader = Callable[[str, str], Awaitable[McisView | None]]


@dataclass
class _Slot:
    waiters: list[asyncio.Future[McisView | None]] = field(default_factory=list)
    driver: asyncio.Task[None] | None = None


class StatusReads:
    """Coalesced status reads, by (namespace, MCIS name)."""

    def __init__(self, reader: Reader) -> None:
        self._reader = reader
        self._slots: dict[Key, _Slot] = {}

    async def read(self, namespace: str, name: str) -> McisView | None:
        """The status (None: no worker answered); CliError when the MCIS does not run."""
        key = (namespace, name)
        slot = self._slots.setdefault(key, _Slot())
        waiter: asyncio.Future[McisView | None] = asyncio.get_running_loop().create_future()
        slot.waiters.append(waiter)
        if slot.driver is None:
            slot.driver = asyncio.create_task(self._drive(key, slot))
        return await waiter

    async def current(self, namespace: str, name: str) -> McisView:
        """The status, or a clear error when no worker answers."""
        view = await self.read(namespace, name)
        if view is None:
            raise CliError(f"no worker answered for MCIS {name!r}: is the stack up?", FAILED)
        return view

    async def _drive(self, key: Key, slot: _Slot) -> None:
        """Read for the waiters that came before each read, until none waits."""
        try:
            while slot.waiters:
                batch, slot.waiters = slot.waiters, []
                try:
                    view = await self._reader(*key)
                except Exception as exc:  # each waiter raises it (not found, unreachable)
                    for waiter in batch:
                        if not waiter.done():
                            waiter.set_exception(exc)
                    continue
                for waiter in batch:
                    if not waiter.done():  # a waiter whose client left is cancelled
                        waiter.set_result(view)
        finally:
            slot.driver = None
            if not slot.waiters:
                self._slots.pop(key, None)


def workflow_reader(ctx: Context) -> Reader:
    """A live MCIS's status as its workflow answers it (the VMs of a large one not listed):
    the status query is sent along with the check that the workflow runs, not after it."""

    async def read(namespace: str, name: str) -> McisView | None:
        checked_name(namespace, "namespace")
        checked_name(name, "MCIS name")
        client = await ctx.client()
        handle = mcis_handle(client, namespace, name)
        query = asyncio.ensure_future(query_status(handle))
        try:
            await running_handle(ctx, namespace, name)
        except BaseException:
            query.cancel()
            raise
        return await query

    return read


async def status_reads(request: Request) -> StatusReads:
    """The app's StatusReads (a route dependency; async: no thread pool hop)."""
    reads: StatusReads = request.app.state.status_reads
    return reads
