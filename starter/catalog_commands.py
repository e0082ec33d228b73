"""`mcis catalog specs|images|refresh`: what the clouds offer. Specs come from the stored
catalog (`catalog.store`): the part of the clouds mcis can create in (the local cloud's flavors
and the connections) is loaded through their drivers whenever it is missing or was loaded from
another local cloud address or set of connections, so a fresh stack just works; `refresh` also
loads the public clouds' data from Libcloud and the RTT matrix. Images are read live."""

from __future__ import annotations

import argparse
import asyncio
from functools import partial
from pathlib import Path

from catalog.entries import Image
from catalog.ranking import Range, SpecFilter
from catalog.records import CatalogSource
from catalog.sources import (
    CatalogSourceError,
    RefreshReport,
    default_rtt_file,
    drivers_origin,
    drivers_part_is_current,
    refresh,
)
from catalog.store import CatalogStore
from drivers.errors import CloudError, NotFoundError
from drivers.retry import retrying
from starter.context import Context
from starter.errors import FAILED, CliError
from starter.output import print_json, print_table, progress


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
    except NotFoundError as exc:
        raise CliError(exc.message) from None
    except CloudError as exc:
        raise CliError(f"loading the catalog of {exc.message}", FAILED) from None


def ranges(args: argparse.Namespace) -> tuple[Range, Range, Range]:
    """vcpus, memory and price ranges of `--vcpus A..B` / `--min-vcpus` / `--max-vcpus` (and
    the same for memory; `--price A..B` / `--max-price`), checked."""
    try:
        vcpus = Range(getattr(args, "min_vcpus", None), getattr(args, "max_vcpus", None))
        memory = Range(getattr(args, "min_memory", None), getattr(args, "max_memory", None))
        price = Range(None, getattr(args, "max_price", None))
        vcpus = vcpus.intersect(getattr(args, "vcpus", None) or Range())
        memory = memory.intersect(getattr(args, "memory", None) or Range())
        price = price.intersect(getattr(args, "price", None) or Range())
        for value, what in ((vcpus, "vcpus"), (memory, "memory"), (price, "price")):
            value.check(what)
    except ValueError as exc:
        raise CliError(str(exc)) from None
    return vcpus, memory, price


def split_list(values: list[str] | str | None) -> frozenset[str]:
    """`--provider a,b --provider c` -> {a, b, c}."""
    if values is None:
        return frozenset()
    items = [values] if isinstance(values, str) else values
    return frozenset(v.strip() for item in items for v in item.split(",") if v.strip())


def spec_filter(args: argparse.Namespace, catalog: CatalogStore) -> SpecFilter:
    """The filter of the command's flags; CliError naming the known clouds if a provider is
    not in the catalog."""
    vcpus, memory, price = ranges(args)
    providers = split_list(getattr(args, "provider", None))
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
        regions=split_list(getattr(args, "region", None)),
    )


async def specs(ctx: Context, args: argparse.Namespace) -> int:
    catalog = await catalog_store(ctx)
    sources = [CatalogSource(args.source)] if getattr(args, "source", None) else []
    found = catalog.specs(spec_filter(args, catalog), sources)
    if getattr(args, "limit", None) is not None:
        found = found[: max(args.limit, 0)]
    if args.json:
        print_json(found)
    else:
        print_table(
            ["ID", "VCPUS", "MEMORY_GIB", "USD/HOUR", "PERF", "SOURCE"],
            [
                (
                    s.id,
                    s.vcpus,
                    f"{s.memory_gib:g}",
                    f"{s.price_per_hour:.4f}",
                    "-" if s.performance is None else f"{s.performance:g}",
                    s.source.value,
                )
                for s in found
            ],
        )
    return 0


async def _images(ctx: Context, args: argparse.Namespace) -> list[Image]:
    providers = [args.provider] if args.provider else sorted(ctx.drivers)
    drivers = [ctx.driver(p) for p in providers]
    try:
        image_lists = await asyncio.gather(
            *(retrying(partial(d.images, args.region)) for d in drivers)
        )
        return [i for images in image_lists for i in images]
    except NotFoundError as exc:
        raise CliError(exc.message) from None
    except CloudError as exc:
        raise CliError(exc.message, FAILED) from None


async def images(ctx: Context, args: argparse.Namespace) -> int:
    found = await _images(ctx, args)
    found.sort(key=lambda i: (i.provider, i.region, i.name))
    if args.json:
        print_json(found)
    else:
        print_table(["ID", "OS"], [(i.id, i.os) for i in found])
    return 0


async def refresh_catalog(ctx: Context, args: argparse.Namespace) -> int:
    catalog = CatalogStore.from_settings(ctx.settings)
    report = await _refresh(ctx, catalog, public=not args.no_public, rtt_file=args.rtt_file)
    for warning in report.warnings:
        progress(f"warning: {warning}")
    if args.json:
        print_json(report)
        return 0
    print_table(
        ["PART", "REGIONS", "SPECS", "RTT_PAIRS", "SECONDS", "ORIGIN"],
        [
            (p.part, p.regions or "-", p.specs or "-", p.pairs or "-", f"{p.seconds:.3f}", p.origin)
            for p in report.parts
        ],
    )
    counts = report.counts
    print(
        f"catalog: {sum(counts.specs.values())} specs of {len(counts.specs)} clouds in "
        f"{sum(counts.regions.values())} regions; RTT pairs "
        + ", ".join(f"{source} {n}" for source, n in sorted(counts.rtt.items()))
        + f"; {counts.measured_specs} specs with a measured performance; "
        f"{report.seconds:.2f} s"
    )
    return 0
