"""`mcis recommend` (best specs under weighted priorities) and the planning half of
`mcis create NS NAME --recommend` (an MCIS whose VMs stay within a latency bound of each
other, built from specs the local cloud can create, with an image of the wanted OS)."""

from __future__ import annotations

import argparse
import asyncio
import math
import re
import sys
from dataclasses import dataclass, field
from functools import partial

from catalog.entries import Image
from catalog.ranking import (
    Scoring,
    SpecFilter,
)
from catalog.records import CatalogSource, region_key
from drivers.errors import CloudError
from drivers.errors import CloudNotFoundError as NotFoundError
from drivers.retry import retrying
from models.mcis import McisRequest
from models.naming import NAME_MAX_LENGTH
from models.placement_plan import PlacementError, PlacementPlan, plan_mcis
from starter import catalog_service
from starter.catalog_service import Priorities, SpecQuery, catalog_store, rounded, spec_filter
from starter.context import Context
from starter.errors import FAILED, CliError
from starter.output import print_json, print_table, progress
from starter.requests import check_request, parse_request
from starter.views import checked_name

DEFAULT_IMAGE_OS = "ubuntu-22.04"


async def recommend(ctx: Context, args: argparse.Namespace) -> int:
    found = await catalog_service.recommend(
        ctx, SpecQuery.of(args), Priorities.of(args), args.limit
    )
    best, scoring = found.best, found.scoring
    if args.json:
        print_json([rounded(item) for item in best])
        return 0
    if not best:
        print(f"no spec matches {found.found.describe()}")
        return 0
    criteria = [c.value for c in scoring.weights]
    print_table(
        ["#", "SPEC", "VCPUS", "MEMORY_GIB", "USD/HOUR", *(c.upper() for c in criteria), "TOTAL"],
        [
            (
                rank,
                item.spec.id,
                item.spec.vcpus,
                f"{item.spec.memory_gib:g}",
                f"{item.spec.price_per_hour:.4f}",
                *(f"{item.scores[c]:.3f}" for c in criteria),
                f"{item.total:.3f}",
            )
            for rank, item in enumerate(best, start=1)
        ],
    )
    print(
        f"{len(scoring)} of {len(scoring.table)} specs match {found.found.describe()}; "
        f"{_weights(scoring)}"
    )
    return 0


def _os_key(text: str) -> str:
    return re.sub(r"[^a-z0-9.]+", "", text.lower())


async def _images_by_region(ctx: Context, providers: list[str], os_name: str) -> dict[str, Image]:
    """The first image (by name) of the wanted OS in every region of these clouds."""
    try:
        lists = await asyncio.gather(
            *(retrying(partial(ctx.driver(p).images, None)) for p in providers)
        )
    except NotFoundError as exc:
        raise CliError(exc.message) from None
    except CloudError as exc:
        raise CliError(f"reading images: {exc.message}", FAILED) from None
    wanted = _os_key(os_name)
    chosen: dict[str, Image] = {}
    seen: set[str] = set()
    for image in sorted((i for found in lists for i in found), key=lambda i: i.name):
        seen.add(image.os)
        if _os_key(image.os) == wanted:
            chosen.setdefault(region_key(image.provider, image.region), image)
    if not chosen:
        raise CliError(
            f"no region has an image with OS {os_name!r} (known: {', '.join(sorted(seen))})"
        )
    return chosen


def _group_name(provider: str, region: str) -> str:
    name = re.sub(r"[^a-z0-9-]+", "-", f"{provider}-{region}".lower()).strip("-")
    return name[:NAME_MAX_LENGTH].rstrip("-")


def show_plan(plan: PlacementPlan, images: dict[str, Image], to_stderr: bool) -> None:
    out = sys.stderr if to_stderr else sys.stdout
    bound = "no bound" if math.isinf(plan.bound_ms) else f"bound {plan.bound_ms:g} ms"
    print(
        f"plan: {plan.vm_count} VMs in {len(plan.regions)} region(s) of "
        f"{len(plan.providers)} cloud(s); max VM-to-VM RTT {plan.max_rtt_ms:g} ms ({bound}); "
        f"score {plan.score:.3f}; USD {plan.hourly_cost:.4f}/hour"
        + ("" if plan.exact else " (search budget reached: best plan found)"),
        file=out,
    )
    rows = []
    for group in plan.groups:
        spec = group.spec
        key = region_key(spec.provider, spec.region)
        rows.append(
            (
                spec.id,
                images[key].id if key in images else "-",
                group.count,
                f"{spec.price_per_hour:.4f}",
                f"{spec.price_per_hour * group.count:.4f}",
                f"{group.total:.3f}",
            )
        )
    headers = ["SPEC", "IMAGE", "VMS", "USD/HOUR", "GROUP USD/HOUR", "SCORE"]
    if to_stderr:
        for row in [headers, *rows]:
            progress("  ".join(str(c) for c in row))
    else:
        print_table(headers, rows)


