"""The catalog as the CLI (`mcis catalog`, `mcis recommend`, `create --recommend`) and the API
(`/v1/catalog`) both read it: the stored catalog with its drivers' part kept current, specs under
the CLI's filters, images read live, a refresh, and specs ranked under weighted priorities."""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from catalog.entries import Image
from catalog.ranking import (
    Preferences,
    Range,
    Recommendation,
    RttMatrix,
    Scoring,
    SpecFilter,
    parse_priorities,
)
from catalog.records import CatalogSource, CatalogSpec
from catalog.sources import (
    CatalogSourceError,
    RefreshReport,
    default_rtt_file,
    drivers_origin,
    drivers_part_is_current,
    refresh,
)
from catalog.store import CatalogStore
from drivers.errors import CloudError, CloudNotFoundError
from drivers.retry import retrying
from starter.context import Context
from starter.errors import FAILED, CliError
from starter.output import progress


@dataclass(frozen=True)
class SpecQuery:
    """The spec filters, named as the CLI's flags: `vcpus`/`memory`/`price` ranges intersected
    with the min/max bounds; `provider`/`region` lists of names or comma-separated names."""

    min_vcpus: int | None = None
    max_vcpus: int | None = None
    min_memory: float | None = None
    max_memory: float | None = None
    max_price: float | None = None
    vcpus: Range | None = None
    memory: Range | None = None
    price: Range | None = None
    provider: Sequence[str] | None = None
    region: Sequence[str] | None = None

    @classmethod
    def of(cls, args: argparse.Namespace) -> SpecQuery:
        """The filters of a command's flags (those it has)."""
        names = cls.__dataclass_fields__
        return cls(**{name: getattr(args, name, None) for name in names})


@dataclass(frozen=True)
class Priorities:
    """What recommend ranks on: `cost=0.6,latency=0.4`, the point `LAT,LON` for location, the
    region keys `P/R,P/R` for latency."""

    priority: str | None = None
    near: str | None = None
    latency_to: str | None = None

    @classmethod
    def of(cls, args: argparse.Namespace) -> Priorities:
        return cls(args.priority, args.near, args.latency_to)


async def catalog_store(ctx: Context, rtt_file: str | None = None) -> CatalogStore:
    """The stored catalog, its drivers' part (re)loaded first when it is missing or came from
    other drivers."""
    catalog = CatalogStore.from_settings(ctx.settings)
    if not drivers_part_is_current(
        catalog, drivers_origin(ctx.drivers, ctx.settings.localcloud_url)
    ):
        report = await _refresh(ctx, catalog, public=False, rtt_file=rtt_file)
        for warning in report.warnings:
            progress(f"warning: {warning}")
    return catalog


async def _refresh(
    ctx: Context, catalog: CatalogStore, public: bool, rtt_file: str | None
) -> RefreshReport:
    path = Path(rtt_file).expanduser() if rtt_file else default_rtt_file(ctx.settings.home)
    try:
        origin = drivers_origin(ctx.drivers, ctx.settings.localcloud_url)
        return await refresh(catalog, ctx.drivers, origin, public=public, rtt_file=path)
    except CatalogSourceError as exc:
        raise CliError(str(exc)) from None
    except CloudNotFoundError as exc:
        raise CliError(exc.message) from None
    except CloudError as exc:
        raise CliError(f"loading the catalog of {exc.message}", FAILED) from None


async def refresh_catalog(ctx: Context, public: bool, rtt_file: str | None) -> RefreshReport:
    """Reload the catalog: the drivers' part, the public clouds' (if `public`), the RTTs."""
    return await _refresh(
        ctx, CatalogStore.from_settings(ctx.settings), public=public, rtt_file=rtt_file
    )


def ranges(query: SpecQuery) -> tuple[Range, Range, Range]:
    """vcpus, memory and price ranges of the query, checked."""
    try:
        vcpus = Range(query.min_vcpus, query.max_vcpus).intersect(query.vcpus or Range())
        memory = Range(query.min_memory, query.max_memory).intersect(query.memory or Range())
        price = Range(None, query.max_price).intersect(query.price or Range())
        for value, what in ((vcpus, "vcpus"), (memory, "memory"), (price, "price")):
            value.check(what)
    except ValueError as exc:
        raise CliError(str(exc)) from None
    return vcpus, memory, price


def split_list(values: Sequence[str] | str | None) -> frozenset[str]:
    """`--provider a,b --provider c` -> {a, b, c}."""
    if values is None:
        return frozenset()
    items = [values] if isinstance(values, str) else values
    return frozenset(v.strip() for item in items for v in item.split(",") if v.strip())


