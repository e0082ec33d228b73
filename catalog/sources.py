"""Filling the stored catalog: the local cloud's regions and specs through its drivers, the
public clouds' specs from Libcloud's data (`catalog.public`), and the RTT matrix:
every region pair estimated from coordinates, then a configured YAML file over that
(measured RTTs, stored by benchmarks, win over both when read).

RTT file (`MCIS_HOME/rtt.yaml`, or `mcis catalog refresh --rtt-file F`): milliseconds between
region keys, symmetric; a key with itself sets that region's own RTT:

    aws/us-east-1:
      gcp/us-central1: 31.5
      aws/us-east-1: 1.2
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Mapping, Sequence
from functools import partial
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from catalog.entries import Region, Spec
from catalog.geo import BASE_RTT_MS, estimated_rtt_ms, haversine_km
from catalog.public import load_public_catalog
from catalog.records import (
    CatalogRegion,
    CatalogSource,
    CatalogSpec,
    RttEntry,
    RttSource,
)
from catalog.store import CatalogCounts, CatalogStore
from drivers.base import CloudDriver
from drivers.errors import CloudError
from drivers.retry import retrying
from models.documents import DocumentError, parse_document

RTT_FILE_NAME = "rtt.yaml"
MAX_RTT_FILE_BYTES = 5_000_000


class CatalogSourceError(Exception):
    """A catalog source is unusable (e.g. a malformed RTT file); the message says why."""


class PartReport(BaseModel):
    part: str
    origin: str
    specs: int = 0
    regions: int = 0
    pairs: int = 0
    seconds: float


class RefreshReport(BaseModel):
    parts: list[PartReport]
    counts: CatalogCounts
    seconds: float
    warnings: list[str]


async def drivers_catalog(
    drivers: Mapping[str, CloudDriver],
) -> tuple[list[CatalogRegion], list[CatalogSpec]]:
    """Regions and specs of every provider the drivers offer (read calls retried); a failing
    cloud raises its CloudError, its message naming the cloud."""

    async def one(name: str) -> tuple[list[Region], list[Spec]]:
        driver = drivers[name]
        try:
            return await retrying(driver.regions), await retrying(partial(driver.specs, None))
        except CloudError as exc:
            exc.message = f"cloud {name!r}: {exc.message}"
            raise

    found = await asyncio.gather(*(one(name) for name in sorted(drivers)))
    regions = [
        CatalogRegion(**r.model_dump(), source=CatalogSource.DRIVERS)
        for region_list, _ in found
        for r in region_list
    ]
    specs = [
        CatalogSpec(**s.model_dump(exclude={"id"}), source=CatalogSource.DRIVERS)
        for _, spec_list in found
        for s in spec_list
    ]
    return regions, specs


def drivers_origin(drivers: Mapping[str, CloudDriver], localcloud_url: str) -> str:
    """What the drivers' part of the catalog was loaded from: the clouds and the local cloud's
    address (another address or another set of connections reloads it)."""
    return f"{localcloud_url} [{','.join(sorted(drivers))}]"


def estimated_rtts(regions: Sequence[CatalogRegion]) -> list[RttEntry]:
    """Every pair of regions (and each region with itself) with its estimated RTT."""
    keyed = sorted((r.key, r.latitude, r.longitude) for r in regions)
    entries = []
    for i, (a, lat1, lon1) in enumerate(keyed):
        entries.append(
            RttEntry.model_construct(a=a, b=a, rtt_ms=BASE_RTT_MS, source=RttSource.ESTIMATED)
        )
        for b, lat2, lon2 in keyed[i + 1 :]:
            ms = estimated_rtt_ms(haversine_km(lat1, lon1, lat2, lon2))
            entries.append(
                RttEntry.model_construct(a=a, b=b, rtt_ms=ms, source=RttSource.ESTIMATED)
            )
    return entries


def load_rtt_file(path: Path, known: set[str]) -> tuple[list[RttEntry], list[str]]:
    """(configured entries, warnings) of an RTT file; pairs naming a region the catalog does
    not hold are left out with a warning. CatalogSourceError if the file is malformed."""
    return known_rtts(read_rtt_file(path), known, path)


def read_rtt_file(path: Path) -> list[RttEntry]:
    """Every entry of an RTT file; CatalogSourceError if the file is malformed."""
    if not path.is_file():
        raise CatalogSourceError(f"RTT file {str(path)!r} does not exist")
    if path.stat().st_size > MAX_RTT_FILE_BYTES:
        raise CatalogSourceError(f"RTT file {str(path)!r} is larger than {MAX_RTT_FILE_BYTES} B")
    try:
        data: Any = parse_document(path.read_text(errors="replace"))
    except DocumentError as exc:
        raise CatalogSourceError(f"RTT file {str(path)!r} is not valid YAML: {exc}") from None
    if data is None:
        return []
    if not isinstance(data, dict):
        raise CatalogSourceError(
            f"RTT file {str(path)!r} must map region keys to {{region key: ms}}"
        )
    entries: list[RttEntry] = []
    for a, row in data.items():
        if not isinstance(row, dict):
            raise CatalogSourceError(f"RTT file {str(path)!r}: {a!r} must map region keys to ms")
        for b, ms in row.items():
            where = f"RTT file {str(path)!r}: {a} - {b}"
            if not isinstance(ms, int | float) or isinstance(ms, bool) or not 0 <= ms < math.inf:
                raise CatalogSourceError(f"{where}: {ms!r} is not a number of ms >= 0")
            try:
                entry = RttEntry(a=str(a), b=str(b), rtt_ms=float(ms), source=RttSource.CONFIGURED)
            except ValueError:
                raise CatalogSourceError(f"{where}: keys are provider/region") from None
            entries.append(entry)
    return entries


def known_rtts(
    entries: list[RttEntry], known: set[str], path: Path
) -> tuple[list[RttEntry], list[str]]:
    """The entries between regions the catalog holds, and a warning per region it does not."""
    unknown = {key for entry in entries for key in (entry.a, entry.b) if key not in known}
    kept = [entry for entry in entries if entry.a in known and entry.b in known]
    warnings = [
        f"RTT file {str(path)!r}: region {key!r} is not in the catalog, its pairs are ignored"
        for key in sorted(unknown)
    ]
    return kept, warnings


def default_rtt_file(home: Path) -> Path | None:
    candidate = home / RTT_FILE_NAME
    return candidate if candidate.is_file() else None


async def refresh(
    catalog: CatalogStore,
    drivers: Mapping[str, CloudDriver] | None,
    origin: str,
    public: bool = True,
    rtt_file: Path | None = None,
) -> RefreshReport:
    """Load the drivers' clouds (unless None; `origin` says what they are), the public data (if
    `public`), then the RTT matrix over every stored region. Everything is read before anything is
    written, so a failing source leaves the catalog as it was."""
    started = time.perf_counter()
    parts: list[PartReport] = []
    from_file = None if rtt_file is None else read_rtt_file(rtt_file)
    local = None
    if drivers is not None:
        t0 = time.perf_counter()
        local = await drivers_catalog(drivers)
        local_s = time.perf_counter() - t0
    public_data = None
    if public:
        t0 = time.perf_counter()
        public_data = await asyncio.to_thread(load_public_catalog)
        public_s = time.perf_counter() - t0
    if local is not None:
        t0 = time.perf_counter()
        catalog.replace_source(CatalogSource.DRIVERS, *local, origin=origin)
        parts.append(
            PartReport(
                part="drivers",
                origin=origin,
                regions=len(local[0]),
                specs=len(local[1]),
                seconds=local_s + time.perf_counter() - t0,
            )
        )
    warnings: list[str] = []
    if public_data is not None:
        t0 = time.perf_counter()
        catalog.replace_source(
            CatalogSource.LIBCLOUD,
            public_data.regions,
            public_data.specs,
            origin=public_data.origin,
        )
        parts.append(
            PartReport(
                part="libcloud",
                origin=public_data.origin,
                regions=len(public_data.regions),
                specs=len(public_data.specs),
                seconds=public_s + time.perf_counter() - t0,
            )
        )
    t0 = time.perf_counter()
    regions = catalog.regions()
    estimated = catalog.replace_rtt(
        RttSource.ESTIMATED, estimated_rtts(regions), origin="haversine distance"
    )
    parts.append(
        PartReport(
            part="rtt-estimated",
            origin="haversine distance",
            pairs=estimated,
            seconds=time.perf_counter() - t0,
        )
    )
    t0 = time.perf_counter()
    configured: list[RttEntry] = []
    origin = "none"
    if rtt_file is not None and from_file is not None:
        configured, warnings = known_rtts(from_file, {r.key for r in regions}, rtt_file)
        origin = str(rtt_file)
    pairs = catalog.replace_rtt(RttSource.CONFIGURED, configured, origin=origin)
    parts.append(
        PartReport(
            part="rtt-configured", origin=origin, pairs=pairs, seconds=time.perf_counter() - t0
        )
    )
    return RefreshReport(
        parts=parts,
        counts=catalog.counts(),
        seconds=time.perf_counter() - started,
        warnings=warnings,
    )


def drivers_part_is_current(catalog: CatalogStore, origin: str) -> bool:
    """True when the drivers' part was loaded, from `origin` (see `drivers_origin`)."""
    load = catalog.last_load(CatalogSource.DRIVERS.value)
    return load is not None and load.origin == origin
