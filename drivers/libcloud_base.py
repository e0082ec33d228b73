"""The driver of GCP, Azure, OpenStack and Alibaba connections, over Apache Libcloud's compute API.

One class, `LibcloudComputeDriver`, speaks the CloudDriver protocol for all four; what differs
per cloud is kept in small tables and functions here:

- construction (`make_node_driver`): credentials and endpoint overrides where Libcloud allows them
  (Azure and Alibaba take host/port/secure, OpenStack `ex_force_auth_url`/`ex_force_base_url`,
  GCE none); one Libcloud driver per region, made on first use (GCE's constructor already calls
  the API);
- the native VM state (`native_status`), per the seed's table: GCP `extra["status"]`; OpenStack
  the server status (ACTIVE, SHUTOFF, BUILD...) that Libcloud's NodeState was derived from,
  `task_state` telling REBOOT from HARD_REBOOT and `vm_state` an unknown status; Azure's power
  state read from the instance view (`running`, `deallocated`, ...: Libcloud folds deallocating
  into its creating state); Alibaba's `Status` kept from DescribeInstances in `extra["status"]`
  (Libcloud folds Starting and Stopping into one state);
- tags: OpenStack metadata, GCE labels, Azure tags; Alibaba nodes carry no tags in Libcloud, so
  they are kept as JSON in the instance description;
- what Libcloud offers at all. Where it offers nothing the call raises
  `NotSupportedError("<cloud> driver: <operation> is not supported by Libcloud")`:

  | operation             | openstack        | gcp                 | azure             | alibaba |
  |-----------------------|------------------|---------------------|-------------------|---------|
  | ensure_vnet           | neutron network  | custom network      | existing only     | no      |
  | ensure_security_group | security group   | firewall            | existing only     | no      |
  | import_key_pair       | key pair         | public key (meta)   | public key (auth) | no      |
  | VM create, lifecycle  | yes              | yes                 | yes (*)           | yes     |

  (*) with the connection option `resource_group`.

  GCE and Azure have no key-pair resource: the "key pair" mcis records is the public key itself,
  handed to every VM at creation (GCE `ssh-keys` metadata, Azure NodeAuthSSHKey).

Idempotency: `create_vm` first looks for a live node of the request's name (names are unique per
namespace) whose `mcis-client-token` tag, when the cloud shows tags, is the request's; Alibaba
also gets the token as its ClientToken. Libcloud is synchronous: calls run in this driver's own
thread pool. Errors map to drivers.errors (`cloud_error`).

Tested without network against fakes and Libcloud's recorded API fixtures (tests/unit), never
against the live clouds.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
import socket
import ssl
import threading
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import urlparse

from libcloud.common.exceptions import BaseHTTPError, RateLimitReachedError
from libcloud.common.types import InvalidCredsError, LibcloudError, ProviderError
from libcloud.compute.types import KeyPairDoesNotExistError, NodeState

from catalog.entries import Image, Region, Spec
from drivers.errors import (
    CloudError,
    CloudUnreachableError,
    ConflictError,
    InvalidRequestError,
    NotFoundError,
    NotSupportedError,
    PermanentCloudError,
    QuotaExceededError,
    ThrottledError,
    TransientCloudError,
)
from localcloud.flavors import FLAVORS
from models.cloud import (
    CloudKeyPair,
    CloudSecurityGroup,
    CloudVm,
    CloudVNet,
    FirewallRule,
    SubnetSpec,
    VmCreateRequest,
)

if TYPE_CHECKING:
    from drivers.connections import Connection

T = TypeVar("T")
NodeDriver = Any
"""A libcloud.compute NodeDriver (Libcloud ships no types for mypy)."""
Node = Any

MAX_THREADS = 8
TAG_CLIENT_TOKEN = "mcis-client-token"
DESCRIPTION_PREFIX = "mcis-tags:"
CLOUDS = ("gcp", "azure", "openstack", "alibaba")

NATIVE_FROM_NODE_STATE: dict[str, dict[str, str]] = {
    "gcp": {
        NodeState.PENDING: "PROVISIONING",
        NodeState.STARTING: "STAGING",
        NodeState.RUNNING: "RUNNING",
        NodeState.REBOOTING: "STOPPING",
        NodeState.STOPPING: "STOPPING",
        NodeState.STOPPED: "TERMINATED",
        NodeState.SUSPENDED: "SUSPENDED",
        NodeState.TERMINATED: "TERMINATED",
    },
    "openstack": {
        NodeState.PENDING: "BUILD",
        NodeState.RECONFIGURING: "RESIZE",
        NodeState.RUNNING: "ACTIVE",
        NodeState.REBOOTING: "REBOOT",
        NodeState.STOPPED: "SHUTOFF",
        NodeState.SUSPENDED: "SUSPENDED",
        NodeState.PAUSED: "PAUSED",
        NodeState.ERROR: "ERROR",
        NodeState.TERMINATED: "DELETED",
    },
    "azure": {
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
    },
    "alibaba": {
        NodeState.PENDING: "Pending",
        NodeState.STARTING: "Starting",
        NodeState.RUNNING: "Running",
        NodeState.STOPPING: "Stopping",
        NodeState.STOPPED: "Stopped",
        NodeState.TERMINATED: "Deleted",
    },
}
"""Libcloud's NodeState back to the cloud's native name, where the node keeps no native one."""

OPENSTACK_VM_STATES = {
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

GONE_STATES = {
    "openstack": {"DELETED"},
    "alibaba": {"Deleted"},
    "azure": {"deleting"},
    "gcp": set(),
}

GCE_IMAGE_NAME = re.compile(r"^(ubuntu|debian|rocky|centos|almalinux|rhel|sles|cos)-")
AZURE_IMAGES: tuple[tuple[str, str], ...] = (
    ("Canonical:0001-com-ubuntu-server-jammy:22_04-lts-gen2:latest", "ubuntu-22.04"),
    ("Canonical:ubuntu-24_04-lts:server:latest", "ubuntu-24.04"),
    ("Debian:debian-12:12-gen2:latest", "debian-12"),
)
"""Azure lists images per publisher/offer/sku (thousands, slowly): a curated set of URNs."""


def native_status(cloud: str, node: Node) -> str:
    """The cloud's own name of the node's state, as the seed's status table expects it."""
    extra: Mapping[str, Any] = node.extra or {}
    fallback = NATIVE_FROM_NODE_STATE.get(cloud, {}).get(node.state, str(node.state).upper())
    if cloud in ("gcp", "alibaba"):
        return str(extra.get("status") or fallback)
    if cloud == "openstack":
        # Libcloud derives the node's state from the server status (the names of the table);
        # the task state tells a hard reboot, the vm state what an unknown status is.
        if node.state == NodeState.REBOOTING:
            return "HARD_REBOOT" if "hard" in str(extra.get("task_state") or "") else "REBOOT"
        vm_state = str(extra.get("vm_state") or "").lower()
        if node.state == NodeState.UNKNOWN and vm_state:
            return OPENSTACK_VM_STATES.get(vm_state, vm_state.upper())
        return fallback
    if cloud == "azure":
        return str(extra.get("power_state") or fallback)
    return fallback


