"""The Alibaba Cloud driver over Libcloud's ECS driver. Libcloud offers no VPC, security group
or key-pair calls for ECS: those are methods this class does not override (NotSupportedError),
so VMs go into an existing vSwitch and security group given by id.

Nodes carry no tags in Libcloud: mcis keeps them as JSON in the instance description, and gives
the client token to ECS as its ClientToken too. The native state is DescribeInstances' `Status`
(Libcloud folds Starting and Stopping into one NodeState), read with Libcloud's own parsing.
Region places: `catalog.regions.ALIBABA_REGIONS`.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from libcloud.compute.types import NodeState

from catalog.regions import ALIBABA_REGIONS
from drivers.connection import Connection
from drivers.libcloud_base import LibcloudDriver, Node, NodeDriver, endpoint_kwargs, extra
from models.cloud import VmCreateRequest

DESCRIPTION_PREFIX = "mcis-tags:"


def ecs_nodes(driver: NodeDriver) -> list[Node]:
    """Alibaba's nodes with their native `Status` kept in `extra["status"]`: DescribeInstances,
    parsed as Libcloud does."""
    from libcloud.utils.xml import findall, findtext

    def parse(body: Any) -> list[Node]:
        nodes = []
        for element in findall(body, "Instances/Instance", namespace=driver.namespace):  # type: ignore[no-untyped-call]
            node = driver._to_node(element)
            node.extra["status"] = findtext(  # type: ignore[no-untyped-call]
                element, "Status", namespace=driver.namespace
            )
            nodes.append(node)
        return nodes

    params = {"Action": "DescribeInstances", "RegionId": driver.region}
    return list(driver._request_multiple_pages(driver.path, params, parse))


class AlibabaDriver(LibcloudDriver):
    """The CloudDriver of one Alibaba Cloud connection."""

    cloud = "alibaba"
    public_regions = ALIBABA_REGIONS
    gone_states = frozenset({"Deleted"})
    native_states = {
        NodeState.PENDING: "Pending",
        NodeState.STARTING: "Starting",
        NodeState.RUNNING: "Running",
        NodeState.STOPPING: "Stopping",
        NodeState.STOPPED: "Stopped",
        NodeState.TERMINATED: "Deleted",
    }

    @classmethod
    def client_factory(cls, connection: Connection) -> Callable[[str], NodeDriver]:
        from libcloud.compute.providers import Provider, get_driver

        def node_driver(region: str) -> NodeDriver:
            return get_driver(Provider.ALIYUN_ECS)(
                connection.secret("access_key_id"),
                connection.secret("access_key_secret"),
                region=region,
                **endpoint_kwargs(connection),
            )

        return node_driver

    @classmethod
    def native_status(cls, node: Node) -> str:
        return str(extra(node).get("status") or super().native_status(node))

    @classmethod
    def node_tags(cls, node: Node) -> dict[str, str]:
        description = str(extra(node).get("description") or "")
        if not description.startswith(DESCRIPTION_PREFIX):
            return {}
        try:
            raw = json.loads(description.removeprefix(DESCRIPTION_PREFIX))
        except ValueError:
            return {}
        return {str(k): str(v) for k, v in raw.items()} if isinstance(raw, dict) else {}

    @classmethod
    def node_spec(cls, node: Node) -> str:
        return str(extra(node).get("instance_type") or "")

    @classmethod
    def node_image(cls, node: Node) -> str:
        return str(extra(node).get("image_id") or "")

    def _list_nodes(self, d: NodeDriver) -> list[Node]:
        return ecs_nodes(d)

    def _create_node(
        self, d: NodeDriver, region: str, request: VmCreateRequest, size: Any, tags: dict[str, str]
    ) -> Node:
        return d.create_node(
            request.name,
            size,
            self._image(d, request.image),
            ex_security_group_id=next(iter(request.security_group_csp_ids), None),
            ex_vswitch_id=request.subnet_csp_id or None,
            ex_description=DESCRIPTION_PREFIX + json.dumps(tags, separators=(",", ":")),
            ex_client_token=request.client_token,
        )
