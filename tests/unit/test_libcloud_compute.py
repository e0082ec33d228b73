"""The Libcloud drivers without network: a whole OpenStack flow on an in-memory Libcloud-shaped
driver, native states from Libcloud's own recorded API answers (OpenStack servers, Alibaba
DescribeInstances) and per cloud, clear NotSupportedError where Libcloud offers nothing.
(The whole contract against Libcloud's recorded API: tests/drivers/.)"""

from __future__ import annotations

import itertools
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from xml.etree import ElementTree as ET

import libcloud
import pytest
from libcloud.common import exceptions as http_errors
from libcloud.common.types import InvalidCredsError
from libcloud.compute import base
from libcloud.compute.drivers import ecs as ecs_driver
from libcloud.compute.drivers import openstack as openstack_driver
from libcloud.compute.types import KeyPairDoesNotExistError, NodeState

from drivers.alibaba import AlibabaDriver, ecs_nodes
from drivers.azure import AzureDriver, azure_power_state
from drivers.connection import parse_connection
from drivers.errors import (
    CloudNotFoundError,
    CloudUnreachableError,
    ConflictError,
    InvalidRequestError,
    NotSupportedError,
    PermanentCloudError,
    ThrottledError,
    TransientCloudError,
)
from drivers.gcp import GceDriver
from drivers.libcloud_base import LibcloudDriver, cloud_error
from drivers.openstack import OpenStackDriver
from drivers.status_map import to_canonical
from models.cloud import DEFAULT_RULES, SubnetSpec, VmCreateRequest
from models.status import TargetAction, VmStatus

FIXTURES = Path(libcloud.__file__).parent / "test" / "compute" / "fixtures"

# Libcloud is only partly typed: its classes are used untyped here.
Node: Any = base.Node
NodeSize: Any = base.NodeSize
NodeImage: Any = base.NodeImage
KeyPair: Any = base.KeyPair
KeyPairMissing: Any = KeyPairDoesNotExistError
BaseHTTPError: Any = http_errors.BaseHTTPError
RateLimitReachedError: Any = http_errors.RateLimitReachedError
OpenStack_2_NodeDriver: Any = openstack_driver.OpenStack_2_NodeDriver
ECSDriver: Any = ecs_driver.ECSDriver
REGION = "RegionOne"
LIBCLOUD_DRIVERS: dict[str, type[LibcloudDriver]] = {
    "gcp": GceDriver,
    "azure": AzureDriver,
    "openstack": OpenStackDriver,
    "alibaba": AlibabaDriver,
}


class FakeOpenStack:
    """Just enough of Libcloud's OpenStack driver, in memory."""

    def __init__(self) -> None:
        self.ids = itertools.count(1)
        self.nodes: list[Any] = []
        self.networks: list[SimpleNamespace] = []
        self.subnets: list[SimpleNamespace] = []
        self.groups: list[SimpleNamespace] = []
        self.keys: dict[str, KeyPair] = {}
        self.creates = 0

    def list_sizes(self) -> list[Any]:
        return [
            NodeSize("1", "m1.small", 2048, 20, None, None, self, extra={}),
            NodeSize("2", "m1.large", 8192, 80, None, 0.2, self, extra={"vcpus": 4}),
        ]

    def list_images(self) -> list[Any]:
        return [NodeImage("img-ubuntu", "ubuntu-22.04", self)]

    def list_nodes(self) -> list[Any]:
        return list(self.nodes)

    def create_node(self, **kwargs: Any) -> Any:
        self.creates += 1
        node = Node(
            str(next(self.ids)),
            kwargs["name"],
            NodeState.PENDING,
            ["203.0.113.7"],
            ["10.0.0.7"],
            self,
            extra={
                "vm_state": "building",
                "metadata": dict(kwargs["ex_metadata"]),
                "flavorId": kwargs["size"].id,
                "imageId": kwargs["image"].id,
                "key_name": kwargs["ex_keyname"],
            },
        )
        self.nodes.append(node)
        return node

    def _set(self, node: Any, state: Any, vm_state: str) -> bool:
        node.state, node.extra["vm_state"] = state, vm_state
        return True

    def stop_node(self, node: Any) -> bool:
        return self._set(node, NodeState.STOPPED, "stopped")

    def start_node(self, node: Any) -> bool:
        return self._set(node, NodeState.RUNNING, "active")

    def reboot_node(self, node: Any) -> bool:
        node.extra["task_state"] = "rebooting"
        return self._set(node, NodeState.REBOOTING, "active")

    def destroy_node(self, node: Any) -> bool:
        self.nodes.remove(node)
        return True

    def get_key_pair(self, name: str) -> Any:
        if name not in self.keys:
            raise KeyPairMissing(name, self)
        return self.keys[name]

    def import_key_pair_from_string(self, name: str, key: str) -> Any:
        self.keys[name] = KeyPair(name, key, "fp:" + name, self)
        return self.keys[name]

    def delete_key_pair(self, pair: Any) -> bool:
        del self.keys[pair.name]
        return True

    def ex_list_networks(self) -> list[SimpleNamespace]:
        return list(self.networks)

    def ex_create_network(self, name: str) -> SimpleNamespace:
        self.networks.append(SimpleNamespace(id=f"net-{next(self.ids)}", name=name))
        return self.networks[-1]

    def ex_delete_network(self, network: SimpleNamespace) -> bool:
        self.networks.remove(network)
        return True

    def ex_list_subnets(self) -> list[SimpleNamespace]:
        return list(self.subnets)

    def ex_create_subnet(self, name: str, network: SimpleNamespace, cidr: str) -> SimpleNamespace:
        subnet = SimpleNamespace(id=f"sub-{next(self.ids)}", name=name, network_id=network.id)
        self.subnets.append(subnet)
        return subnet

    def ex_delete_subnet(self, subnet: SimpleNamespace) -> bool:
        self.subnets.remove(subnet)
        return True

    def ex_list_security_groups(self) -> list[SimpleNamespace]:
        return list(self.groups)

    def ex_create_security_group(self, name: str, description: str) -> SimpleNamespace:
        self.groups.append(SimpleNamespace(id=f"sg-{next(self.ids)}", name=name, rules=[]))
        return self.groups[-1]

    def ex_create_security_group_rule(
        self, group: SimpleNamespace, protocol: str, low: int, high: int, cidr: str
    ) -> bool:
        group.rules.append(
            SimpleNamespace(ip_protocol=protocol, from_port=low, to_port=high, ip_range=cidr)
        )
        return True

    def ex_delete_security_group(self, group: SimpleNamespace) -> bool:
        self.groups.remove(group)
        return True