def ecs_nodes(driver: NodeDriver) -> list[Node]:
    """Alibaba's nodes with their native `Status` kept in `extra["status"]` (Libcloud folds
    Starting and Stopping into one NodeState): DescribeInstances, parsed as Libcloud does."""
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


def node_tags(cloud: str, node: Node) -> dict[str, str]:
    extra: Mapping[str, Any] = node.extra or {}
    if cloud == "openstack":
        raw = extra.get("metadata")
    elif cloud == "gcp":
        raw = extra.get("labels")
    elif cloud == "azure":
        raw = extra.get("tags")
    else:
        description = str(extra.get("description") or "")
        raw = None
        if description.startswith(DESCRIPTION_PREFIX):
            try:
                raw = json.loads(description.removeprefix(DESCRIPTION_PREFIX))
            except ValueError:
                raw = None
    return {str(k): str(v) for k, v in (raw or {}).items()} if isinstance(raw, dict) else {}


def _last_segment(value: Any) -> str:
    text = str(value or "")
    return text.rstrip("/").rsplit("/", 1)[-1]


def node_spec(cloud: str, node: Node) -> str:
    extra: Mapping[str, Any] = node.extra or {}
    if cloud == "openstack":
        return str(extra.get("flavorId") or "")
    if cloud == "gcp":
        return _last_segment(extra.get("machineType"))
    if cloud == "azure":
        props = extra.get("properties") or {}
        return str((props.get("hardwareProfile") or {}).get("vmSize") or "")
    return str(extra.get("instance_type") or "")


