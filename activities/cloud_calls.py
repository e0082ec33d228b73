"""How activities call clouds and the store: a cloud call heartbeats while it runs (however
long the cloud takes, a live attempt is never timed out and retried next to itself), throttling
waits in place (it never fails an action), other errors become Temporal ApplicationErrors that
say whether a retry can help."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from contextvars import ContextVar
from datetime import timedelta
from typing import TypeVar

from temporalio import activity
from temporalio.exceptions import ApplicationError

from drivers.errors import CloudError, ThrottledError
from store.errors import StoreError

T = TypeVar("T")

THROTTLE_BUDGET_S = 120.0
"""How long one activity waits out HTTP 429 answers before giving the retry back to Temporal."""

HEARTBEAT_EVERY_S = 2.0
"""How often an activity heartbeats while it waits on a cloud (cloud activities' heartbeat
timeouts are 5 s and more)."""

WAITING = "waiting on the cloud"
_heartbeating: ContextVar[bool] = ContextVar("mcis_heartbeating", default=False)


def application_error(exc: CloudError | StoreError) -> ApplicationError:
    if isinstance(exc, CloudError):
        delay = timedelta(seconds=exc.retry_after) if isinstance(exc, ThrottledError) else None
        return ApplicationError(
            f"{exc.code}: {exc.message}",
            type=exc.code,
            non_retryable=not exc.retryable,
            next_retry_delay=delay,
        )
    return ApplicationError(str(exc), type=type(exc).__name__, non_retryable=True)


@asynccontextmanager
async def heartbeating() -> AsyncIterator[None]:
    """Heartbeat as the body starts, then every HEARTBEAT_EVERY_S while it runs, from a task of
    its own, so an attempt that is alive is never timed out by its heartbeat timeout however
    long one call or many short ones take (one whose worker died still is: the task dies with
    it). Outside an activity, or within another `heartbeating` of the same activity (tasks it
    starts included), it adds nothing. (The SDK sends heartbeats at most every 80 % of the
    heartbeat timeout, so beating often costs nothing.)"""
    if not activity.in_activity() or _heartbeating.get():
        yield
        return

    async def beat() -> None:
        while True:
            await asyncio.sleep(HEARTBEAT_EVERY_S)
            activity.heartbeat(WAITING)

    activity.heartbeat(WAITING)
    token = _heartbeating.set(True)
    ticker = asyncio.create_task(beat())
    try:
        yield
    finally:
        ticker.cancel()
        _heartbeating.reset(token)


async def cloud_call(
    call: Callable[[], Awaitable[T]], turn: Callable[[], Awaitable[None]] | None = None
) -> T:
    """Run one cloud call, heartbeating while it runs; wait out throttling, translate failures.
    `turn`, when given, is awaited before each request (a read rate: see ActivityDeps.read)."""
    async with heartbeating():
        deadline = time.monotonic() + THROTTLE_BUDGET_S
        while True:
            if turn is not None:
                await turn()
            try:
                return await call()
            except ThrottledError as exc:
                if time.monotonic() + exc.retry_after > deadline:
                    raise application_error(exc) from exc
                if activity.in_activity():
                    activity.heartbeat(f"throttled, retrying in {exc.retry_after:.1f}s")
                await asyncio.sleep(exc.retry_after)
            except CloudError as exc:
                raise application_error(exc) from exc


async def store_call(call: Callable[[], T]) -> T:
    """Run a synchronous store call in a thread; store errors are final."""
    try:
        return await asyncio.to_thread(call)
    except StoreError as exc:
        raise application_error(exc) from exc
