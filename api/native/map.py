"""Native API: the world map's data in one request (`GET /v1/map`, per namespace
`/v1/ns/{ns}/map`, per MCIS `/v1/ns/{ns}/mcis/{name}/map`).

Owns `WorldMap`: every region holding VMs (by `provider/region` key) with its coordinates and
its VMs counted by status and by MCIS, the totals by cloud and by status, and the RTT of every
pair of those regions with where it came from (measured by `mcis bench`, configured in an RTT
file, or estimated from the distance). Read from the store's VM records and the catalog, never
from Temporal, so it answers as fast while operations run."""

from __future__ import annotations

import asyncio
from collections import Counter, defaultdict
from collections.abc import Iterable
from itertools import combinations

from fastapi import APIRouter
from pydantic import BaseModel

from api.native.common import Ctx
from catalog.geo import estimated_rtt_ms, haversine_km
from catalog.records import CatalogRegion, RttEntry, RttSource, region_key
from catalog.store import CatalogStore
from models.records import VmRecord
from models.status import aggregate
from starter.catalog_service import catalog_store
from starter.context import Context
from starter.errors import CliError
from starter.namespace_service import existing_namespace
from starter.views import checked_name

router = APIRouter(tags=["map"])


class MapRegion(BaseModel):
    """A region holding VMs: one marker on the map."""

    key: str  # provider/region
    provider: str
    region: str
    display_name: str
    latitude: float | None  # None: the catalog does not place this region
    longitude: float | None
    vms: int
    status: str  # the aggregate label of its VMs, e.g. "Running" or "Partial-Running"
    statuses: dict[str, int]
    mcis: dict[str, int]  # VMs by MCIS, keyed `namespace/name`


class MapLink(BaseModel):
    """The RTT between two regions holding VMs (a < b), and where the figure came from."""

    a: str
    b: str
    rtt_ms: float | None  # None: estimated, but the catalog places one of the two nowhere
    source: RttSource


class WorldMap(BaseModel):
    namespace: str | None  # None: every namespace
    mcis: str | None  # None: every MCIS of the namespace(s)
    vms: int
    clouds: dict[str, int]  # VMs by provider
    statuses: dict[str, int]  # VMs by status
    regions: list[MapRegion]
    links: list[MapLink]
    warnings: list[str] = []  # e.g. why the catalog that places the regions was not reloaded


def world_map(
    vms: Iterable[VmRecord],
    regions: Iterable[CatalogRegion],
    rtts: Iterable[RttEntry],
    namespace: str | None = None,
    mcis: str | None = None,
) -> WorldMap:
    """The map of these VMs: `regions` place them, `rtts` (the catalog's effective entries)
    give the pairs' RTTs; a pair without one is estimated from the regions' distance."""
    held: dict[str, list[VmRecord]] = defaultdict(list)
    for vm in vms:
        held[region_key(vm.provider, vm.region)].append(vm)
    places = {r.key: r for r in regions}
    markers = [_marker(key, held[key], places.get(key)) for key in sorted(held)]
    known = {(e.a, e.b): e for e in rtts if e.a in held and e.b in held}
    links = [_link(a, b, known.get((a, b)), places) for a, b in combinations(sorted(held), 2)]
    every = [vm for group in held.values() for vm in group]
    return WorldMap(
        namespace=namespace,
        mcis=mcis,
        vms=len(every),
        clouds=dict(sorted(Counter(vm.provider for vm in every).items())),
        statuses=dict(sorted(Counter(vm.status.value for vm in every).items())),
        regions=markers,
        links=links,
    )


def _marker(key: str, vms: list[VmRecord], place: CatalogRegion | None) -> MapRegion:
    summary = aggregate([(vm.name, vm.status) for vm in vms])
    return MapRegion(
        key=key,
        provider=vms[0].provider,
        region=vms[0].region,
        display_name=place.display_name if place else "",
        latitude=place.latitude if place else None,
        longitude=place.longitude if place else None,
        vms=len(vms),
        status=summary.label,
        statuses={status.value: n for status, n in summary.counts.items()},
        mcis=dict(sorted(Counter(f"{vm.namespace}/{vm.mcis}" for vm in vms).items())),
    )


def _link(a: str, b: str, entry: RttEntry | None, places: dict[str, CatalogRegion]) -> MapLink:
    if entry is not None:
        return MapLink(a=a, b=b, rtt_ms=entry.rtt_ms, source=entry.source)
    at, to = places.get(a), places.get(b)
    rtt = (
        estimated_rtt_ms(haversine_km(at.latitude, at.longitude, to.latitude, to.longitude))
        if at and to
        else None
    )
    return MapLink(a=a, b=b, rtt_ms=rtt, source=RttSource.ESTIMATED)


async def _answer(
    ctx: Context, vms: list[VmRecord], namespace: str | None, mcis: str | None
) -> WorldMap:
    """The map over the catalog as the CLI reads it (its drivers' part reloaded first when it
    is missing or stale). A cloud that cannot be read now does not fail the map: the stored
    catalog places what it can, and the answer says why it was not reloaded."""
    warnings = []
    try:
        catalog = await catalog_store(ctx)
    except CliError as exc:
        catalog = CatalogStore.from_settings(ctx.settings)
        warnings.append(f"catalog not reloaded: {exc.message}")
    try:
        found = await asyncio.to_thread(_read_map, catalog, vms, namespace, mcis)
    finally:
        catalog.close()
    return found.model_copy(update={"warnings": warnings})


def _read_map(
    catalog: CatalogStore, vms: list[VmRecord], namespace: str | None, mcis: str | None
) -> WorldMap:
    held = {region_key(vm.provider, vm.region) for vm in vms}
    rtts = catalog.rtt_entries(among=held)
    return world_map(vms, catalog.regions(), rtts, namespace, mcis)


@router.get("/map", response_model=WorldMap)
async def map_of_everything(ctx: Ctx) -> WorldMap:
    """Every VM of every namespace."""
    return await _answer(ctx, ctx.store.all_vms(), None, None)


@router.get("/ns/{ns}/map", response_model=WorldMap)
async def map_of_namespace(ns: str, ctx: Ctx) -> WorldMap:
    """Every VM of the namespace's MCIS."""
    existing_namespace(ctx, ns)
    vms = [vm for record in ctx.store.list_mcis(ns) for vm in ctx.store.list_vms(ns, record.name)]
    return await _answer(ctx, vms, ns, None)


@router.get("/ns/{ns}/mcis/{name}/map", response_model=WorldMap)
async def map_of_mcis(ns: str, name: str, ctx: Ctx) -> WorldMap:
    """The VMs of one MCIS."""
    existing_namespace(ctx, ns)
    checked_name(name, "MCIS name")
    if ctx.store.get_mcis(ns, name) is None:
        raise CliError(f"MCIS {name!r} not found in namespace {ns!r}")
    return await _answer(ctx, ctx.store.list_vms(ns, name), ns, name)