def node_image(cloud: str, node: Node) -> str:
    extra: Mapping[str, Any] = node.extra or {}
    if cloud == "openstack":
        return str(extra.get("imageId") or "")
    if cloud == "gcp":
        return _last_segment(extra.get("image"))
    if cloud == "alibaba":
        return str(extra.get("image_id") or "")
    image = getattr(node, "image", None)
    return str(image.id) if image is not None else ""


def size_vcpus(size: Any) -> int:
    for value in (
        getattr(size, "vcpus", None),
        *(
            (size.extra or {}).get(key)
            for key in ("vcpus", "guestCpus", "numberOfCores", "cpu_core_count", "cpus")
        ),
    ):
        if value:
            return int(value)
    return 0


def gce_label(value: str) -> str:
    """GCE label rules: lowercase letters, digits, '_' and '-', at most 63 characters."""
    return re.sub(r"[^a-z0-9_-]", "_", value.lower())[:63]


def _digest(public_key: str) -> str:
    return hashlib.sha256(" ".join(public_key.split()[:2]).encode()).hexdigest()


def cloud_error(exc: Exception, what: str) -> CloudError:
    """The drivers.errors exception for a failed Libcloud call."""
    name = type(exc).__name__
    text = str(getattr(exc, "value", "") or getattr(exc, "message", "") or exc)[:300]
    message = f"{what}: {name}: {text}"
    if isinstance(exc, RateLimitReachedError):
        retry_after = float(getattr(exc, "retry_after", 0) or 1.0)
        return ThrottledError(message, retry_after, "RateLimited")
    if isinstance(exc, InvalidCredsError):
        return PermanentCloudError(f"{what}: credentials rejected ({name})", "AuthFailure")
    if isinstance(exc, KeyPairDoesNotExistError) or name == "ResourceNotFoundError":
        return NotFoundError(message, "NotFound")
    if name == "QuotaExceededError":
        return QuotaExceededError(message, "QuotaExceeded")
    if name in ("ResourceExistsError", "ResourceInUseError"):
        return ConflictError(message, name)
    if name == "GoogleAuthError":
        return PermanentCloudError(f"{what}: credentials rejected ({name})", "AuthFailure")
    if isinstance(exc, NotImplementedError):
        return NotSupportedError(f"{what}: not supported by Libcloud: {text}", "NotSupported")
    code = getattr(exc, "code", None) or getattr(exc, "http_code", None)
    if isinstance(exc, BaseHTTPError | ProviderError) and isinstance(code, int):
        if code == 429:
            return ThrottledError(message, 1.0, "Throttled")
        if code in (401, 403):
            return PermanentCloudError(f"{what}: credentials rejected (HTTP {code})", "AuthFailure")
        if code == 404:
            return NotFoundError(message, "NotFound")
        if code == 409:
            return ConflictError(message, "Conflict")
        if code >= 500:
            return TransientCloudError(message, f"HTTP{code}")
        return InvalidRequestError(message, f"HTTP{code}")
    if isinstance(exc, ConnectionError | socket.timeout | socket.gaierror | ssl.SSLError):
        return CloudUnreachableError(f"{what}: endpoint did not answer: {text}", "Unreachable")
    if isinstance(exc, OSError) or "ConnectionError" in name or "Timeout" in name:
        return CloudUnreachableError(f"{what}: endpoint did not answer: {text}", "Unreachable")
    if isinstance(exc, LibcloudError):
        return TransientCloudError(message, name)
    return TransientCloudError(message, name)


