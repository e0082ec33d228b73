"""Native API: the catalog (`/v1/catalog/specs`, `/v1/catalog/images`, `POST
/v1/catalog/refresh`) and `GET /v1/recommend`, with the filters and priorities of `mcis catalog`
and `mcis recommend` as query parameters (`?vcpus=2..4&provider=aws,gcp&max_price=0.05`)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query

from api.native.common import Body, Ctx
from catalog.entries import Image
from catalog.ranking import Range
from catalog.records import CatalogSpec
from catalog.sources import RefreshReport
from starter import catalog_service
from starter.catalog_service import Priorities, SpecQuery
from starter.errors import CliError

router = APIRouter(tags=["catalog"])

MAX_TEXT = 1000
Text = Annotated[str | None, Query(max_length=MAX_TEXT)]
Names = Annotated[list[str] | None, Query(max_length=100)]


def _range(text: str | None, what: str) -> Range | None:
    try:
        return None if text is None else Range.parse(text, what)
    except ValueError as exc:
        raise CliError(str(exc)) from None


def spec_query(
    min_vcpus: Annotated[int | None, Query(ge=0, le=1_000_000)] = None,
    max_vcpus: Annotated[int | None, Query(ge=0, le=1_000_000)] = None,
    min_memory: Annotated[float | None, Query(ge=0, le=1e9, description="GiB")] = None,
    max_memory: Annotated[float | None, Query(ge=0, le=1e9, description="GiB")] = None,
    max_price: Annotated[float | None, Query(ge=0, le=1e9, description="USD/hour")] = None,
    vcpus: Annotated[str | None, Query(max_length=MAX_TEXT, description="2..4")] = None,
    memory: Annotated[str | None, Query(max_length=MAX_TEXT, description="GiB: 4..16")] = None,
    price: Annotated[str | None, Query(max_length=MAX_TEXT, description="USD/h: ..0.2")] = None,
    provider: Names = None,
    region: Names = None,
) -> SpecQuery:
    """The spec filters of the query string, as the CLI's flags."""
    return SpecQuery(
        min_vcpus=min_vcpus,
        max_vcpus=max_vcpus,
        min_memory=min_memory,
        max_memory=max_memory,
        max_price=max_price,
        vcpus=_range(vcpus, "vcpus"),
        memory=_range(memory, "memory"),
        price=_range(price, "price"),
        provider=provider,
        region=region,
    )


Filters = Annotated[SpecQuery, Depends(spec_query)]


@router.get("/catalog/specs")
async def list_specs(
    ctx: Ctx,
    query: Filters,
    source: Text = None,
    limit: Annotated[int | None, Query(ge=1, le=1_000_000)] = None,
) -> list[CatalogSpec]:
    return await catalog_service.find_specs(ctx, query, source, limit)


@router.get("/catalog/images")
async def list_images(ctx: Ctx, provider: Text = None, region: Text = None) -> list[Image]:
    return await catalog_service.find_images(ctx, provider, region)


class Refresh(Body):
    public: bool = True
    """Also the public clouds' prices (Libcloud's bundled data)."""


@router.post("/catalog/refresh")
async def refresh_catalog(ctx: Ctx, body: Refresh | None = None) -> RefreshReport:
    """Reload the catalog (the RTT file is the server's `$MCIS_HOME/rtt.yaml`, if present)."""
    return await catalog_service.refresh_catalog(ctx, (body or Refresh()).public, None)


@router.get("/recommend")
async def recommend(
    ctx: Ctx,
    query: Filters,
    priority: Annotated[
        str | None, Query(max_length=MAX_TEXT, description="cost=0.6,latency=0.4")
    ] = None,
    near: Annotated[str | None, Query(max_length=MAX_TEXT, description="LAT,LON")] = None,
    latency_to: Annotated[str | None, Query(max_length=MAX_TEXT, description="P/R,P/R")] = None,
    limit: Annotated[int, Query(ge=1, le=1_000_000)] = 10,
) -> list[dict[str, Any]]:
    """The best specs, best first: `{spec, scores, total, measures}` as `mcis recommend --json`."""
    found = await catalog_service.recommend(
        ctx, query, Priorities(priority, near, latency_to), limit
    )
    return [catalog_service.rounded(item) for item in found.best]
