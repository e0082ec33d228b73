"""The catalog and recommend over HTTP (ASGI, a temporary store holding the local cloud's
catalog): specs under the CLI's filters, cheapest first, the same rows `mcis catalog specs
--json` prints; recommendations best first; bad filters and unknown clouds are 4xx JSON."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import httpx
import pytest

from catalog.local_cloud import local_cloud_catalog
from catalog.records import CatalogRegion, CatalogSource, CatalogSpec, RttSource
from catalog.sources import drivers_origin, estimated_rtts
from catalog.store import CatalogStore
from starter.cli import run
from tests.api.native_fakes import FakeContext, fake_app, http_client, refused

LocalCatalog = tuple[list[CatalogRegion], list[CatalogSpec]]


@pytest.fixture(scope="module")
def local_catalog() -> LocalCatalog:
    return asyncio.run(local_cloud_catalog())


@pytest.fixture
def ctx_app(
    tmp_path: Path,
    local_catalog: tuple[list, list],  # type: ignore[type-arg]
) -> tuple[FakeContext, httpx.AsyncClient]:
    """The app, its catalog loaded as if from its (no) drivers, so nothing reloads it."""
    app, ctx = fake_app(tmp_path)
    catalog = CatalogStore.from_settings(ctx.settings)
    regions, specs = local_catalog
    origin = drivers_origin({}, ctx.settings.localcloud_url)
    catalog.replace_source(CatalogSource.DRIVERS, regions, specs, origin=origin)
    catalog.replace_rtt(RttSource.ESTIMATED, estimated_rtts(catalog.regions()), origin="test")
    catalog.close()
    return ctx, http_client(app)


async def test_specs_are_filtered_as_the_cli_filters_them(
    http: httpx.AsyncClient,
    ctx_app: tuple[FakeContext, httpx.AsyncClient],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    answer = await http.get(
        "/v1/catalog/specs",
        params={"provider": "gcp", "vcpus": "2..4", "max_price": "0.2", "limit": "5"},
    )
    assert answer.status_code == 200, answer.text
    specs = answer.json()
    assert 0 < len(specs) <= 5
    assert all(s["provider"] == "gcp" and 2 <= s["vcpus"] <= 4 for s in specs)
    prices = [s["price_per_hour"] for s in specs]
    assert prices == sorted(prices) and max(prices) <= 0.2

    settings = ctx_app[0].settings
    monkeypatch.setenv("MCIS_HOME", str(settings.home))
    monkeypatch.setenv("MCIS_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("MCIS_LOCALCLOUD_ENABLED", "false")
    monkeypatch.setenv("MCIS_LOCALCLOUD_URL", settings.localcloud_url)
    argv = ["catalog", "specs", "--provider", "gcp", "--vcpus", "2..4", "--max-price", "0.2"]
    assert await run([*argv, "--limit", "5", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == specs


async def test_recommend_ranks_best_first(http: httpx.AsyncClient) -> None:
    answer = await http.get(
        "/v1/recommend",
        params={"vcpus": "2", "priority": "cost=1,location=1", "near": "37.56,126.97", "limit": 3},
    )
    assert answer.status_code == 200, answer.text
    best = answer.json()
    assert len(best) == 3 and all(r["spec"]["vcpus"] == 2 for r in best)
    totals = [r["total"] for r in best]
    assert totals == sorted(totals, reverse=True)
    assert set(best[0]["scores"]) == {"cost", "location"}


@pytest.mark.parametrize(
    ("path", "status", "says"),
    [
        ("/v1/catalog/specs?vcpus=4..2", 400, "the minimum exceeds the maximum"),
        ("/v1/catalog/specs?vcpus=many", 400, "expected MIN..MAX"),
        ("/v1/catalog/specs?min_vcpus=-1", 400, "min_vcpus"),
        ("/v1/catalog/specs?max_price=inf", 400, "max_price"),
        ("/v1/catalog/specs?provider=nocloud", 400, "unknown cloud 'nocloud'"),
        ("/v1/catalog/specs?source=moon", 400, "unknown source 'moon'"),
        ("/v1/catalog/images?provider=nocloud", 400, "unknown cloud 'nocloud'"),
        ("/v1/recommend?near=north", 400, "expected LAT,LON"),
        ("/v1/recommend?priority=speed=1", 400, "unknown priority 'speed'"),
        ("/v1/recommend?latency_to=moon/base", 400, "unknown region 'moon/base'"),
        ("/v1/recommend?limit=0", 400, "limit"),
    ],
)
async def test_bad_filters_are_4xx_json(
    http: httpx.AsyncClient, path: str, status: int, says: str
) -> None:
    await refused(http, "GET", path, None, status, says)
