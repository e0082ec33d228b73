"""What activities need from the outside: the drivers by provider and the store."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from temporalio.exceptions import ApplicationError

from drivers.base import CloudDriver
from store.repository import Store


@dataclass(frozen=True)
class ActivityDeps:
    drivers: Mapping[str, CloudDriver]
    store: Store

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