@pytest.fixture
async def openstack() -> AsyncIterator[tuple[OpenStackDriver, FakeOpenStack]]:
    fake = FakeOpenStack()
    driver = OpenStackDriver.around(fake, REGION, provider="lab")
    try:
        yield driver, fake
    finally:
        await driver.aclose()


async def test_an_openstack_mcis_flow_is_idempotent(
    openstack: tuple[OpenStackDriver, FakeOpenStack],
) -> None:
    driver, fake = openstack
    specs = await driver.specs()
    assert [(s.id, s.vcpus, s.memory_gib, s.price_per_hour) for s in specs] == [
        ("lab+RegionOne+m1.small", 0, 2.0, 0.0),
        ("lab+RegionOne+m1.large", 4, 8.0, 0.2),
    ]
    assert [(i.id, i.os) for i in await driver.images(REGION)] == [
        ("lab+RegionOne+img-ubuntu", "ubuntu-22.04")
    ]

    subnets = [SubnetSpec(name="default", cidr="10.0.0.0/20")]
    vnet = await driver.ensure_vnet(REGION, "dev-net", "10.0.0.0/16", subnets, {})
    assert await driver.ensure_vnet(REGION, "dev-net", "10.0.0.0/16", subnets, {}) == vnet
    assert len(fake.networks) == 1 and len(fake.subnets) == 1
    group = await driver.ensure_security_group(REGION, "dev-sg", vnet.csp_id, DEFAULT_RULES, {})
    await driver.ensure_security_group(REGION, "dev-sg", vnet.csp_id, DEFAULT_RULES, {})
    assert len(fake.groups) == 1 and len(fake.groups[0].rules) == 3
    key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKxxciU me@host"
    pair = await driver.import_key_pair(REGION, "dev-key", key, {})
    assert await driver.import_key_pair(REGION, "dev-key", key.rsplit(" ", 1)[0], {}) == pair
    with pytest.raises(ConflictError, match="exists with another public key"):
        await driver.import_key_pair(REGION, "dev-key", "ssh-ed25519 AAAAother", {})

    request = VmCreateRequest(
        name="dev-web-g1-1",
        spec="m1.small",
        image="img-ubuntu",
        vnet_csp_id=vnet.csp_id,
        subnet_csp_id=vnet.subnets["default"],
        security_group_csp_ids=[group.csp_id],
        key_name="dev-key",
        client_token="mcis-token-1",
        tags={"mcis-uid": "u1"},
    )
    vm = await driver.create_vm(REGION, request)
    assert await driver.create_vm(REGION, request) == vm
    another = request.model_copy(update={"client_token": "mcis-token-2"})
    with pytest.raises(ConflictError, match=r"'dev-web-g1-1'.*not adopted"):
        await driver.create_vm(REGION, another)  # the name holds a VM of another token
    assert fake.creates == 1
    assert (vm.provider, vm.cloud, vm.native_status, vm.client_token) == (
        "lab",
        "openstack",
        "BUILD",
        "mcis-token-1",
    )
    assert (vm.spec, vm.image, vm.public_ip) == ("1", "img-ubuntu", "203.0.113.7")
    assert [v.csp_id for v in await driver.list_vms(REGION, {"mcis-uid": "u1"})] == [vm.csp_id]
    assert await driver.list_vms(REGION, {"mcis-uid": "u2"}) == []

    stopped = await driver.suspend_vm(REGION, vm.csp_id)
    assert (stopped.native_status, to_canonical("openstack", stopped.native_status)) == (
        "SHUTOFF",
        VmStatus.SUSPENDED,
    )
    resumed = await driver.resume_vm(REGION, vm.csp_id)
    assert to_canonical("openstack", resumed.native_status) is VmStatus.RUNNING
    rebooted = await driver.reboot_vm(REGION, vm.csp_id)
    assert rebooted.native_status == "REBOOT"
    await driver.terminate_vm(REGION, vm.csp_id)
    await driver.terminate_vm(REGION, vm.csp_id)
    assert await driver.get_vm(REGION, vm.csp_id) is None
    with pytest.raises(CloudNotFoundError):
        await driver.suspend_vm(REGION, vm.csp_id)

    await driver.delete_key_pair(REGION, "dev-key")
    await driver.delete_key_pair(REGION, "dev-key")
    await driver.delete_security_group(REGION, group.csp_id)
    await driver.delete_vnet(REGION, vnet.csp_id)
    await driver.delete_vnet(REGION, vnet.csp_id)
    assert (fake.keys, fake.groups, fake.networks, fake.subnets) == ({}, [], [], [])


