"""How activities call clouds and the store: throttling waits in place (it never fails an
action), other errors become Temporal ApplicationErrors that say whether a retry can help."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import TypeVar

from temporalio import activity
from temporalio.exceptions import ApplicationError

from drivers.errors import CloudError, ThrottledError
from store.errors import StoreError

T = TypeVar("T")

THROTTLE_BUDGET_S = 120.0
"""How long one activity waits out HTTP 429 answers before giving the retry back to Temporal."""


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


async def cloud_call(call: Callable[[], Awaitable[T]]) -> T:
    """Run one cloud call; wait out throttling (heartbeating), translate failures."""
    deadline = time.monotonic() + THROTTLE_BUDGET_S
    while True:
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
