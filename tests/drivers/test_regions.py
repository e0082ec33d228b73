"""A real connection's region that the local cloud lacks is placed where it is: GCE `asia-south1`
(Mumbai) gets the coordinates of catalog/regions.py, not (0, 0) nor a local-cloud site."""

from __future__ import annotations

from catalog.regions import GCE_REGIONS
from tests.drivers.clouds import GCP
from tests.drivers.conftest import make_driver


async def test_a_gce_region_the_local_cloud_lacks_has_its_real_coordinates() -> None:
    driver = make_driver(GCP, node_driver=None, region="asia-south1")
    try:
        [region] = await driver.regions()
    finally:
        await driver.aclose()
    display, latitude, longitude = GCE_REGIONS["asia-south1"]
    assert (region.name, region.latitude, region.longitude) == ("asia-south1", latitude, longitude)
    assert region.display_name == display
