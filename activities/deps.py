"""What activities need from the outside: the drivers by provider, the store, the per-cloud
rate limit of status reads, a Temporal client to reach other workflows, and the SSH connections
kept between commands."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from temporalio.client import Client
from temporalio.exceptions import ApplicationError

from drivers.base import CloudDriver
from drivers.rate_limit import RateLimiter
from remote.sessions import SessionPool
from store.repository import Store


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
