"""Records of the stored catalog (pure): specs and regions with where they came from, RTTs
between regions, and the measurements a benchmark feeds back (RTTs, per-spec performance).

Region keys are `provider/region` (e.g. `aws/us-east-1`, `gce-public/us-central1`).
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, Field, field_validator

from catalog.entries import CatalogId, Region, Spec

REGION_KEY_SEPARATOR = "/"


def region_key(provider: str, region: str) -> str:
    return f"{provider}{REGION_KEY_SEPARATOR}{region}"


def split_region_key(key: str) -> tuple[str, str]:
    """`provider/region` -> (provider, region); ValueError with a clear message otherwise."""
    provider, sep, region = key.partition(REGION_KEY_SEPARATOR)
    if not sep or not provider or not region:
        raise ValueError(f"{key!r} is not a region key of the form provider/region")
    return provider, region


class CatalogSource(StrEnum):
    """Where a spec or region row came from."""

    DRIVERS = "drivers"  # through the live drivers: the local cloud, connections (creatable)
    LIBCLOUD = "libcloud"  # Libcloud's bundled public price data (shown, not creatable here)
    SYNTHETIC = "synthetic"  # generated (benchmarks)


class RttSource(StrEnum):
    """Where an RTT came from; a higher PRIORITY wins for the same region pair."""

    ESTIMATED = "estimated"  # catalog.geo.estimated_rtt_ms over the haversine distance
    CONFIGURED = "configured"  # MCIS_HOME/rtt.yaml or --rtt-file
    MEASURED = "measured"  # a benchmark (ping) stored it through CatalogStore


RTT_PRIORITY: dict[RttSource, int] = {
    RttSource.ESTIMATED: 0,
    RttSource.CONFIGURED: 1,
    RttSource.MEASURED: 2,
}
"""Measured beats configured beats estimated: a measurement is the newest truth, a configured
value is an operator's statement, an estimate is what is left."""


class CatalogRegion(Region):
    source: CatalogSource

    @property
    def key(self) -> str:
        return region_key(self.provider, self.name)


class CatalogSpec(Spec):
    source: CatalogSource
    performance: float | None = None  # measured score, higher is better (None: not measured)
    measured_at: datetime | None = None


class RttEntry(BaseModel):
    """RTT between two region keys (stored with `a <= b`; `a == b`: the region's own RTT)."""

    a: str
    b: str
    rtt_ms: float = Field(ge=0)
    source: RttSource

    @field_validator("a", "b")
    @classmethod
    def _key_ok(cls, value: str) -> str:
        split_region_key(value)
        return value


class RttMeasurement(BaseModel):
    """A measured RTT between two regions (e.g. the median of pings between VMs there)."""

    a: str
    b: str
    rtt_ms: float = Field(ge=0)
    measured_at: datetime | None = None  # None: now

    @field_validator("a", "b")
    @classmethod
    def _key_ok(cls, value: str) -> str:
        split_region_key(value)
        return value


class PerformanceMeasurement(BaseModel):
    """A measured performance score of a spec (catalog id `provider+region+name`). Any unit
    works as long as one benchmark writes them all (e.g. sysbench cpu events/s, all threads):
    placement normalises scores over the candidates."""

    spec_id: CatalogId
    score: float = Field(ge=0)
    measured_at: datetime | None = None  # None: now
