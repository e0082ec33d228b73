"""`mcis catalog specs|images`: what the clouds offer, filtered, cheapest first."""

from __future__ import annotations

import argparse
import asyncio
from functools import partial

from drivers.errors import CloudError, NotFoundError
from drivers.retry import retrying
from models.catalog import Image, Spec
from starter.context import Context
from starter.errors import FAILED, CliError
from starter.output import print_json, print_table


async def _gather(ctx: Context, args: argparse.Namespace, kind: str) -> list[Spec] | list[Image]:
    providers = [args.provider] if args.provider else sorted(ctx.drivers)
    drivers = [ctx.driver(p) for p in providers]
    try:
        if kind == "specs":
            spec_lists = await asyncio.gather(
                *(retrying(partial(d.specs, args.region)) for d in drivers)
            )
            return [s for specs in spec_lists for s in specs]
        image_lists = await asyncio.gather(
            *(retrying(partial(d.images, args.region)) for d in drivers)
        )
        return [i for images in image_lists for i in images]
    except NotFoundError as exc:
        raise CliError(exc.message) from None
    except CloudError as exc:
        raise CliError(exc.message, FAILED) from None


async def specs(ctx: Context, args: argparse.Namespace) -> int:
    found = [s for s in await _gather(ctx, args, "specs") if isinstance(s, Spec)]
    found = [
        s
        for s in found
        if (args.min_vcpus is None or s.vcpus >= args.min_vcpus)
        and (args.max_vcpus is None or s.vcpus <= args.max_vcpus)
        and (args.min_memory is None or s.memory_gib >= args.min_memory)
        and (args.max_memory is None or s.memory_gib <= args.max_memory)
        and (args.max_price is None or s.price_per_hour <= args.max_price)
    ]
    found.sort(key=lambda s: (s.price_per_hour, s.provider, s.region, s.name))
    if args.json:
        print_json(found)
    else:
        print_table(
            ["ID", "VCPUS", "MEMORY_GIB", "USD/HOUR"],
            [(s.id, s.vcpus, f"{s.memory_gib:g}", f"{s.price_per_hour:.4f}") for s in found],
        )
    return 0


async def images(ctx: Context, args: argparse.Namespace) -> int:
    found = [i for i in await _gather(ctx, args, "images") if isinstance(i, Image)]
    found.sort(key=lambda i: (i.provider, i.region, i.name))
    if args.json:
        print_json(found)
    else:
        print_table(["ID", "OS"], [(i.id, i.os) for i in found])
    return 0