async def test_unknown_spec_and_region_are_refused(
    openstack: tuple[OpenStackDriver, FakeOpenStack],
) -> None:
    driver, _fake = openstack
    request = VmCreateRequest(
        name="x",
        spec="m9.huge",
        image="img-ubuntu",
        vnet_csp_id="",
        subnet_csp_id="",
        security_group_csp_ids=[],
        key_name="",
        client_token="t",
    )
    with pytest.raises(InvalidRequestError, match=r"unknown spec 'm9\.huge'"):
        await driver.create_vm(REGION, request)
    with pytest.raises(CloudNotFoundError, match="region 'RegionTwo' is not one of its regions"):
        await driver.specs("RegionTwo")


def openstack_nodes(fixture: str) -> list[Any]:
    """Servers of Libcloud's recorded OpenStack answers, parsed by Libcloud's own driver."""
    parser = OpenStack_2_NodeDriver(
        "user",
        "password",
        ex_force_auth_url="http://127.0.0.1:1",
        ex_force_auth_version="3.x_password",
        ex_tenant_name="tenant",
    )
    parser.connection.get_service_name = lambda: "nova"
    servers = json.loads((FIXTURES / "openstack_v1_1" / fixture).read_text())["servers"]
    return [parser._to_node(server) for server in servers]


def test_openstack_native_states_from_recorded_servers() -> None:
    nodes = openstack_nodes("_servers_detail.json") + openstack_nodes(
        "_servers_detail_ERROR_STATE.json"
    )
    natives = [OpenStackDriver.native_status(node) for node in nodes]
    assert natives == ["BUILD", "ACTIVE", "ERROR"]
    assert [to_canonical("openstack", n) for n in natives] == [
        VmStatus.CREATING,
        VmStatus.RUNNING,
        VmStatus.FAILED,
    ]
    driver = OpenStackDriver.around(None, REGION, provider="lab")
    failed = driver._vm(REGION, nodes[2])
    assert failed.failure_reason and "incapable of performing" in failed.failure_reason
    assert driver._vm(REGION, nodes[0]).failure_reason is None  # a fault, but still building


def test_alibaba_native_state_is_kept_from_recorded_describe_instances() -> None:
    parser = ECSDriver("key", "secret", region="cn-qingdao")
    body = ET.XML((FIXTURES / "ecs" / "describe_instances.xml").read_text())
    parser.connection = SimpleNamespace(
        driver=parser, request=lambda *_a, **_k: SimpleNamespace(object=body)
    )
    nodes = ecs_nodes(parser)
    assert {n.id for n in nodes} == {"i-28n7dkvov"}
    node = nodes[0]
    assert node.state == NodeState.PENDING  # Libcloud's state: Starting and Stopping alike
    assert AlibabaDriver.native_status(node) == "Starting"
    assert to_canonical("alibaba", "Starting", TargetAction.RESUME) is VmStatus.RESUMING


