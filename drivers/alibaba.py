"""The Alibaba Cloud driver over Libcloud's ECS driver. Libcloud offers no VPC, security group
or key-pair calls for ECS: those are methods this class does not override (NotSupportedError),
so VMs go into an existing vSwitch and security group given by id.

mcis's tags (with the client token) are the instance's ECS tags, set by CreateInstance itself
(`Tag.N.Key`/`Tag.N.Value`, so a VM never exists without them) and read from DescribeInstances'
`Tags`: Libcloud's create_node passes no tags, so the driver sends CreateInstance on Libcloud's
signed connection, then starts the instance as Libcloud does. The client token is also ECS's
ClientToken. The native state is DescribeInstances' `Status` (Libcloud folds Starting and
Stopping into one NodeState), read with Libcloud's own parsing. VM names are cut to ECS's 128
characters (drivers/libcloud_base.py). Region places: `catalog.regions.ALIBABA_REGIONS`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from libcloud.compute.types import NodeState

from catalog.regions import ALIBABA_REGIONS
from drivers.connection import Connection
from drivers.errors import InvalidRequestError, TransientCloudError
from drivers.libcloud_base import LibcloudDriver, Node, NodeDriver, endpoint_kwargs, extra
from models.cloud import VmCreateRequest

DESCRIPTION = "Made by mcis: see the instance's mcis-* tags"
"""The Description of every instance mcis creates (ECS allows 2 to 256 characters)."""
MAX_TAGS = 20
"""ECS: at most 20 tags on a resource, each key and value at most 128 characters."""


def ecs_tag_params(tags: Mapping[str, str]) -> dict[str, str]:
    """`tags` as CreateInstance's `Tag.N.Key`/`Tag.N.Value` parameters (N from 1)."""
    if len(tags) > MAX_TAGS:
        raise InvalidRequestError(f"ECS takes at most {MAX_TAGS} tags, not {len(tags)}", "Tags")
    params = {}
    for n, (key, value) in enumerate(sorted(tags.items()), start=1):
        params[f"Tag.{n}.Key"], params[f"Tag.{n}.Value"] = key, value
    return params


def ecs_nodes(driver: NodeDriver) -> list[Node]:
    """Alibaba's nodes with their native `Status` in `extra["status"]` and their ECS tags in
    `extra["tags"]`: DescribeInstances, parsed as Libcloud does."""
    from libcloud.utils.xml import findall, findtext

    def text(element: Any, path: str) -> str:
        return str(findtext(element, path, namespace=driver.namespace) or "")  # type: ignore[no-untyped-call]

    def parse(body: Any) -> list[Node]:
        nodes = []
        for element in findall(body, "Instances/Instance", namespace=driver.namespace):  # type: ignore[no-untyped-call]
            node = driver._to_node(element)
            node.extra["status"] = text(element, "Status")
            node.extra["tags"] = {
                text(tag, "TagKey"): text(tag, "TagValue")
                for tag in findall(element, "Tags/Tag", namespace=driver.namespace)  # type: ignore[no-untyped-call]
            }
            nodes.append(node)
        return nodes

    params = {"Action": "DescribeInstances", "RegionId": driver.region}
    return list(driver._request_multiple_pages(driver.path, params, parse))


class AlibabaDriver(LibcloudDriver):
    """The CloudDriver of one Alibaba Cloud connection."""

    cloud = "alibaba"
    public_regions = ALIBABA_REGIONS
    max_name_length = 128
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
        """CreateInstance with the tags (what Libcloud's create_node sends, and `Tag.N`), then
        StartInstance (ECS creates an instance stopped): the node as listed after."""
        from libcloud.utils.xml import findtext

        group = next(iter(request.security_group_csp_ids), None)
        if group is None:
            raise InvalidRequestError(
                f"{self._what}: an ECS instance needs a security group", "MissingSecurityGroup"
            )
        params = {
            "Action": "CreateInstance",
            "RegionId": d.region,
            "ImageId": self._image(d, request.image).id,
            "InstanceType": size.id,
            "InstanceName": request.name,
            "SecurityGroupId": group,
            "Description": DESCRIPTION,
            "ClientToken": request.client_token,
            **ecs_tag_params(tags),
        }
        if request.subnet_csp_id:
            params["VSwitchId"] = request.subnet_csp_id
        answer = d.connection.request(d.path, params=params)
        csp_id = str(findtext(answer.object, "InstanceId", namespace=d.namespace))  # type: ignore[no-untyped-call]
        made = self._node(d, csp_id)
        if made is None:
            raise TransientCloudError(
                f"{self._what}: ECS does not list the instance {csp_id} yet", "NotListed"
            )
        d.ex_start_node(made)
        return self._node(d, csp_id) or made
