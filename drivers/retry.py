"""Retrying a read-only cloud call outside Temporal (the CLI's catalog checks): transient
errors and throttling are tried again with backoff, permanent ones raised at once."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

from drivers.errors import ThrottledError, TransientCloudError

T = TypeVar("T")


async def retrying(
    call: Callable[[], Awaitable[T]], attempts: int = 6, first_delay_s: float = 0.2
) -> T:
    delay = first_delay_s
    for attempt in range(1, attempts + 1):
        try:
            return await call()
        except TransientCloudError as exc:
            if attempt == attempts:
                raise
            wait = exc.retry_after if isinstance(exc, ThrottledError) else delay
            await asyncio.sleep(wait)
            delay = min(delay * 2, 5.0)
    raise AssertionError("unreachable")
