"""The GCP driver over Libcloud's GCE driver: custom networks with one subnetwork per subnet,
firewalls for security groups, the public key handed to VMs as `ssh-keys` metadata (GCE has no
key-pair resource), tags as labels (lowercased to GCE's label rules), the native state from the
instance's `status` (PROVISIONING, RUNNING, TERMINATED, ...).

A region's NodeDrivers work in one zone of it: `<region>-<option zone>` when the connection sets
`zone`, else the region's first zone in name order that is UP (listed once per region: not
every region has an `-a` zone). GCE's constructor already calls the API. VM names are cut to
GCE's 63 characters (drivers/libcloud_base.py). Region places: `catalog.regions.GCE_REGIONS`.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Sequence
from typing import Any

from libcloud.compute.types import NodeState

from catalog.entries import Image
from catalog.regions import GCE_REGIONS
from drivers.connection import Connection
from drivers.errors import CloudNotFoundError
from drivers.libcloud_base import LibcloudDriver, Node, NodeDriver, extra, last_segment
from models.cloud import (
    CloudKeyPair,
    CloudSecurityGroup,
    CloudVNet,
    FirewallRule,
    SubnetSpec,
    VmCreateRequest,
)

IMAGE_NAME = re.compile(r"^(ubuntu|debian|rocky|centos|almalinux|rhel|sles|cos)-")
"""The public images offered (GCE lists thousands, of many families)."""


def first_zone(driver: NodeDriver, region: str) -> str:
    """The name of `region`'s first zone (name order), preferring one that is UP."""
    zones = sorted(
        (z for z in driver.ex_list_zones() if last_segment(z.extra.get("region")) == region),
        key=lambda z: (z.status != "UP", z.name),
    )
    if not zones:
        raise CloudNotFoundError(f"GCE lists no zone of region {region!r}", "NoZone")
    return str(zones[0].name)


def gce_label(value: str) -> str:
    """GCE label rules: lowercase letters, digits, '_' and '-', at most 63 characters."""
    return re.sub(r"[^a-z0-9_-]", "_", value.lower())[:63]


