"""Where a CB-Spider connection config (`aws-us-east-1`, registered on the Spider port) points
in mcis: its ProviderName and its region's `Region` (Azure: `location`) and `Zone` keys become
an mcis cloud and region: the local cloud's flavor of that name (`AWS` is `aws`), else an mcis
connection of that cloud that uses the region."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from api.errors import ApiError
from api.tumblebug.state import CompatState
from drivers.credentials import load_connections
from store.registrations import SPIDER

PROVIDERS = ("AWS", "AZURE", "GCP", "ALIBABA", "OPENSTACK", "CLOUDIT")
"""CB-Spider's ProviderName values; each is an mcis cloud in lower case."""

REGION_KEYS = ("region", "location")
"""The key of a Spider region's KeyValueInfoList naming the cloud's region (any case)."""


@dataclass(frozen=True)
class Place:
    """A connection config resolved: the mcis provider (driver) and region it reaches."""

    connection: str
    cloud: str  # Spider's ProviderName, e.g. AWS
    provider: str  # the mcis provider: a local flavor or a connection name
    region: str
    zone: str


def key_value(pairs: list[dict[str, Any]], *keys: str) -> str:
    """The value of the first of `keys` (any case) in a Spider KeyValueInfoList, else ""."""
    found = {str(p.get("Key", "")).lower(): str(p.get("Value", "")) for p in pairs}
    return next((found[k] for k in keys if found.get(k)), "")


def _provider(state: CompatState, cloud: str, region: str) -> str | None:
    """The mcis provider of `cloud` in `region`: the local flavor of that name, else the first
    connection (by name) of that cloud that uses the region."""
    if cloud in state.ctx.drivers:
        return cloud
    connections = load_connections(state.ctx.settings.connections_file)
    return next(
        (
            name
            for name, connection in sorted(connections.items())
            if connection.cloud == cloud and region in connection.regions
        ),
        None,
    )


async def resolve(state: CompatState, config_name: str) -> Place:
    """The place of a registered connection config; 404 unless it and its region are
    registered, 400 unless mcis reaches that cloud region."""
    config = state.registrations.get(SPIDER, "connectionconfig", config_name)
    if config is None:
        raise ApiError(
            404,
            "not_found",
            f"The connection config {config_name} does not exist: register it with CB-Spider "
            "(POST /spider/connectionconfig)",
        )
    region_doc = state.registrations.get(SPIDER, "region", config["RegionName"]) or {}
    region = key_value(region_doc.get("KeyValueInfoList", []), *REGION_KEYS)
    if not region:
        raise ApiError(
            404,
            "not_found",
            f"The region {config['RegionName']} of connection config {config_name} does not "
            "exist or names no Region: register it with CB-Spider (POST /spider/region)",
        )
    cloud = config["ProviderName"]
    provider = _provider(state, cloud.lower(), region)
    if provider is None:
        raise ApiError(
            400,
            "bad_request",
            f"connection config {config_name}: mcis reaches no {cloud} cloud in {region} (no "
            f"local cloud flavor {cloud.lower()} and no mcis connection of it with that region)",
        )
    if region not in await state.regions(provider):
        raise ApiError(
            400,
            "bad_request",
            f"connection config {config_name}: {cloud} has no region {region}",
        )
    zone = key_value(region_doc.get("KeyValueInfoList", []), "zone")
    return Place(config_name, cloud, provider, region, zone)