def test_azure_power_state_comes_from_the_instance_view() -> None:
    def view(*codes: str) -> Any:
        statuses = [{"code": code} for code in codes]
        return SimpleNamespace(
            connection=SimpleNamespace(
                request=lambda *_a, **_k: SimpleNamespace(object={"statuses": statuses})
            )
        )

    node = SimpleNamespace(id="/subscriptions/s/resourceGroups/g/providers/vm/web")
    cases = {
        ("ProvisioningState/succeeded", "PowerState/deallocating"): "deallocating",
        ("ProvisioningState/succeeded", "PowerState/running"): "running",
        ("ProvisioningState/creating",): "creating",
        ("ProvisioningState/failed/InternalError",): "failed",
    }
    for codes, native in cases.items():
        assert azure_power_state(view(*codes), node) == native
    assert to_canonical("azure", "deallocating") is VmStatus.SUSPENDING


@pytest.mark.parametrize(
    ("cloud", "extra", "state", "native"),
    [
        ("gcp", {"status": "TERMINATED"}, NodeState.STOPPED, "TERMINATED"),
        ("gcp", {}, NodeState.STARTING, "STAGING"),
        ("azure", {"power_state": "deallocated"}, NodeState.STOPPED, "deallocated"),
        ("azure", {}, NodeState.PAUSED, "stopped"),
        ("openstack", {"task_state": "reboot_started_hard"}, NodeState.REBOOTING, "HARD_REBOOT"),
        ("openstack", {"vm_state": "stopped"}, NodeState.UNKNOWN, "SHUTOFF"),
        ("alibaba", {}, NodeState.STOPPED, "Stopped"),
    ],
)
def test_native_status_per_cloud(
    cloud: str, extra: dict[str, str], state: Any, native: str
) -> None:
    node = Node("1", "n", state, [], [], None, extra=extra)
    assert LIBCLOUD_DRIVERS[cloud].native_status(node) == native


@pytest.mark.parametrize("operation", ["ensure_vnet", "ensure_security_group", "import_key_pair"])
async def test_what_libcloud_lacks_is_not_supported(operation: str) -> None:
    driver = AlibabaDriver.around(None, "r1", provider="c")
    calls: dict[str, Callable[[], Awaitable[object]]] = {
        "ensure_vnet": lambda: driver.ensure_vnet("r1", "n", "10.0.0.0/16", [], {}),
        "ensure_security_group": lambda: driver.ensure_security_group("r1", "n", "v", [], {}),
        "import_key_pair": lambda: driver.import_key_pair("r1", "n", "ssh-ed25519 AAAA", {}),
    }
    with pytest.raises(NotSupportedError) as error:
        await calls[operation]()
    assert error.value.message == f"alibaba driver: {operation} is not supported by Libcloud"
    assert not error.value.retryable


async def test_azure_adopts_existing_networks_only() -> None:
    fake = SimpleNamespace(ex_list_networks=lambda: [])
    driver = AzureDriver.around(fake, "eastus", provider="az", options={"resource_group": "rg"})
    with pytest.raises(NotSupportedError, match=r"ensure_vnet is not supported by Libcloud \("):
        await driver.ensure_vnet("eastus", "n", "10.0.0.0/16", [], {})
    pair = await driver.import_key_pair("eastus", "k", "ssh-ed25519 AAAAkey me", {})
    assert pair.name == "ssh-ed25519 AAAAkey"  # the key is what Azure VMs are given


@pytest.mark.parametrize(
    ("error", "kind"),
    [
        (RateLimitReachedError(headers={"retry-after": "3"}), ThrottledError),
        (InvalidCredsError("bad"), PermanentCloudError),
        (BaseHTTPError(404, "no such server"), CloudNotFoundError),
        (BaseHTTPError(409, "in use"), ConflictError),
        (BaseHTTPError(400, "bad flavor"), InvalidRequestError),
        (BaseHTTPError(503, "busy"), TransientCloudError),
        (ConnectionRefusedError(111, "refused"), CloudUnreachableError),
        (NotImplementedError("nope"), NotSupportedError),
    ],
)
def test_libcloud_errors_are_mapped(error: Exception, kind: type[Exception]) -> None:
    assert type(cloud_error(error, "openstack connection 'lab'")) is kind


def test_drivers_are_built_from_connections_without_network() -> None:
    connection = parse_connection(
        {
            "name": "lab",
            "cloud": "openstack",
            "regions": [REGION],
            "credentials": {
                "auth_url": "http://127.0.0.1:1/v3",
                "username": "u",
                "password": "very-secret",
                "project_name": "p",
            },
        }
    )
    driver = OpenStackDriver.from_connection(connection)
    assert "very-secret" not in repr(driver)
    node_driver = driver._client(REGION)
    assert type(node_driver).__name__ == "OpenStack_2_NodeDriver"
