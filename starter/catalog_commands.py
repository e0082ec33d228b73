"""`mcis catalog specs|images|refresh`: what the clouds offer. Specs come from the stored
catalog (`catalog.store`): the part of the clouds mcis can create in (the local cloud's flavors
and the connections) is loaded through their drivers whenever it is missing or was loaded from
another local cloud address or set of connections, so a fresh stack just works; `refresh` also
loads the public clouds' data from Libcloud and the RTT matrix. Images are read live. The work
is in `starter.catalog_service`, shared with the API."""

from __future__ import annotations

import argparse

from starter import catalog_service
from starter.catalog_service import SpecQuery
from starter.context import Context
from starter.output import print_json, print_table, progress


async def specs(ctx: Context, args: argparse.Namespace) -> int:
    found = await catalog_service.find_specs(
        ctx, SpecQuery.of(args), getattr(args, "source", None), getattr(args, "limit", None)
    )
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


async def images(ctx: Context, args: argparse.Namespace) -> int:
    found = await catalog_service.find_images(ctx, args.provider, args.region)
    if args.json:
        print_json(found)
    else:
        print_table(["ID", "OS"], [(i.id, i.os) for i in found])
    return 0


async def refresh_catalog(ctx: Context, args: argparse.Namespace) -> int:
    report = await catalog_service.refresh_catalog(ctx, not args.no_public, args.rtt_file)
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
