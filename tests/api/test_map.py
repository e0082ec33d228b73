"""`GET /v1/map` (and per namespace, per MCIS) over the ASGI app: the regions holding VMs with
their coordinates and counts by status and MCIS, the totals by cloud and status, and every
region pair's RTT, measured where a benchmark stored one, else estimated from the distance."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from api.app import create_app
from catalog.geo import estimated_rtt_ms, haversine_km
from catalog.records import CatalogRegion, CatalogSource, RttMeasurement
from catalog.regions import AWS_REGIONS, AZURE_REGIONS, GCE_REGIONS
from catalog.sources import drivers_origin
from catalog.store import CatalogStore
from models.records import McisRecord, NamespaceRecord, VmRecord
from models.status import VmStatus
from settings import load_settings
from starter.context import Context
from starter.stack import isolated_env

AUTH = ("map", "secret")
SEOUL, BELGIUM, VIRGINIA = "aws/ap-northeast-2", "gcp/europe-west1", "azure/eastus"
MEASURED_MS = 123.4
PLACES = {"aws": AWS_REGIONS, "gcp": GCE_REGIONS, "azure": AZURE_REGIONS}
"""The catalog places these clouds' regions; openstack's are left out of it."""


def vm(mcis: str, name: str, provider: str, region: str, status: VmStatus) -> VmRecord:
    return VmRecord(
        namespace="dev",
        mcis=mcis,
        name=name,
        group=name.rsplit("-", 1)[0],
        provider=provider,
        region=region,
        spec=f"{provider}+{region}+small",
        image=f"{provider}+{region}+ubuntu",
        client_token=f"token-{mcis}-{name}",
        status=status,
    )


def catalog_regions() -> list[CatalogRegion]:
    return [
        CatalogRegion(
            provider=provider,
            name=region,
            display_name=city,
            latitude=latitude,
            longitude=longitude,
            source=CatalogSource.DRIVERS,
        )
        for provider, places in PLACES.items()
        for region, (city, latitude, longitude) in places.items()
    ]


@pytest.fixture
async def ctx(tmp_path: Path) -> AsyncIterator[Context]:
    """A store of three MCIS in two namespaces, a catalog loaded from the drivers (as far as the
    catalog knows: nothing listens at the local cloud's address) with one measured RTT."""
    env = {
        **isolated_env(tmp_path, "map-test"),
        "MCIS_API_USERNAME": AUTH[0],
        "MCIS_API_PASSWORD": AUTH[1],
    }
    ctx = Context(load_settings(env))
    store = ctx.store
    store.create_namespace(NamespaceRecord(name="dev"))
    store.create_namespace(NamespaceRecord(name="other"))
    for mcis in ("web", "db"):
        store.create_mcis(McisRecord(namespace="dev", name=mcis, uid=f"uid-{mcis}"))
    store.create_mcis(McisRecord(namespace="other", name="web", uid="uid-other"))
    running, suspended = VmStatus.RUNNING, VmStatus.SUSPENDED
    store.upsert_vms(
        [
            vm("web", "a-1", "aws", "ap-northeast-2", running),
            vm("web", "a-2", "aws", "ap-northeast-2", suspended),
            vm("web", "g-1", "gcp", "europe-west1", running),
            vm("web", "z-1", "azure", "eastus", running),
            vm("db", "a-1", "aws", "ap-northeast-2", running),
            vm("db", "o-1", "openstack", "RegionOne", running),
            vm("other", "a-1", "aws", "us-east-1", running).model_copy(
                update={"namespace": "other", "mcis": "web"}
            ),
        ]
    )
    catalog = CatalogStore.from_settings(ctx.settings)
    origin = drivers_origin(ctx.drivers, ctx.settings.localcloud_url)
    catalog.replace_source(CatalogSource.DRIVERS, catalog_regions(), [], origin=origin)
    catalog.record_measurements(rtts=[RttMeasurement(a=SEOUL, b=BELGIUM, rtt_ms=MEASURED_MS)])
    catalog.close()
    yield ctx
    await ctx.aclose()


@pytest.fixture
async def client(ctx: Context) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=create_app(ctx.settings, ctx))
    async with httpx.AsyncClient(transport=transport, base_url="http://api", auth=AUTH) as http:
        yield http


async def get(client: httpx.AsyncClient, path: str, status: int = 200) -> Any:
    answer = await client.get(path)
    assert answer.status_code == status, answer.text
    return answer.json()


