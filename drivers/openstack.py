"""The OpenStack driver over Libcloud's OpenStack (Nova 2.x, Neutron) driver: neutron networks
and subnets, security groups with their inbound rules (a port of -1, as ICMP's, goes to Neutron
as null), key pairs, servers with mcis's tags as metadata.

The native state is the server status (ACTIVE, SHUTOFF, BUILD, ...) that Libcloud's NodeState
was derived from; the task state tells REBOOT from HARD_REBOOT and the vm state what an unknown
status is. A private cloud has no public region table: a region's place is the connection's
`locations` entry, else unknown (see drivers/base.py).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from libcloud.compute.types import KeyPairDoesNotExistError, NodeState

from drivers.base import normalized_public_key, public_key_digest
from drivers.connection import Connection
from drivers.libcloud_base import LibcloudDriver, Node, NodeDriver, extra
from models.cloud import (
    CloudKeyPair,
    CloudSecurityGroup,
    CloudVNet,
    FirewallRule,
    SubnetSpec,
    VmCreateRequest,
)

VM_STATES = {
    "active": "ACTIVE",
    "building": "BUILD",
    "stopped": "SHUTOFF",
    "error": "ERROR",
    "deleted": "DELETED",
    "soft-delete": "DELETED",
    "paused": "PAUSED",
    "suspended": "SUSPENDED",
    "shelved": "SHELVED",
    "shelved_offloaded": "SHELVED_OFFLOADED",
    "rescued": "RESCUE",
    "resized": "VERIFY_RESIZE",
}
"""Nova's `OS-EXT-STS:vm_state` -> the server status the seed's table speaks."""


def neutron_port(port: Any) -> int | None:
    """A rule's port as Neutron takes it: None (any: ICMP's -1) or 0-65535."""
    return None if port is None or int(port) < 0 else int(port)


class OpenStackDriver(LibcloudDriver):
    """The CloudDriver of one OpenStack connection."""

    cloud = "openstack"
    tags_key = "metadata"
    gone_states = frozenset({"DELETED"})
    failed_states = frozenset({"ERROR"})
    native_states = {
        NodeState.PENDING: "BUILD",
        NodeState.RECONFIGURING: "RESIZE",
        NodeState.RUNNING: "ACTIVE",
        NodeState.REBOOTING: "REBOOT",
        NodeState.STOPPED: "SHUTOFF",
        NodeState.SUSPENDED: "SUSPENDED",
        NodeState.PAUSED: "PAUSED",
        NodeState.ERROR: "ERROR",
        NodeState.TERMINATED: "DELETED",
    }

    @classmethod
    def client_factory(cls, connection: Connection) -> Callable[[str], NodeDriver]:
        from libcloud.compute.providers import Provider, get_driver

        def node_driver(region: str) -> NodeDriver:
            kwargs: dict[str, Any] = {
                "ex_force_auth_url": connection.secret("auth_url"),
                "ex_force_auth_version": connection.options.get("auth_version", "3.x_password"),
                "ex_tenant_name": connection.secret("project_name"),
                "ex_domain_name": connection.secret("domain_name") or "Default",
                "ex_force_service_region": region,
                "api_version": "2.0",
            }
            if connection.endpoint_url:
                kwargs["ex_force_base_url"] = connection.endpoint_url
            return get_driver(Provider.OPENSTACK)(
                connection.secret("username"), connection.secret("password"), **kwargs
            )

        return node_driver

    def _live(self, node: Node) -> bool:
        """Nova lists a server being deleted as ACTIVE (task_state `deleting`) for a while: it
        is gone for mcis, so a VM recreated under its name is not refused as taken."""
        return super()._live(node) and extra(node).get("task_state") != "deleting"

    @classmethod
    def native_status(cls, node: Node) -> str:
        if node.state == NodeState.REBOOTING:
            return "HARD_REBOOT" if "hard" in str(extra(node).get("task_state") or "") else "REBOOT"
        vm_state = str(extra(node).get("vm_state") or "").lower()
        if node.state == NodeState.UNKNOWN and vm_state:
            return VM_STATES.get(vm_state, vm_state.upper())
        return super().native_status(node)

    @classmethod
    def node_spec(cls, node: Node) -> str:
        return str(extra(node).get("flavorId") or "")

    @classmethod
    def node_image(cls, node: Node) -> str:
        return str(extra(node).get("imageId") or "")

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
                network = d.ex_create_network(name=name)
            have = {s.name: s for s in d.ex_list_subnets() if s.network_id == network.id}
            ids = {}
            for spec in subnets:
                subnet_name = f"{name}-{spec.name}"
                subnet = have.get(subnet_name)
                if subnet is None:
                    subnet = d.ex_create_subnet(subnet_name, network, spec.cidr)
                ids[spec.name] = str(subnet.id)
            return self._vnet(region, name, str(network.id), cidr, ids)

        return await self._call(region, ensure)

    async def delete_vnet(self, region: str, csp_id: str) -> None:
        def delete(d: NodeDriver) -> None:
            network = next((n for n in d.ex_list_networks() if str(n.id) == csp_id), None)
            if network is None:
                return
            for subnet in d.ex_list_subnets():
                if subnet.network_id == network.id:
                    d.ex_delete_subnet(subnet)
            d.ex_delete_network(network)

        await self._call(region, delete)

    async def ensure_security_group(
        self,
        region: str,
        name: str,
        vnet_csp_id: str,
        rules: Sequence[FirewallRule],
        tags: dict[str, str],
    ) -> CloudSecurityGroup:
        """The group `name` with every inbound rule (egress is open by default)."""

        def ensure(d: NodeDriver) -> str:
            group = next((g for g in d.ex_list_security_groups() if g.name == name), None)
            if group is None:
                group = d.ex_create_security_group(name, f"mcis {name}")
            have = {
                (
                    str(r.ip_protocol),
                    neutron_port(r.from_port),
                    neutron_port(r.to_port),
                    str(r.ip_range),
                )
                for r in group.rules or []
            }
            for rule in rules:
                if rule.direction != "inbound" or rule.protocol == "all":
                    continue
                ports = neutron_port(rule.from_port), neutron_port(rule.to_port)
                if (rule.protocol, *ports, rule.cidr) not in have:
                    d.ex_create_security_group_rule(group, rule.protocol, *ports, cidr=rule.cidr)
            return str(group.id)

        csp_id = await self._call(region, ensure)
        return self._group(region, csp_id, name, vnet_csp_id, rules, tags)

    async def delete_security_group(self, region: str, csp_id: str) -> None:
        def delete(d: NodeDriver) -> None:
            group = next((g for g in d.ex_list_security_groups() if str(g.id) == csp_id), None)
            if group is not None:
                d.ex_delete_security_group(group)

        await self._call(region, delete)

    @staticmethod
    def _key_pair(d: NodeDriver, name: str) -> Any:
        try:
            return d.get_key_pair(name)
        except KeyPairDoesNotExistError:
            return None

    async def import_key_pair(
        self, region: str, name: str, public_key: str, tags: dict[str, str]
    ) -> CloudKeyPair:
        normalized = normalized_public_key(public_key)

        def ensure(d: NodeDriver) -> CloudKeyPair:
            pair = self._key_pair(d, name)
            if pair is None:
                pair = d.import_key_pair_from_string(name, normalized)
            elif normalized_public_key(str(pair.public_key)) != normalized:
                raise self._key_conflict(name)
            return CloudKeyPair(
                name=name,
                provider=self.provider,
                region=region,
                fingerprint=str(pair.fingerprint or public_key_digest(normalized)),
            )

        return await self._call(region, ensure)

    async def delete_key_pair(self, region: str, name: str) -> None:
        def delete(d: NodeDriver) -> None:
            pair = self._key_pair(d, name)
            if pair is not None:
                d.delete_key_pair(pair)

        await self._call(region, delete)

    def _create_node(
        self, d: NodeDriver, region: str, request: VmCreateRequest, size: Any, tags: dict[str, str]
    ) -> Node:
        from libcloud.compute.drivers.openstack import OpenStackNetwork

        image = self._image(d, request.image)
        groups = [
            g for g in d.ex_list_security_groups() if str(g.id) in request.security_group_csp_ids
        ]
        networks = (
            [OpenStackNetwork(request.vnet_csp_id, None, None, d)]  # type: ignore[no-untyped-call]
            if request.vnet_csp_id
            else None
        )
        return d.create_node(
            name=request.name,
            size=size,
            image=image,
            ex_keyname=request.key_name or None,
            ex_security_groups=groups or None,
            networks=networks,
            ex_metadata=tags,
        )
