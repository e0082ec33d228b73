"""What activities need from the outside: the drivers by provider, the store, the per-cloud
rate limit of status reads, a Temporal client to reach other workflows, and the SSH connections
kept between commands."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from functools import partial
from typing import TypeVar

from temporalio.client import Client
from temporalio.exceptions import ApplicationError

from activities.cloud_calls import cloud_call
from drivers.base import CloudDriver
from drivers.rate_limit import RateLimiter
from remote.sessions import SessionPool
from store.repository import Store

T = TypeVar("T")


@dataclass(frozen=True)
class ActivityDeps:
    drivers: Mapping[str, CloudDriver]
    store: Store
    read_limiter: RateLimiter = field(default_factory=RateLimiter)
    temporal: Client | None = None  # for activities that talk to other workflows
    ssh_sessions: SessionPool = field(default_factory=SessionPool)

    def client(self) -> Client:
        if self.temporal is None:
            raise ApplicationError(
                "this worker has no Temporal client for activities",
                type="Misconfigured",
                non_retryable=True,
            )
        return self.temporal

    async def read(self, provider: str, call: Callable[[], Awaitable[T]]) -> T:
        """A status read of `provider`'s cloud (a listing, a get, a metrics read): a cloud_call
        whose every request, retries after throttling included, waits its turn at the cloud's
        read rate (heartbeating while it waits)."""
        return await cloud_call(call, partial(self.read_limiter.wait, provider))

    def driver(self, provider: str) -> CloudDriver:
        try:
            return self.drivers[provider]
        except KeyError:
            known = ", ".join(sorted(self.drivers))
            raise ApplicationError(
                f"no driver for cloud {provider!r} (known: {known})",
                type="UnknownProvider",
                non_retryable=True,
            ) from None
