"""Where a connection's regions are: a public cloud's from its real region table (also the
regions the local cloud does not imitate), a private cloud's from the connection, else nowhere
(never a made-up city); and which class serves each cloud kind."""

from __future__ import annotations

from typing import Any

from drivers.aws import AwsDriver
from drivers.connection import CLOUDS, Location, parse_connection
from drivers.gcp import GceDriver
from drivers.openstack import OpenStackDriver
from drivers.registry import DRIVER_CLASSES, connection_driver, driver_class

OPENSTACK_CREDENTIALS = {
    "auth_url": "http://127.0.0.1:1/v3",
    "username": "u",
    "password": "p",
    "project_name": "p",
}
GCP_CREDENTIALS = {"service_account_email": "sa@p.example", "key_file": "/k.json", "project": "p"}


def places(regions: list[Any]) -> list[tuple[str, str, float, float]]:
    return [(r.name, r.display_name, r.latitude, r.longitude) for r in regions]


async def test_a_real_gcp_region_has_its_real_place() -> None:
    connection = parse_connection(
        {
            "name": "my-gcp",
            "cloud": "gcp",
            "regions": ["asia-south1", "africa-south1"],
            "credentials": GCP_CREDENTIALS,
        }
    )
    driver = connection_driver(connection)
    try:
        assert isinstance(driver, GceDriver)
        assert places(await driver.regions()) == [
            ("asia-south1", "Mumbai", 19.08, 72.88),
            ("africa-south1", "Johannesburg", -26.20, 28.05),
        ]
    finally:
        await driver.aclose()


async def test_a_private_cloud_region_is_placed_by_its_connection_or_not_at_all() -> None:
    entry: dict[str, Any] = {
        "name": "lab",
        "cloud": "openstack",
        "regions": ["RegionOne", "RegionTwo"],
        "credentials": OPENSTACK_CREDENTIALS,
    }
    unplaced = OpenStackDriver.from_connection(parse_connection(entry))
    assert await unplaced.regions() == []  # not Daejeon, not (0, 0): unknown

    located = {"RegionTwo": {"display_name": "Lyon", "latitude": 45.76, "longitude": 4.84}}
    placed = OpenStackDriver.from_connection(parse_connection({**entry, "locations": located}))
    assert places(await placed.regions()) == [("RegionTwo", "Lyon", 45.76, 4.84)]
    await unplaced.aclose()
    await placed.aclose()


async def test_a_connection_location_wins_over_the_public_table() -> None:
    where = Location(latitude=41.6, longitude=-93.6)
    driver = GceDriver.around(None, "us-central1", locations={"us-central1": where})
    assert places(await driver.regions()) == [("us-central1", "us-central1", 41.6, -93.6)]
    await driver.aclose()


def test_every_cloud_kind_has_its_own_driver_class() -> None:
    assert set(DRIVER_CLASSES) == set(CLOUDS)
    assert all(driver_class(kind).cloud == kind for kind in DRIVER_CLASSES)
    assert driver_class("aws") is AwsDriver