async def test_map_of_an_mcis_places_its_regions_and_says_where_each_rtt_came_from(
    client: httpx.AsyncClient,
) -> None:
    world = await get(client, "/v1/ns/dev/mcis/web/map")
    assert (world["namespace"], world["mcis"], world["vms"]) == ("dev", "web", 4)
    assert world["warnings"] == []
    assert world["clouds"] == {"aws": 2, "azure": 1, "gcp": 1}
    assert world["statuses"] == {"Running": 3, "Suspended": 1}
    regions = {r["key"]: r for r in world["regions"]}
    assert list(regions) == [SEOUL, VIRGINIA, BELGIUM]  # by key
    seoul = regions[SEOUL]
    assert (seoul["provider"], seoul["region"], seoul["vms"]) == ("aws", "ap-northeast-2", 2)
    assert seoul["status"] == "Partial-Running"
    assert seoul["statuses"] == {"Running": 1, "Suspended": 1}
    assert seoul["mcis"] == {"dev/web": 2}
    assert "Seoul" in seoul["display_name"]
    assert (round(seoul["latitude"]), round(seoul["longitude"])) == (38, 127)
    links = {(link["a"], link["b"]): link for link in world["links"]}
    assert set(links) == {(SEOUL, VIRGINIA), (SEOUL, BELGIUM), (VIRGINIA, BELGIUM)}
    assert links[(SEOUL, BELGIUM)] == {
        "a": SEOUL,
        "b": BELGIUM,
        "rtt_ms": MEASURED_MS,
        "source": "measured",
    }
    virginia, belgium = regions[VIRGINIA], regions[BELGIUM]
    distance = haversine_km(
        virginia["latitude"], virginia["longitude"], belgium["latitude"], belgium["longitude"]
    )
    assert links[(VIRGINIA, BELGIUM)]["source"] == "estimated"
    assert links[(VIRGINIA, BELGIUM)]["rtt_ms"] == estimated_rtt_ms(distance)


async def test_namespace_and_global_maps_count_every_mcis(client: httpx.AsyncClient) -> None:
    namespace = await get(client, "/v1/ns/dev/map")
    assert (namespace["mcis"], namespace["vms"]) == (None, 6)
    regions = {r["key"]: r for r in namespace["regions"]}
    assert regions[SEOUL]["mcis"] == {"dev/db": 1, "dev/web": 2}
    unplaced = regions["openstack/RegionOne"]
    assert (unplaced["vms"], unplaced["latitude"], unplaced["display_name"]) == (1, None, "")
    links = namespace["links"]
    assert len(links) == 4 * 3 // 2
    assert all(
        link["rtt_ms"] is None and link["source"] == "estimated"
        for link in links
        if "openstack/RegionOne" in (link["a"], link["b"])
    )
    everything = await get(client, "/v1/map")
    assert (everything["namespace"], everything["vms"]) == (None, 7)
    assert {r["key"]: r["mcis"] for r in everything["regions"]}["aws/us-east-1"] == {"other/web": 1}


async def test_unknown_or_invalid_names_and_missing_credentials_are_refused(
    client: httpx.AsyncClient,
) -> None:
    missing = await get(client, "/v1/ns/nowhere/map", 404)
    assert missing == {"error": "not_found", "message": "namespace 'nowhere' does not exist"}
    missing = await get(client, "/v1/ns/dev/mcis/nothing/map", 404)
    assert missing["message"] == "MCIS 'nothing' not found in namespace 'dev'"
    invalid = await get(client, "/v1/ns/dev/mcis/Bad_Name/map", 400)
    assert invalid["error"] == "bad_request"
    anonymous = await client.get("/v1/map", auth=None)
    assert anonymous.status_code == 401


async def test_a_cloud_that_cannot_be_read_leaves_the_stored_catalog_and_says_so(
    ctx: Context, client: httpx.AsyncClient
) -> None:
    catalog = CatalogStore.from_settings(ctx.settings)
    catalog.replace_source(CatalogSource.DRIVERS, catalog_regions(), [], origin="elsewhere")
    catalog.close()
    world = await get(client, "/v1/ns/dev/mcis/web/map")
    assert [r["latitude"] is not None for r in world["regions"]] == [True, True, True]
    (warning,) = world["warnings"]
    assert warning.startswith("catalog not reloaded: loading the catalog of cloud ")
    assert "did not answer" in warning