def spec_filter(query: SpecQuery, catalog: CatalogStore) -> SpecFilter:
    """The filter of the query; CliError naming the known clouds if a provider is not in the
    catalog."""
    vcpus, memory, price = ranges(query)
    providers = split_list(query.provider)
    known = catalog.providers()
    unknown = sorted(providers - set(known))
    if unknown:
        raise CliError(
            f"unknown cloud {unknown[0]!r} (known: {', '.join(known)}; public clouds appear "
            "after `mcis catalog refresh`)"
        )
    return SpecFilter(
        vcpus=vcpus,
        memory=memory,
        price=price,
        providers=providers,
        regions=split_list(query.region),
    )


async def find_specs(
    ctx: Context, query: SpecQuery, source: str | None = None, limit: int | None = None
) -> list[CatalogSpec]:
    """Specs passing the filters (of one source if given), cheapest first, at most `limit`."""
    catalog = await catalog_store(ctx)
    try:
        sources = [CatalogSource(source)] if source else []
    except ValueError:
        known = ", ".join(s.value for s in CatalogSource)
        raise CliError(f"unknown source {source!r} (known: {known})") from None
    found = catalog.specs(spec_filter(query, catalog), sources)
    return found if limit is None else found[: max(limit, 0)]


async def find_images(ctx: Context, provider: str | None, region: str | None) -> list[Image]:
    """The images of one cloud (or all), in one region (or all), read live, sorted."""
    providers = [provider] if provider else sorted(ctx.drivers)
    drivers = [ctx.driver(p) for p in providers]
    try:
        image_lists = await asyncio.gather(*(retrying(partial(d.images, region)) for d in drivers))
    except CloudNotFoundError as exc:
        raise CliError(exc.message) from None
    except CloudError as exc:
        raise CliError(exc.message, FAILED) from None
    found = [i for images in image_lists for i in images]
    found.sort(key=lambda i: (i.provider, i.region, i.name))
    return found


def preferences(priorities: Priorities, rtt: RttMatrix) -> Preferences:
    near = _point(priorities.near) if priorities.near else None
    targets = tuple(sorted(split_list(priorities.latency_to)))
    unknown = [t for t in targets if t not in rtt.coordinates]
    if unknown:
        known = ", ".join(sorted(rtt.coordinates)[:8])
        raise CliError(
            f"--latency-to: unknown region {unknown[0]!r} (region keys are provider/region, "
            f"e.g. {known}, ...)"
        )
    try:
        if priorities.priority:
            prefs = Preferences(parse_priorities(priorities.priority), near, targets)
        else:
            prefs = Preferences.default(near, targets)
        prefs.active()
    except ValueError as exc:
        raise CliError(str(exc)) from None
    return prefs


def _point(text: str) -> tuple[float, float]:
    parts = text.split(",")
    try:
        if len(parts) != 2:
            raise ValueError
        lat, lon = float(parts[0]), float(parts[1])
    except ValueError:
        raise CliError(f"--near {text!r}: expected LAT,LON, e.g. 37.56,126.97") from None
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        raise CliError(f"--near {text!r}: latitude -90..90, longitude -180..180")
    return lat, lon


def scoring(
    catalog: CatalogStore,
    priorities: Priorities,
    found: SpecFilter,
    sources: list[CatalogSource],
) -> tuple[Scoring, RttMatrix]:
    """Every spec of the filter scored under the priorities, and the RTT matrix used."""
    rtt = catalog.rtt_matrix()
    prefs = preferences(priorities, rtt)
    table = catalog.spec_table(found, sources)
    return Scoring(table, found, prefs, rtt), rtt


@dataclass(frozen=True)
class Recommendations:
    """The best specs, best first, with the scoring that ranked them."""

    best: list[Recommendation]
    scoring: Scoring
    found: SpecFilter


async def recommend(
    ctx: Context, query: SpecQuery, priorities: Priorities, limit: int
) -> Recommendations:
    catalog = await catalog_store(ctx)
    found = spec_filter(query, catalog)
    scored, _ = scoring(catalog, priorities, found, [])
    if limit < 1:
        raise CliError("--limit must be at least 1")
    return Recommendations([scored.recommendation(k) for k in scored.top(limit)], scored, found)


def rounded(item: Recommendation) -> dict[str, object]:
    """A recommendation as JSON, its scores rounded to 6 places."""
    data = item.model_dump(mode="json")
    data["scores"] = {k: round(v, 6) for k, v in item.scores.items()}
    data["total"] = round(item.total, 6)
    return data
