"""Per-cloud request rates for status reads (the reference's limits: AWS 10 req/s, Azure 8,
GCP 12, Alibaba 6), as token buckets shared by every activity of one worker."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping

DEFAULT_READ_RATES: dict[str, float] = {
    "aws": 10.0,
    "azure": 8.0,
    "gcp": 12.0,
    "alibaba": 6.0,
    "openstack": 10.0,
    "cloudit": 10.0,
}
FALLBACK_RATE = 10.0


def parse_rates(text: str) -> dict[str, float]:
    """`aws=10,gcp=12` -> {"aws": 10.0, "gcp": 12.0}; ValueError naming a bad item."""
    rates = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        name, sep, value = item.partition("=")
        try:
            rate = float(value)
        except ValueError:
            rate = 0.0
        if not sep or not name or rate <= 0:
            raise ValueError(f"bad rate {item!r}: expected CLOUD=REQUESTS_PER_SECOND (> 0)")
        rates[name] = rate
    return rates


class RateLimiter:
    """One token bucket per cloud; `wait(cloud)` returns when a request may go."""

    def __init__(self, rates: Mapping[str, float] | None = None) -> None:
        self._rates = {**DEFAULT_READ_RATES, **(rates or {})}
        self._tokens: dict[str, float] = {}
        self._stamp: dict[str, float] = {}
        self._lock = asyncio.Lock()

    def rate(self, cloud: str) -> float:
        return self._rates.get(cloud, FALLBACK_RATE)

    async def wait(self, cloud: str) -> None:
        rate = self.rate(cloud)
        async with self._lock:
            now = time.monotonic()
            tokens = self._tokens.get(cloud, rate)
            tokens = min(rate, tokens + (now - self._stamp.get(cloud, now)) * rate)
            delay = 0.0 if tokens >= 1 else (1 - tokens) / rate
            self._tokens[cloud] = tokens - 1
            self._stamp[cloud] = now
        if delay:
            await asyncio.sleep(delay)