def make_node_driver(connection: Connection, region: str) -> NodeDriver:
    """The Libcloud driver of one region of a connection (GCE calls the API already here)."""
    from libcloud.compute.providers import Provider, get_driver

    cloud, secret, options = connection.cloud, connection.secret, connection.options
    endpoint = urlparse(connection.endpoint_url) if connection.endpoint_url else None
    host_kwargs: dict[str, Any] = {}
    if endpoint is not None:
        host_kwargs = {"host": endpoint.hostname, "secure": endpoint.scheme == "https"}
        if endpoint.port:
            host_kwargs["port"] = endpoint.port
    if cloud == "gcp":
        zone = f"{region}-{options.get('zone', 'a')}"
        return get_driver(Provider.GCE)(
            secret("service_account_email"),
            secret("key_file"),
            project=secret("project"),
            datacenter=zone,
        )
    if cloud == "azure":
        return get_driver(Provider.AZURE_ARM)(
            tenant_id=secret("tenant_id"),
            subscription_id=secret("subscription_id"),
            key=secret("client_id"),
            secret=secret("client_secret"),
            region=region,
            **host_kwargs,
        )
    if cloud == "openstack":
        kwargs: dict[str, Any] = {
            "ex_force_auth_url": secret("auth_url"),
            "ex_force_auth_version": options.get("auth_version", "3.x_password"),
            "ex_tenant_name": secret("project_name"),
            "ex_domain_name": secret("domain_name") or "Default",
            "ex_force_service_region": region,
            "api_version": "2.0",
        }
        if connection.endpoint_url:
            kwargs["ex_force_base_url"] = connection.endpoint_url
        return get_driver(Provider.OPENSTACK)(secret("username"), secret("password"), **kwargs)
    if cloud == "alibaba":
        return get_driver(Provider.ALIYUN_ECS)(
            secret("access_key_id"), secret("access_key_secret"), region=region, **host_kwargs
        )
    raise NotSupportedError(f"{cloud} has no Libcloud driver in mcis", "NotSupported")


