"""Regions of a real GCE connection: one that the local cloud lacks (`asia-south1`) is placed
where it is (catalog/regions.py), and the Libcloud driver mcis makes for a region (drivers/gcp.py
`client_factory`, the real construction path) works in a zone of that region."""

from __future__ import annotations

from pathlib import Path

import pytest

from catalog.regions import GCE_REGIONS
from drivers.gcp import GceDriver
from tests.drivers.clouds import GCP
from tests.drivers.conftest import Cloud, connection_of, make_driver
from tests.drivers.libcloud_mocks import Route, ours


async def test_a_gce_region_the_local_cloud_lacks_has_its_real_coordinates() -> None:
    driver = make_driver(GCP, new_node_driver=lambda: None, region="asia-south1")
    try:
        [region] = await driver.regions()
    finally:
        await driver.aclose()
    display, latitude, longitude = GCE_REGIONS["asia-south1"]
    assert (region.name, region.latitude, region.longitude) == ("asia-south1", latitude, longitude)
    assert region.display_name == display


@pytest.mark.parametrize("cloud", [GCP], indirect=True, ids=str)
@pytest.mark.parametrize(
    ("options", "zones"),
    [
        ({}, {"us-central1": "us-central1-a", "us-east1": "us-east1-b"}),
        ({"zone": "b"}, {"us-central1": "us-central1-b", "us-east1": "us-east1-b"}),
    ],
    ids=["first-zone", "zone-option"],
)
async def test_the_gce_driver_of_a_region_works_in_a_zone_of_that_region(
    cloud: Cloud, tmp_path: Path, options: dict[str, str], zones: dict[str, str]
) -> None:
    """Without the connection's `zone` option, the region's first zone (us-east1 has no -a)."""
    connection = connection_of(GCP, tmp_path, regions=list(zones), options=options)
    cloud.mock.routes = (
        # Written by us in GCE's format: the zones with the real zones of us-east1 (b, c, d;
        # Libcloud's recording predates the region), and GCE's 404 of a zone it lacks.
        Route(r"GET \S*/zones\?", ours("gcp/zones_with_us-east1.json")),
        Route(
            r"GET \S*/zones/us-east1-a\?",
            ours("gcp/zones_us-east1-a_not_found.json"),
            status=404,
        ),
        *cloud.mock.routes,
    )
    node_drivers = GceDriver.client_factory(connection)
    assert {region: node_drivers(region).zone.name for region in zones} == zones