class GceDriver(LibcloudDriver):
    """The CloudDriver of one GCP connection."""

    cloud = "gcp"
    public_regions = GCE_REGIONS
    tags_key = "labels"
    max_name_length = 63
    native_states = {
        NodeState.PENDING: "PROVISIONING",
        NodeState.STARTING: "STAGING",
        NodeState.RUNNING: "RUNNING",
        NodeState.REBOOTING: "STOPPING",
        NodeState.STOPPING: "STOPPING",
        NodeState.STOPPED: "TERMINATED",
        NodeState.SUSPENDED: "SUSPENDED",
        NodeState.TERMINATED: "TERMINATED",
    }

    @classmethod
    def client_factory(cls, connection: Connection) -> Callable[[str], NodeDriver]:
        from libcloud.compute.providers import Provider, get_driver

        zones: dict[str, str] = {}
        """The zone of each region, chosen once (every thread's NodeDriver works in it)."""
        choosing = threading.Lock()

        def in_zone(zone: str | None) -> NodeDriver:
            return get_driver(Provider.GCE)(
                connection.secret("service_account_email"),
                connection.secret("key_file"),
                project=connection.secret("project"),
                datacenter=zone,
            )

        def zone_of(region: str) -> str:
            with choosing:
                if region not in zones:
                    zone = connection.options.get("zone")
                    zones[region] = (
                        f"{region}-{zone}" if zone else first_zone(in_zone(None), region)
                    )
                return zones[region]

        def node_driver(region: str) -> NodeDriver:
            return in_zone(zone_of(region))

        return node_driver

    @classmethod
    def native_status(cls, node: Node) -> str:
        return str(extra(node).get("status") or super().native_status(node))

    @classmethod
    def node_spec(cls, node: Node) -> str:
        return last_segment(extra(node).get("machineType"))

    @classmethod
    def node_image(cls, node: Node) -> str:
        return last_segment(extra(node).get("image"))

    def _wanted_tags(self, tags: dict[str, str]) -> dict[str, str]:
        return {gce_label(k): gce_label(v) for k, v in tags.items()}

    async def images(self, region: str | None = None) -> list[Image]:
        """The public images of the usual Linux families, named and described by their name."""
        return [
            image.model_copy(update={"name": image.os})
            for image in await super().images(region)
            if IMAGE_NAME.match(image.os)
        ]

    async def ensure_vnet(
        self,
        region: str,
        name: str,
        cidr: str,
        subnets: Sequence[SubnetSpec],
        tags: dict[str, str],
    ) -> CloudVNet:
        def ensure(d: NodeDriver) -> CloudVNet:
            network = next((n for n in d.ex_list_networks() if n.name == name), None)
            if network is None:
                network = d.ex_create_network(name, None, mode="custom")
            have = {s.name for s in d.ex_list_subnetworks(region=region)}
            ids = {}
            for spec in subnets:
                subnet_name = f"{name}-{spec.name}"
                if subnet_name not in have:
                    d.ex_create_subnetwork(
                        subnet_name, cidr=spec.cidr, network=network, region=region
                    )
                ids[spec.name] = subnet_name
            return self._vnet(region, name, str(network.name), cidr, ids)

        return await self._call(region, ensure)

    async def delete_vnet(self, region: str, csp_id: str) -> None:
        def delete(d: NodeDriver) -> None:
            network = next((n for n in d.ex_list_networks() if n.name == csp_id), None)
            if network is None:
                return
            for subnet in d.ex_list_subnetworks(region=region):
                if last_segment(getattr(subnet, "network", "")) == csp_id or (
                    str(subnet.name).startswith(f"{csp_id}-")
                ):
                    d.ex_destroy_subnetwork(subnet)
            d.ex_destroy_network(network)

        await self._call(region, delete)

    async def ensure_security_group(
        self,
        region: str,
        name: str,
        vnet_csp_id: str,
        rules: Sequence[FirewallRule],
        tags: dict[str, str],
    ) -> CloudSecurityGroup:
        """A firewall of the network allowing the inbound rules (from their CIDRs)."""

        def ensure(d: NodeDriver) -> str:
            existing = next((f for f in d.ex_list_firewalls() if f.name == name), None)
            if existing is not None:
                return str(existing.name)
            inbound = [r for r in rules if r.direction == "inbound"]
            sources = sorted({r.cidr for r in inbound}) or ["0.0.0.0/0"]
            allowed = []
            for rule in inbound:
                entry: dict[str, Any] = {"IPProtocol": rule.protocol}
                if rule.protocol in ("tcp", "udp"):
                    ports = str(rule.from_port)
                    if rule.to_port != rule.from_port:
                        ports = f"{rule.from_port}-{rule.to_port}"
                    entry["ports"] = [ports]
                allowed.append(entry)
            created = d.ex_create_firewall(
                name, allowed, network=vnet_csp_id, source_ranges=sources
            )
            return str(created.name)

        csp_id = await self._call(region, ensure)
        return self._group(region, csp_id, name, vnet_csp_id, rules, tags)

    async def delete_security_group(self, region: str, csp_id: str) -> None:
        def delete(d: NodeDriver) -> None:
            found = next((f for f in d.ex_list_firewalls() if f.name == csp_id), None)
            if found is not None:
                d.ex_destroy_firewall(found)

        await self._call(region, delete)

    async def import_key_pair(
        self, region: str, name: str, public_key: str, tags: dict[str, str]
    ) -> CloudKeyPair:
        return self._public_key_as_pair(region, public_key)

    def _create_node(
        self, d: NodeDriver, region: str, request: VmCreateRequest, size: Any, tags: dict[str, str]
    ) -> Node:
        metadata = {"ssh-keys": f"mcis:{request.key_name}"} if request.key_name else None
        return d.create_node(
            request.name,
            size,
            request.image,
            ex_network=request.vnet_csp_id or "default",
            ex_subnetwork=request.subnet_csp_id or None,
            ex_tags=request.security_group_csp_ids or None,
            ex_metadata=metadata,
            ex_labels=self._wanted_tags(tags),
        )