class LibcloudComputeDriver:
    """The CloudDriver of one GCP, Azure, OpenStack or Alibaba connection."""

    def __init__(
        self,
        provider: str,
        cloud: str,
        regions: Sequence[str],
        factory: Callable[[str], NodeDriver],
        options: Mapping[str, str] | None = None,
        endpoint_url: str | None = None,
        max_threads: int = MAX_THREADS,
    ) -> None:
        if cloud not in CLOUDS:
            raise ValueError(f"no Libcloud support for cloud {cloud!r} (known: {CLOUDS})")
        self.provider = provider
        self.cloud = cloud
        self.configured_regions = tuple(regions)
        self.options = dict(options or {})
        self.endpoint_url = endpoint_url
        self._factory = factory
        self._drivers: dict[str, NodeDriver] = {}
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(max_threads, thread_name_prefix=f"{cloud}-{provider}")

    @classmethod
    def from_connection(cls, connection: Connection) -> LibcloudComputeDriver:
        def factory(region: str) -> NodeDriver:
            return make_node_driver(connection, region)

        return cls(
            connection.name,
            connection.cloud,
            connection.regions,
            factory,
            connection.options,
            connection.endpoint_url,
        )

    def __repr__(self) -> str:
        return (
            f"LibcloudComputeDriver(provider={self.provider!r}, cloud={self.cloud!r}, "
            f"regions={self.configured_regions!r})"
        )

    @property
    def _what(self) -> str:
        where = f" at {self.endpoint_url}" if self.endpoint_url else ""
        return f"{self.cloud} connection {self.provider!r}{where}"

    def _unsupported(self, operation: str, hint: str = "") -> NotSupportedError:
        return NotSupportedError(
            f"{self.cloud} driver: {operation} is not supported by Libcloud{hint}", "NotSupported"
        )

    # plumbing

    def _driver(self, region: str) -> NodeDriver:
        with self._lock:
            driver = self._drivers.get(region)
            if driver is None:
                driver = self._drivers[region] = self._factory(region)
            return driver

    def _check_region(self, region: str) -> None:
        if region not in self.configured_regions:
            raise NotFoundError(
                f"{self._what}: region {region!r} is not one of its regions "
                f"({', '.join(self.configured_regions)})",
                "UnknownRegion",
            )

    async def _call(self, region: str, work: Callable[[NodeDriver], T]) -> T:
        self._check_region(region)

        def run() -> T:
            try:
                return work(self._driver(region))
            except CloudError:
                raise
            except Exception as exc:
                raise cloud_error(exc, self._what) from None

        return await asyncio.get_running_loop().run_in_executor(self._pool, run)

    def _regions_or(self, region: str | None) -> tuple[str, ...]:
        if region is None:
            return self.configured_regions
        self._check_region(region)
        return (region,)

    # catalog

    async def regions(self) -> list[Region]:
        """The connection's regions (no API call; coordinates where mcis knows the region)."""
        flavor = FLAVORS.get(self.cloud)
        regions = []
        for name in self.configured_regions:
            info = flavor.region(name) if flavor else None
            regions.append(
                Region(
                    provider=self.provider,
                    name=name,
                    display_name=info.display_name if info else name,
                    latitude=info.latitude if info else 0.0,
                    longitude=info.longitude if info else 0.0,
                )
            )
        return regions

    async def specs(self, region: str | None = None) -> list[Spec]:
        """Libcloud's sizes; a size without a price (private clouds) costs 0."""
        found: list[Spec] = []
        for name in self._regions_or(region):
            sizes = await self._call(name, lambda d: list(d.list_sizes()))
            found += [
                Spec(
                    provider=self.provider,
                    region=name,
                    name=str(size.name or size.id),
                    vcpus=size_vcpus(size),
                    memory_gib=round(float(size.ram or 0) / 1024, 3),
                    price_per_hour=float(size.price or 0.0),
                )
                for size in sizes
            ]
        return found

    async def images(self, region: str | None = None) -> list[Image]:
        found: list[Image] = []
        for name in self._regions_or(region):
            if self.cloud == "azure":
                found += [
                    Image(provider=self.provider, region=name, name=urn, os=os_name)
                    for urn, os_name in AZURE_IMAGES
                ]
                continue
            listed = await self._call(name, lambda d: list(d.list_images()))
            for image in listed:
                if self.cloud == "gcp":
                    if GCE_IMAGE_NAME.match(str(image.name)):
                        found.append(
                            Image(
                                provider=self.provider, region=name, name=image.name, os=image.name
                            )
                        )
                else:
                    found.append(
                        Image(
                            provider=self.provider,
                            region=name,
                            name=str(image.id),
                            os=str(image.name or ""),
                        )
                    )
        return found

    # networks

    async def ensure_vnet(
        self,
        region: str,
        name: str,
        cidr: str,
        subnets: Sequence[SubnetSpec],
        tags: dict[str, str],
    ) -> CloudVNet:
        if self.cloud == "openstack":
            work: Callable[[NodeDriver], CloudVNet] = lambda d: self._openstack_vnet(  # noqa: E731
                d, region, name, cidr, subnets
            )
        elif self.cloud == "gcp":
            work = lambda d: self._gce_vnet(d, region, name, cidr, subnets)  # noqa: E731
        elif self.cloud == "azure":
            work = lambda d: self._azure_vnet(d, region, name, cidr, subnets)  # noqa: E731
        else:
            raise self._unsupported("ensure_vnet")
        return await self._call(region, work)

    def _vnet(
        self, region: str, name: str, csp_id: str, cidr: str, subnets: dict[str, str]
    ) -> CloudVNet:
        return CloudVNet(
            csp_id=csp_id,
            name=name,
            provider=self.provider,
            region=region,
            cidr=cidr,
            subnets=subnets,
        )

    def _openstack_vnet(
        self, d: NodeDriver, region: str, name: str, cidr: str, subnets: Sequence[SubnetSpec]
    ) -> CloudVNet:
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

    def _gce_vnet(
        self, d: NodeDriver, region: str, name: str, cidr: str, subnets: Sequence[SubnetSpec]
    ) -> CloudVNet:
        network = next((n for n in d.ex_list_networks() if n.name == name), None)
        if network is None:
            network = d.ex_create_network(name, None, mode="custom")
        have = {s.name: s for s in d.ex_list_subnetworks(region=region)}
        ids = {}
        for spec in subnets:
            subnet_name = f"{name}-{spec.name}"
            if subnet_name not in have:
                d.ex_create_subnetwork(subnet_name, cidr=spec.cidr, network=network, region=region)
            ids[spec.name] = subnet_name
        return self._vnet(region, name, str(network.name), cidr, ids)

    def _azure_vnet(
        self, d: NodeDriver, region: str, name: str, cidr: str, subnets: Sequence[SubnetSpec]
    ) -> CloudVNet:
        network = next((n for n in d.ex_list_networks() if n.name == name), None)
        if network is None:
            group = self.options.get("resource_group", "<resource group>")
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

    async def delete_vnet(self, region: str, csp_id: str) -> None:
        if self.cloud == "openstack":

            def delete(d: NodeDriver) -> None:
                network = next((n for n in d.ex_list_networks() if str(n.id) == csp_id), None)
                if network is None:
                    return
                for subnet in d.ex_list_subnets():
                    if subnet.network_id == network.id:
                        d.ex_delete_subnet(subnet)
                d.ex_delete_network(network)

        elif self.cloud == "gcp":

            def delete(d: NodeDriver) -> None:
                network = next((n for n in d.ex_list_networks() if n.name == csp_id), None)
                if network is None:
                    return
                for subnet in d.ex_list_subnetworks(region=region):
                    if _last_segment(getattr(subnet, "network", "")) == csp_id or (
                        str(subnet.name).startswith(f"{csp_id}-")
                    ):
                        d.ex_destroy_subnetwork(subnet)
                d.ex_destroy_network(network)

        elif self.cloud == "azure":
            return  # adopted, not made by mcis: left as it is
        else:
            raise self._unsupported("delete_vnet")
        await self._call(region, delete)

    async def ensure_security_group(
        self,
        region: str,
        name: str,
        vnet_csp_id: str,
        rules: Sequence[FirewallRule],
        tags: dict[str, str],
    ) -> CloudSecurityGroup:
        if self.cloud == "openstack":
            work: Callable[[NodeDriver], str] = lambda d: self._openstack_group(  # noqa: E731
                d, name, rules
            )
        elif self.cloud == "gcp":
            work = lambda d: self._gce_firewall(d, name, vnet_csp_id, rules)  # noqa: E731
        elif self.cloud == "azure":
            work = lambda d: self._azure_group(d, name)  # noqa: E731
        else:
            raise self._unsupported("ensure_security_group")
        csp_id = await self._call(region, work)
        return CloudSecurityGroup(
            csp_id=csp_id,
            name=name,
            provider=self.provider,
            region=region,
            vnet_csp_id=vnet_csp_id,
            rules=list(rules),
            tags=dict(tags),
        )

    @staticmethod
    def _openstack_group(d: NodeDriver, name: str, rules: Sequence[FirewallRule]) -> str:
        group = next((g for g in d.ex_list_security_groups() if g.name == name), None)
        if group is None:
            group = d.ex_create_security_group(name, f"mcis {name}")
        have = {
            (str(r.ip_protocol), int(r.from_port or -1), int(r.to_port or -1), str(r.ip_range))
            for r in group.rules or []
        }
        for rule in rules:
            if rule.direction != "inbound" or rule.protocol == "all":
                continue
            key = (rule.protocol, rule.from_port, rule.to_port, rule.cidr)
            if key not in have:
                d.ex_create_security_group_rule(
                    group, rule.protocol, rule.from_port, rule.to_port, cidr=rule.cidr
                )
        return str(group.id)

    @staticmethod
    def _gce_firewall(d: NodeDriver, name: str, network: str, rules: Sequence[FirewallRule]) -> str:
        existing = next((f for f in d.ex_list_firewalls() if f.name == name), None)
        if existing is not None:
            return str(existing.name)
        allowed = []
        sources = sorted({r.cidr for r in rules if r.direction == "inbound"}) or ["0.0.0.0/0"]
        for rule in rules:
            if rule.direction != "inbound":
                continue
            entry: dict[str, Any] = {"IPProtocol": rule.protocol}
            if rule.protocol in ("tcp", "udp"):
                ports = str(rule.from_port)
                if rule.to_port != rule.from_port:
                    ports = f"{rule.from_port}-{rule.to_port}"
                entry["ports"] = [ports]
            allowed.append(entry)
        created = d.ex_create_firewall(name, allowed, network=network, source_ranges=sources)
        return str(created.name)

    def _azure_group(self, d: NodeDriver, name: str) -> str:
        group_name = self.options.get("resource_group", "")
        groups = d.ex_list_network_security_groups(group_name) if group_name else []
        found = next((g for g in groups if g.name == name), None)
        if found is None:
            raise self._unsupported(
                "ensure_security_group",
                f" (create the network security group {name!r} in resource group "
                f"{group_name or '<resource_group option>'} first)",
            )
        return str(found.id)

    async def delete_security_group(self, region: str, csp_id: str) -> None:
        if self.cloud == "openstack":

            def delete(d: NodeDriver) -> None:
                group = next((g for g in d.ex_list_security_groups() if str(g.id) == csp_id), None)
                if group is not None:
                    d.ex_delete_security_group(group)

        elif self.cloud == "gcp":

            def delete(d: NodeDriver) -> None:
                found = next((f for f in d.ex_list_firewalls() if f.name == csp_id), None)
                if found is not None:
                    d.ex_destroy_firewall(found)

        elif self.cloud == "azure":
            return
        else:
            raise self._unsupported("delete_security_group")
        await self._call(region, delete)

    async def import_key_pair(
        self, region: str, name: str, public_key: str, tags: dict[str, str]
    ) -> CloudKeyPair:
        normalized = " ".join(public_key.split()[:2])
        if self.cloud in ("gcp", "azure"):
            self._check_region(region)
            return CloudKeyPair(
                name=normalized,
                provider=self.provider,
                region=region,
                fingerprint=_digest(normalized),
            )
        if self.cloud != "openstack":
            raise self._unsupported("import_key_pair")

        def ensure(d: NodeDriver) -> CloudKeyPair:
            try:
                pair = d.get_key_pair(name)
            except KeyPairDoesNotExistError:
                pair = None
            if pair is None:
                pair = d.import_key_pair_from_string(name, normalized)
            elif " ".join(str(pair.public_key).split()[:2]) != normalized:
                raise ConflictError(
                    f"{self._what}: key pair {name!r} exists with another public key",
                    "KeyPairConflict",
                )
            return CloudKeyPair(
                name=name,
                provider=self.provider,
                region=region,
                fingerprint=str(pair.fingerprint or _digest(normalized)),
            )

        return await self._call(region, ensure)

    async def delete_key_pair(self, region: str, name: str) -> None:
        if self.cloud != "openstack":
            return  # gcp/azure: nothing was registered; alibaba: nothing could be

        def delete(d: NodeDriver) -> None:
            try:
                pair = d.get_key_pair(name)
            except KeyPairDoesNotExistError:
                return
            if pair is not None:
                d.delete_key_pair(pair)

        await self._call(region, delete)

    # VMs

    def _vm(self, region: str, node: Node) -> CloudVm:
        tags = node_tags(self.cloud, node)
        native = native_status(self.cloud, node)
        fault = (node.extra or {}).get("fault")
        failure = None
        if native in ("ERROR", "failed"):
            failure = str(fault.get("message")) if isinstance(fault, dict) else native
        return CloudVm(
            csp_id=str(node.id),
            name=str(node.name),
            provider=self.provider,
            cloud=self.cloud,
            region=region,
            spec=node_spec(self.cloud, node),
            image=node_image(self.cloud, node),
            native_status=native,
            failure_reason=failure,
            public_ip=(node.public_ips or [None])[0],
            private_ip=(node.private_ips or [None])[0],
            client_token=tags.get(TAG_CLIENT_TOKEN, ""),
            tags=tags,
        )

    def _list_nodes(self, d: NodeDriver) -> list[Node]:
        if self.cloud == "alibaba":
            return ecs_nodes(d)
        if self.cloud == "azure":
            group = self.options.get("resource_group") or None
            nodes = list(d.list_nodes(ex_resource_group=group, ex_fetch_power_state=False))
            for node in nodes:
                node.extra["power_state"] = azure_power_state(d, node)
            return nodes
        return list(d.list_nodes())

    def _node(self, d: NodeDriver, csp_id: str) -> Node | None:
        return next((n for n in self._list_nodes(d) if str(n.id) == csp_id), None)

    def _live(self, node: Node) -> bool:
        return native_status(self.cloud, node) not in GONE_STATES.get(self.cloud, set())

    async def create_vm(self, region: str, request: VmCreateRequest) -> CloudVm:
        tags = {**request.tags, TAG_CLIENT_TOKEN: request.client_token}

        def find(d: NodeDriver) -> Node | None:
            for node in self._list_nodes(d):
                if node.name != request.name or not self._live(node):
                    continue
                token = node_tags(self.cloud, node).get(TAG_CLIENT_TOKEN)
                if token in (None, request.client_token):
                    return node
            return None

        def create(d: NodeDriver) -> Node:
            found = find(d)
            if found is not None:
                return found
            size = next((s for s in d.list_sizes() if request.spec in (s.name, str(s.id))), None)
            if size is None:
                raise InvalidRequestError(
                    f"{self._what}: unknown spec {request.spec!r}", "InvalidSpec"
                )
            return self._create_node(d, region, request, size, tags)

        return self._vm(region, await self._call(region, create))

    def _create_node(
        self, d: NodeDriver, region: str, request: VmCreateRequest, size: Any, tags: dict[str, str]
    ) -> Node:
        if self.cloud == "openstack":
            from libcloud.compute.drivers.openstack import OpenStackNetwork

            image = next((i for i in d.list_images() if str(i.id) == request.image), None)
            if image is None:
                raise InvalidRequestError(
                    f"{self._what}: unknown image {request.image!r}", "InvalidImage"
                )
            groups = [
                g
                for g in d.ex_list_security_groups()
                if str(g.id) in request.security_group_csp_ids
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
        if self.cloud == "gcp":
            metadata = {"ssh-keys": f"mcis:{request.key_name}"} if request.key_name else None
            return d.create_node(
                request.name,
                size,
                request.image,
                ex_network=request.vnet_csp_id or "default",
                ex_subnetwork=request.subnet_csp_id or None,
                ex_tags=request.security_group_csp_ids or None,
                ex_metadata=metadata,
                ex_labels={gce_label(k): gce_label(v) for k, v in tags.items()},
            )
        if self.cloud == "azure":
            from libcloud.compute.base import NodeAuthSSHKey
            from libcloud.compute.drivers.azure_arm import AzureImage

            group = self.options.get("resource_group")
            if not group:
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
                ex_resource_group=group,
                ex_network=_last_segment(request.vnet_csp_id) or None,
                ex_subnet=_last_segment(request.subnet_csp_id) or None,
                ex_tags=tags,
                ex_use_managed_disks=True,
            )
        # alibaba
        image = next((i for i in d.list_images() if str(i.id) == request.image), None)
        if image is None:
            raise InvalidRequestError(
                f"{self._what}: unknown image {request.image!r}", "InvalidImage"
            )
        return d.create_node(
            request.name,
            size,
            image,
            ex_security_group_id=next(iter(request.security_group_csp_ids), None),
            ex_vswitch_id=request.subnet_csp_id or None,
            ex_description=DESCRIPTION_PREFIX + json.dumps(tags, separators=(",", ":")),
            ex_client_token=request.client_token,
        )

    async def get_vm(self, region: str, csp_id: str) -> CloudVm | None:
        node = await self._call(region, lambda d: self._node(d, csp_id))
        return None if node is None else self._vm(region, node)

    async def list_vms(self, region: str, tags: dict[str, str] | None = None) -> list[CloudVm]:
        wanted = tags or {}
        if self.cloud == "gcp":
            wanted = {gce_label(k): gce_label(v) for k, v in wanted.items()}
        nodes = await self._call(region, self._list_nodes)
        vms = [self._vm(region, n) for n in nodes]
        return [vm for vm in vms if all(vm.tags.get(k) == v for k, v in wanted.items())]

    async def _act(self, region: str, csp_id: str, action: str) -> CloudVm:
        def act(d: NodeDriver) -> Node:
            node = self._node(d, csp_id)
            if node is None:
                raise NotFoundError(f"{self._what}: VM {csp_id} not found", "NotFound")
            getattr(d, action)(node)
            return self._node(d, csp_id) or node

        return self._vm(region, await self._call(region, act))

    async def suspend_vm(self, region: str, csp_id: str) -> CloudVm:
        return await self._act(region, csp_id, "stop_node")

    async def resume_vm(self, region: str, csp_id: str) -> CloudVm:
        return await self._act(region, csp_id, "start_node")

    async def reboot_vm(self, region: str, csp_id: str) -> CloudVm:
        return await self._act(region, csp_id, "reboot_node")

    async def terminate_vm(self, region: str, csp_id: str) -> None:
        def terminate(d: NodeDriver) -> None:
            node = self._node(d, csp_id)
            if node is not None and self._live(node):
                d.destroy_node(node)

        await self._call(region, terminate)

    async def aclose(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
