"""Which driver class serves which cloud, and the drivers of a worker or a CLI.

`DRIVER_CLASSES` maps each connection's cloud kind to its class (one per cloud, each made with
`from_connection`); `cloud_drivers(settings)` gives one driver per local cloud flavor (aws, gcp,
azure, alibaba, openstack, cloudit) unless `MCIS_LOCALCLOUD_ENABLED=false`, plus one per
connection of the credentials file, keyed by connection name. A connection may not take a local
flavor's name while the local cloud is enabled (`ConnectionsError` says so): `aws` would
otherwise mean two clouds.
"""

from __future__ import annotations

from pathlib import Path

from drivers.alibaba import AlibabaDriver
from drivers.aws import AwsDriver
from drivers.azure import AzureDriver
from drivers.base import CloudDriver
from drivers.connection import CloudKind, Connection, ConnectionsError
from drivers.credentials import load_connections
from drivers.gcp import GceDriver
from drivers.libcloud_base import LibcloudDriver
from drivers.localcloud import LOCAL_FLAVORS, local_drivers
from drivers.openstack import OpenStackDriver
from settings import Settings

DRIVER_CLASSES: dict[CloudKind, type[AwsDriver] | type[LibcloudDriver]] = {
    "aws": AwsDriver,
    "gcp": GceDriver,
    "azure": AzureDriver,
    "openstack": OpenStackDriver,
    "alibaba": AlibabaDriver,
}


def shadowing_error(name: str, path: Path) -> ConnectionsError:
    return ConnectionsError(
        f"connection {name!r} in {path} has the name of a local cloud flavor "
        f"({', '.join(LOCAL_FLAVORS)}): rename it (e.g. {name}-prod) or set "
        "MCIS_LOCALCLOUD_ENABLED=false"
    )


def connection_driver(connection: Connection) -> CloudDriver:
    """The driver of one connection (no network call until it is used)."""
    return DRIVER_CLASSES[connection.cloud].from_connection(connection)


def cloud_drivers(settings: Settings) -> dict[str, CloudDriver]:
    """Every driver of a worker or a CLI, keyed by provider name: the local cloud's flavors (unless
    disabled) and the connections of the credentials file."""
    path = settings.connections_file
    connections = load_connections(path)
    drivers: dict[str, CloudDriver] = {}
    if settings.localcloud_enabled:
        for name in connections:
            if name in LOCAL_FLAVORS:
                raise shadowing_error(name, path)
        drivers.update(local_drivers(settings.localcloud_url))
    for name, connection in connections.items():
        drivers[name] = connection_driver(connection)
    return drivers
