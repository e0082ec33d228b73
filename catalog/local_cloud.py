"""The local cloud's catalog without a running local cloud, for tests and benchmarks: its app
in process over a scratch database, read through its drivers (`sources.drivers_catalog`) as
`mcis catalog refresh` reads a running one: the same regions, specs and prices, never read from
the local cloud's own flavor table."""

from __future__ import annotations

import tempfile
from pathlib import Path

import httpx

from catalog.records import CatalogRegion, CatalogSpec
from catalog.sources import drivers_catalog
from drivers.localcloud import LOCAL_FLAVORS, LocalCloudDriver
from localcloud.app import create_app

IN_PROCESS_URL = "http://localcloud.in-process"


async def local_cloud_catalog() -> tuple[list[CatalogRegion], list[CatalogSpec]]:
    """Every region and spec (with its price) the local cloud's drivers report."""
    with tempfile.TemporaryDirectory(prefix="mcis-localcloud-") as home:
        app = create_app(Path(home) / "cloud.db", time_scale=0.0)
        transport = httpx.ASGITransport(app=app)
        async with (
            app.router.lifespan_context(app),  # closes its database after
            httpx.AsyncClient(transport=transport) as client,
        ):
            drivers = {
                name: LocalCloudDriver(name, IN_PROCESS_URL, client) for name in LOCAL_FLAVORS
            }
            return await drivers_catalog(drivers)
