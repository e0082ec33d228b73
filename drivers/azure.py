"""The Azure driver over Libcloud's Azure ARM driver. Libcloud cannot make virtual networks or
network security groups, so mcis adopts those of the connection's `resource_group` by name (and
never deletes them); VMs are made in that resource group with managed disks, the public key as
their SSH key (Azure has no key-pair resource) and mcis's tags as Azure tags; VM names are cut
to Azure's 64 characters (drivers/libcloud_base.py).

The native state is the VM's power state read from its instance view (`running`,
`deallocated`, ...; `creating`, `deleting` or `failed` while provisioning): Libcloud folds
deallocating into its creating state. Images are a curated set of URNs (Azure lists images per
publisher/offer/sku: thousands, slowly). Region places: `catalog.regions.AZURE_REGIONS`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from libcloud.common.exceptions import BaseHTTPError
from libcloud.compute.types import NodeState

from catalog.entries import Image
from catalog.regions import AZURE_REGIONS
from drivers.connection import Connection
from drivers.errors import InvalidRequestError
from drivers.libcloud_base import (
    LibcloudDriver,
    Node,
    NodeDriver,
    endpoint_kwargs,
    extra,
    last_segment,
)
from models.cloud import (
    CloudKeyPair,
    CloudSecurityGroup,
    CloudVNet,
    FirewallRule,
    SubnetSpec,
    VmCreateRequest,
)

IMAGES: tuple[tuple[str, str], ...] = (
    ("Canonical:0001-com-ubuntu-server-jammy:22_04-lts-gen2:latest", "ubuntu-22.04"),
    ("Canonical:ubuntu-24_04-lts:server:latest", "ubuntu-24.04"),
    ("Debian:debian-12:12-gen2:latest", "debian-12"),
)
"""The images offered: URN (publisher:offer:sku:version) and OS."""


def azure_power_state(driver: NodeDriver, node: Node) -> str | None:
    """Azure's native state of a VM from its instance view (`running`, `deallocated`, ...;
    `creating`, `deleting` or `failed` while provisioning), or None if it cannot be read."""
    from libcloud.compute.drivers.azure_arm import INSTANCE_VIEW_API_VERSION

    try:
        answer = driver.connection.request(
            f"{node.id}/InstanceView", params={"api-version": INSTANCE_VIEW_API_VERSION}
        )
    except BaseHTTPError:
        return None
    power = None
    for status in answer.object.get("statuses", []):
        code = str(status.get("code", ""))
        if code in ("ProvisioningState/creating", "ProvisioningState/deleting"):
            return code.rsplit("/", 1)[1]
        if code.startswith("ProvisioningState/failed"):
            return "failed"
        if code.startswith("PowerState/"):
            power = code.rsplit("/", 1)[1]
    return power


class AzureDriver(LibcloudDriver):
    """The CloudDriver of one Azure connection (VMs need the option `resource_group`)."""

    cloud = "azure"
    public_regions = AZURE_REGIONS
    max_name_length = 64
    gone_states = frozenset({"deleting"})
    failed_states = frozenset({"failed"})
    native_states = {
        NodeState.PENDING: "creating",
        NodeState.STARTING: "starting",
        NodeState.RUNNING: "running",
        NodeState.REBOOTING: "starting",
        NodeState.STOPPING: "stopping",
        NodeState.PAUSED: "stopped",
        NodeState.STOPPED: "deallocated",
        NodeState.TERMINATED: "deleting",
        NodeState.ERROR: "failed",
        NodeState.UPDATING: "updating",
    }

    @classmethod
    def client_factory(cls, connection: Connection) -> Callable[[str], NodeDriver]:
        from libcloud.compute.providers import Provider, get_driver

        def node_driver(region: str) -> NodeDriver:
            return get_driver(Provider.AZURE_ARM)(
                tenant_id=connection.secret("tenant_id"),
                subscription_id=connection.secret("subscription_id"),
                key=connection.secret("client_id"),
                secret=connection.secret("client_secret"),
                region=region,
                **endpoint_kwargs(connection),
            )

        return node_driver

    @property
    def _resource_group(self) -> str:
        return self.options.get("resource_group", "")

    @classmethod
    def native_status(cls, node: Node) -> str:
        return str(extra(node).get("power_state") or super().native_status(node))

    @classmethod
    def node_spec(cls, node: Node) -> str:
        props = extra(node).get("properties") or {}
        return str((props.get("hardwareProfile") or {}).get("vmSize") or "")

    def _list_nodes(self, d: NodeDriver) -> list[Node]:
        group = self._resource_group or None
        nodes = list(d.list_nodes(ex_resource_group=group, ex_fetch_power_state=False))
        for node in nodes:
            node.extra["power_state"] = azure_power_state(d, node)
        return nodes

    async def images(self, region: str | None = None) -> list[Image]:
        return [
            Image(provider=self.provider, region=name, name=urn, os=os_name)
            for name in self._regions_or(region)
            for urn, os_name in IMAGES
        ]

    async def ensure_vnet(
        self,
        region: str,
        name: str,
        cidr: str,
        subnets: Sequence[SubnetSpec],
        tags: dict[str, str],
    ) -> CloudVNet:
        """The existing virtual network `name` with its subnets `<spec>` or `<name>-<spec>`."""

        def adopt(d: NodeDriver) -> CloudVNet:
            network = next((n for n in d.ex_list_networks() if n.name == name), None)
            if network is None:
                group = self._resource_group or "<resource group>"
                raise self._unsupported(
                    "ensure_vnet",
                    f" (create the virtual network {name!r} in resource group {group} first)",
                )
            have = {s.name: s for s in d.ex_list_subnets(network)}
            ids = {}
            for spec in subnets:
                subnet = have.get(spec.name) or have.get(f"{name}-{spec.name}")
                if subnet is None:
                    raise self._unsupported(
                        "ensure_vnet", f" (virtual network {name!r} has no subnet {spec.name!r})"
                    )
                ids[spec.name] = str(subnet.id)
            return self._vnet(region, name, str(network.id), cidr, ids)

        return await self._call(region, adopt)

    async def delete_vnet(self, region: str, csp_id: str) -> None:
        """Adopted, not made by mcis: left as it is."""

    async def ensure_security_group(
        self,
        region: str,
        name: str,
        vnet_csp_id: str,
        rules: Sequence[FirewallRule],
        tags: dict[str, str],
    ) -> CloudSecurityGroup:
        """The existing network security group `name` of the resource group."""

        def adopt(d: NodeDriver) -> str:
            group = self._resource_group
            groups = d.ex_list_network_security_groups(group) if group else []
            found = next((g for g in groups if g.name == name), None)
            if found is None:
                raise self._unsupported(
                    "ensure_security_group",
                    f" (create the network security group {name!r} in resource group "
                    f"{group or '<resource_group option>'} first)",
                )
            return str(found.id)

        csp_id = await self._call(region, adopt)
        return self._group(region, csp_id, name, vnet_csp_id, rules, tags)

    async def delete_security_group(self, region: str, csp_id: str) -> None:
        """Adopted, not made by mcis: left as it is."""

    async def import_key_pair(
        self, region: str, name: str, public_key: str, tags: dict[str, str]
    ) -> CloudKeyPair:
        return self._public_key_as_pair(region, public_key)

    def _create_node(
        self, d: NodeDriver, region: str, request: VmCreateRequest, size: Any, tags: dict[str, str]
    ) -> Node:
        from libcloud.compute.base import NodeAuthSSHKey
        from libcloud.compute.drivers.azure_arm import AzureImage

        if not self._resource_group:
            raise InvalidRequestError(
                f"{self._what}: set the connection option resource_group to create VMs",
                "MissingResourceGroup",
            )
        publisher, offer, sku, version = [*request.image.split(":"), "", "", ""][:4]
        return d.create_node(
            request.name,
            size,
            AzureImage(  # type: ignore[no-untyped-call]
                version or "latest", sku, offer, publisher, region, d
            ),
            NodeAuthSSHKey(request.key_name),
            ex_resource_group=self._resource_group,
            ex_network=last_segment(request.vnet_csp_id) or None,
            ex_subnet=last_segment(request.subnet_csp_id) or None,
            ex_tags=tags,
            ex_use_managed_disks=True,
        )