@dataclass(frozen=True)
class PlacementWish:
    """What `mcis create --recommend` asks for: the MCIS's name and size, the spec filters and
    priorities of `mcis recommend`, the OS of the image, the latency bound and the spread."""

    name: str
    count: int
    query: SpecQuery = field(default_factory=SpecQuery)
    priorities: Priorities = field(default_factory=Priorities)
    image_os: str = DEFAULT_IMAGE_OS
    latency_bound_ms: float | None = None
    min_regions: int = 1
    min_providers: int = 1
    description: str = ""
    policy: str = "continue"


@dataclass(frozen=True)
class PlannedMcis:
    plan: PlacementPlan
    images: dict[str, Image]
    request: McisRequest


async def plan_request(ctx: Context, namespace: str, wish: PlacementWish) -> PlannedMcis:
    """Plan an MCIS among the specs the live drivers can create (each region with an image of
    the wanted OS), its VMs within the latency bound of each other; the checked request."""
    name = checked_name(wish.name, "MCIS name")
    catalog = await catalog_store(ctx)
    found = spec_filter(wish.query, catalog)
    creatable = set(ctx.drivers)
    providers = sorted(found.providers & creatable if found.providers else creatable)
    if not providers:
        raise CliError(
            f"none of {', '.join(sorted(found.providers))} can be created here "
            f"(clouds: {', '.join(sorted(creatable))})"
        )
    images = await _images_by_region(ctx, providers, wish.image_os)
    allowed = frozenset(
        key
        for key in images
        if found.allows_region(*key.split("/", 1)) and key.split("/", 1)[0] in providers
    )
    if not allowed:
        raise CliError(f"no region of {', '.join(providers)} matches the --region filter")
    wanted = found.describe()
    found = SpecFilter(
        vcpus=found.vcpus,
        memory=found.memory,
        price=found.price,
        providers=frozenset(providers),
        regions=allowed,
    )
    scoring, rtt = catalog_service.scoring(catalog, wish.priorities, found, [CatalogSource.DRIVERS])
    scoring.filter_text = f"{wanted} (creatable here, with an image of {wish.image_os})"
    bound = math.inf if wish.latency_bound_ms is None else wish.latency_bound_ms
    try:
        plan = plan_mcis(
            scoring,
            rtt,
            wish.count,
            bound,
            min_regions=wish.min_regions,
            min_providers=wish.min_providers,
        )
    except PlacementError as exc:
        raise CliError(f"no placement: {exc}") from None
    request = parse_request(
        {
            "name": name,
            "description": wish.description or f"placed by mcis recommend ({_weights(scoring)})",
            "on_partial_failure": wish.policy,
            "groups": [
                {
                    "name": _group_name(g.spec.provider, g.spec.region),
                    "spec": g.spec.id,
                    "image": images[region_key(g.spec.provider, g.spec.region)].id,
                    "count": g.count,
                }
                for g in plan.groups
            ],
        }
    )
    await check_request(ctx, namespace, request)
    return PlannedMcis(plan, images, request)


async def recommended_request(
    ctx: Context, args: argparse.Namespace, namespace: str
) -> McisRequest | None:
    """`mcis create NS NAME --recommend ...`: plan the MCIS (`plan_request`), show the plan, and
    return its request (None after a dry run)."""
    if args.file or args.group:
        raise CliError("give either --recommend or -f FILE / --group ..., not both")
    if not args.name:
        raise CliError("give the MCIS name")
    if args.count is None:
        raise CliError("--recommend needs --count N (the number of VMs)")
    wish = PlacementWish(
        name=args.name,
        count=args.count,
        query=SpecQuery.of(args),
        priorities=Priorities.of(args),
        image_os=args.image_os,
        latency_bound_ms=args.latency_bound,
        min_regions=args.min_regions,
        min_providers=args.min_providers,
        description=args.description or "",
        policy=args.policy,
    )
    planned = await plan_request(ctx, namespace, wish)
    if args.dry_run:
        if args.json:
            print_json({"plan": planned.plan, "request": planned.request})
        else:
            show_plan(planned.plan, planned.images, to_stderr=False)
            print("dry run: nothing created")
        return None
    show_plan(planned.plan, planned.images, to_stderr=args.json)
    return planned.request


def _weights(scoring: Scoring) -> str:
    return ", ".join(f"{c.value}={w:g}" for c, w in scoring.weights.items())
