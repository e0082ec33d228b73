"""Which driver class serves which cloud, and the drivers of a worker or a CLI.

`DRIVER_CLASSES` names each connection's cloud kind's class (one per cloud, each made with
`from_connection`), imported by `driver_class` when a connection of that cloud is used (boto3
and Libcloud stay out of a command that needs neither). `cloud_drivers(settings)` gives one
driver per local cloud flavor (aws, gcp, azure, alibaba, openstack, cloudit) unless
`MCIS_LOCALCLOUD_ENABLED=false`, plus one per connection of the credentials file, keyed by
connection name. A connection may not take a local flavor's name while the local cloud is
enabled (`ConnectionsError` says so): `aws` would otherwise mean two clouds.
"""

from __future__ import annotations

from functools import cache
from importlib import import_module
from pathlib import Path
from typing import TYPE_CHECKING

from drivers.base import CloudDriver
from drivers.connection import CloudKind, Connection, ConnectionsError
from drivers.credentials import load_connections
from drivers.localcloud import LOCAL_FLAVORS, local_drivers
from settings import Settings

if TYPE_CHECKING:
    from drivers.aws import AwsDriver
    from drivers.libcloud_base import LibcloudDriver

DRIVER_CLASSES: dict[CloudKind, str] = {
    "aws": "drivers.aws:AwsDriver",
    "gcp": "drivers.gcp:GceDriver",
    "azure": "drivers.azure:AzureDriver",
    "openstack": "drivers.openstack:OpenStackDriver",
    "alibaba": "drivers.alibaba:AlibabaDriver",
}


@cache
def driver_class(kind: CloudKind) -> type[AwsDriver] | type[LibcloudDriver]:
    """The class serving cloud `kind`, imported on first use."""
    module, name = DRIVER_CLASSES[kind].split(":")
    found: type[AwsDriver] | type[LibcloudDriver] = getattr(import_module(module), name)
    return found


def shadowing_error(name: str, path: Path) -> ConnectionsError:
    return ConnectionsError(
        f"connection {name!r} in {path} has the name of a local cloud flavor "
        f"({', '.join(LOCAL_FLAVORS)}): rename it (e.g. {name}-prod) or set "
        "MCIS_LOCALCLOUD_ENABLED=false"
    )


def connection_driver(connection: Connection) -> CloudDriver:
    """The driver of one connection (no network call until it is used)."""
    return driver_class(connection.cloud).from_connection(connection)


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
