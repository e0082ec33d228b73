"""What the drivers over Apache Libcloud's compute API share (drivers/gcp.py, azure.py,
openstack.py, alibaba.py): `LibcloudDriver`, the CloudDriver of one connection whose calls go to
one Libcloud NodeDriver per region, and `cloud_error`, Libcloud's failures as drivers.errors.

Each cloud's class says what differs: how its NodeDriver is made from a connection
(`client_factory`: credentials and endpoint overrides where Libcloud allows them: Azure and
Alibaba take host/port/secure, OpenStack `ex_force_auth_url`/`ex_force_base_url`, GCE none), its
native VM state (`native_status`, the names of the seed's status table), where a node keeps its
tags, spec and image, and the operations Libcloud offers for it. What Libcloud lacks for a cloud
is a method its class does not override: the base raises
`NotSupportedError("<cloud> driver: <operation> is not supported by Libcloud")`.

  | operation             | openstack        | gcp                 | azure             | alibaba |
  |-----------------------|------------------|---------------------|-------------------|---------|
  | ensure_vnet           | neutron network  | custom network      | existing only     | no      |
  | ensure_security_group | security group   | firewall            | existing only     | no      |
  | import_key_pair       | key pair         | public key (meta)   | public key (auth) | no      |
  | VM create, lifecycle  | yes              | yes                 | yes (*)           | yes     |

  (*) with the connection option `resource_group`.

Names: a VM's name at the cloud is the request's, cut to what the cloud accepts
(`max_name_length`: GCE 63, Azure 64) with a digest of the client token at its end
(`cloud_name`), so it stays deterministic and unique per VM.

Idempotency: `create_vm` first looks for a live node of that name (names are unique per
namespace): one carrying the request's `mcis-client-token` tag is the request's VM; one without
it (made outside mcis, or by another request) is a ConflictError, never adopted.

Libcloud is synchronous and a NodeDriver serves one call at a time (its connection keeps the
last response): calls run in the driver's own thread pool, each thread with its own NodeDriver
per region (`client_per_thread`, drivers/base.py), so a region's calls still run in parallel.

For tests, every class is also made around a given NodeDriver (e.g. one wired to Libcloud's
recorded API answers): `GceDriver.around(node_driver, "us-central1")`.
"""

from __future__ import annotations

import hashlib
import socket
import ssl
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar, Self
from urllib.parse import urlparse

from libcloud.common.exceptions import BaseHTTPError, RateLimitReachedError
from libcloud.common.types import InvalidCredsError, ProviderError
from libcloud.compute.types import KeyPairDoesNotExistError

from catalog.entries import Image, Spec
from drivers.base import SdkDriver, normalized_public_key, public_key_digest
from drivers.connection import Connection, Location
from drivers.errors import (
    CloudError,
    CloudNotFoundError,
    CloudUnreachableError,
    ConflictError,
    InvalidRequestError,
    NotSupportedError,
    PermanentCloudError,
    QuotaExceededError,
    ThrottledError,
    TransientCloudError,
)
from models.cloud import (
    CloudKeyPair,
    CloudSecurityGroup,
    CloudVm,
    CloudVNet,
    FirewallRule,
    SubnetSpec,
    VmAction,
    VmCreateRequest,
)

NodeDriver = Any
"""A libcloud.compute NodeDriver (Libcloud ships no types for mypy)."""
Node = Any

TAG_CLIENT_TOKEN = "mcis-client-token"
NODE_ACTIONS = {
    VmAction.SUSPEND: "stop_node",
    VmAction.RESUME: "start_node",
    VmAction.REBOOT: "reboot_node",
}


def cloud_error(exc: Exception, what: str) -> CloudError:
    """The drivers.errors exception for a failed Libcloud call."""
    name = type(exc).__name__
    text = str(getattr(exc, "value", "") or getattr(exc, "message", "") or exc)[:300]
    message = f"{what}: {name}: {text}"
    if isinstance(exc, RateLimitReachedError):
        retry_after = float(getattr(exc, "retry_after", 0) or 1.0)
        return ThrottledError(message, retry_after, "RateLimited")
    if isinstance(exc, InvalidCredsError) or name == "GoogleAuthError":
        return PermanentCloudError(f"{what}: credentials rejected ({name})", "AuthFailure")
    if isinstance(exc, KeyPairDoesNotExistError) or name == "ResourceNotFoundError":
        return CloudNotFoundError(message, "NotFound")
    if name == "QuotaExceededError":
        return QuotaExceededError(message, "QuotaExceeded")
    if name in ("ResourceExistsError", "ResourceInUseError"):
        return ConflictError(message, name)
    if isinstance(exc, NotImplementedError):
        return NotSupportedError(f"{what}: not supported by Libcloud: {text}", "NotSupported")
    code = getattr(exc, "code", None) or getattr(exc, "http_code", None)
    if isinstance(exc, BaseHTTPError | ProviderError) and isinstance(code, int):
        if code == 429:
            return ThrottledError(message, 1.0, "Throttled")
        if code in (401, 403):
            return PermanentCloudError(f"{what}: credentials rejected (HTTP {code})", "AuthFailure")
        if code == 404:
            return CloudNotFoundError(message, "NotFound")
        if code == 409:
            return ConflictError(message, "Conflict")
        if code >= 500:
            return TransientCloudError(message, f"HTTP{code}")
        return InvalidRequestError(message, f"HTTP{code}")
    if isinstance(exc, ConnectionError | socket.timeout | socket.gaierror | ssl.SSLError):
        return CloudUnreachableError(f"{what}: endpoint did not answer: {text}", "Unreachable")
    if isinstance(exc, OSError) or "ConnectionError" in name or "Timeout" in name:
        return CloudUnreachableError(f"{what}: endpoint did not answer: {text}", "Unreachable")
    return TransientCloudError(message, name)


def endpoint_kwargs(connection: Connection) -> dict[str, Any]:
    """host/port/secure of the connection's endpoint, for the NodeDrivers that take them."""
    if not connection.endpoint_url:
        return {}
    endpoint = urlparse(connection.endpoint_url)
    kwargs: dict[str, Any] = {"host": endpoint.hostname, "secure": endpoint.scheme == "https"}
    if endpoint.port:
        kwargs["port"] = endpoint.port
    return kwargs


def last_segment(value: Any) -> str:
    """The last part of a resource path or URL (`.../machineTypes/e2-small` -> `e2-small`)."""
    return str(value or "").rstrip("/").rsplit("/", 1)[-1]


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


def extra(node: Node) -> Mapping[str, Any]:
    return node.extra or {}


class LibcloudDriver(SdkDriver[NodeDriver, Node]):
    """The CloudDriver of one connection of a cloud Libcloud drives (a subclass per cloud)."""

    cloud_error = staticmethod(cloud_error)
    native_states: ClassVar[Mapping[str, str]] = {}
    """Libcloud's NodeState -> the cloud's native state name, where a node keeps no native one."""
    gone_states: ClassVar[frozenset[str]] = frozenset()
    """Native states of a VM that is being (or was) deleted: not a live VM."""
    failed_states: ClassVar[frozenset[str]] = frozenset()
    tags_key: ClassVar[str] = "tags"
    """Where a node keeps its tags in `node.extra`."""
    max_name_length: ClassVar[int] = 255
    """The longest VM name the cloud accepts."""
    client_per_thread = True

    @classmethod
    def around(
        cls,
        node_driver: NodeDriver,
        region: str,
        *,
        provider: str | None = None,
        options: Mapping[str, str] | None = None,
        locations: Mapping[str, Location] | None = None,
    ) -> Self:
        """The driver of one region served by `node_driver`, a Libcloud NodeDriver made by the
        caller (tests: one wired to recorded API answers), shared by the pool's threads: for
        calls one at a time. `provider` defaults to the cloud's name; `options` are the
        connection's (e.g. Azure's `resource_group`)."""
        return cls(
            provider or cls.cloud,
            [region],
            lambda _region: node_driver,
            options=options,
            locations=locations,
        )

    def _unsupported(self, operation: str, hint: str = "") -> NotSupportedError:
        return NotSupportedError(
            f"{self.cloud} driver: {operation} is not supported by Libcloud{hint}", "NotSupported"
        )

    # what a node says

    @classmethod
    def native_status(cls, node: Node) -> str:
        """The cloud's own name of the node's state, as the seed's status table expects it."""
        return cls.native_states.get(node.state, str(node.state).upper())

    @classmethod
    def node_tags(cls, node: Node) -> dict[str, str]:
        raw = extra(node).get(cls.tags_key)
        return {str(k): str(v) for k, v in raw.items()} if isinstance(raw, dict) else {}

    @classmethod
    def node_spec(cls, node: Node) -> str:
        size = getattr(node, "size", None)
        return last_segment(size.id) if size is not None else ""

    @classmethod
    def node_image(cls, node: Node) -> str:
        return str(node.image.id) if getattr(node, "image", None) is not None else ""

    def _vm(self, region: str, node: Node) -> CloudVm:
        tags = self.node_tags(node)
        native = self.native_status(node)
        fault = extra(node).get("fault")
        failure = None
        if native in self.failed_states:
            failure = str(fault.get("message")) if isinstance(fault, dict) else native
        return CloudVm(
            csp_id=str(node.id),
            name=str(node.name),
            provider=self.provider,
            cloud=self.cloud,
            region=region,
            spec=self.node_spec(node),
            image=self.node_image(node),
            native_status=native,
            failure_reason=failure,
            public_ip=(node.public_ips or [None])[0],
            private_ip=(node.private_ips or [None])[0],
            client_token=tags.get(TAG_CLIENT_TOKEN, ""),
            tags=tags,
        )

    def _list_nodes(self, d: NodeDriver) -> list[Node]:
        return list(d.list_nodes())

    def _node(self, d: NodeDriver, csp_id: str) -> Node | None:
        return next((n for n in self._list_nodes(d) if str(n.id) == csp_id), None)

    def _live(self, node: Node) -> bool:
        return self.native_status(node) not in self.gone_states

    # catalog

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
        """Libcloud's images: named by id, their name as the OS."""
        found: list[Image] = []
        for name in self._regions_or(region):
            listed = await self._call(name, lambda d: list(d.list_images()))
            found += [
                Image(provider=self.provider, region=name, name=str(i.id), os=str(i.name or ""))
                for i in listed
            ]
        return found

    def _image(self, d: NodeDriver, image_id: str) -> Any:
        """The NodeImage of `image_id`; InvalidRequestError if the cloud has none."""
        image = next((i for i in d.list_images() if str(i.id) == image_id), None)
        if image is None:
            raise InvalidRequestError(f"{self._what}: unknown image {image_id!r}", "InvalidImage")
        return image

    # networks and keys: what Libcloud offers for a cloud, its class overrides

    async def ensure_vnet(
        self,
        region: str,
        name: str,
        cidr: str,
        subnets: Sequence[SubnetSpec],
        tags: dict[str, str],
    ) -> CloudVNet:
        raise self._unsupported("ensure_vnet")

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

    async def delete_vnet(self, region: str, csp_id: str) -> None:
        raise self._unsupported("delete_vnet")

    async def ensure_security_group(
        self,
        region: str,
        name: str,
        vnet_csp_id: str,
        rules: Sequence[FirewallRule],
        tags: dict[str, str],
    ) -> CloudSecurityGroup:
        raise self._unsupported("ensure_security_group")

    def _group(
        self,
        region: str,
        csp_id: str,
        name: str,
        vnet_csp_id: str,
        rules: Sequence[FirewallRule],
        tags: dict[str, str],
    ) -> CloudSecurityGroup:
        return CloudSecurityGroup(
            csp_id=csp_id,
            name=name,
            provider=self.provider,
            region=region,
            vnet_csp_id=vnet_csp_id,
            rules=list(rules),
            tags=dict(tags),
        )

    async def delete_security_group(self, region: str, csp_id: str) -> None:
        raise self._unsupported("delete_security_group")

    async def import_key_pair(
        self, region: str, name: str, public_key: str, tags: dict[str, str]
    ) -> CloudKeyPair:
        raise self._unsupported("import_key_pair")

    def _public_key_as_pair(self, region: str, public_key: str) -> CloudKeyPair:
        """For clouds without a key-pair resource (GCE, Azure): the "key pair" mcis records is
        the public key itself, handed to every VM at creation."""
        self._check_region(region)
        normalized = normalized_public_key(public_key)
        return CloudKeyPair(
            name=normalized,
            provider=self.provider,
            region=region,
            fingerprint=public_key_digest(normalized),
        )

    async def delete_key_pair(self, region: str, name: str) -> None:
        """Nothing to delete where the cloud registers no key pair."""

    # VMs

    @classmethod
    def cloud_name(cls, request: VmCreateRequest) -> str:
        """The VM's name at the cloud: the request's if the cloud accepts its length, else its
        start and `-<8 hex digits of the client token's SHA-256>` (still unique per VM)."""
        if len(request.name) <= cls.max_name_length:
            return request.name
        digest = hashlib.sha256(request.client_token.encode()).hexdigest()[:8]
        return f"{request.name[: cls.max_name_length - 9].rstrip('-')}-{digest}"

    async def create_vm(self, region: str, request: VmCreateRequest) -> CloudVm:
        request = request.model_copy(update={"name": self.cloud_name(request)})
        tags = {**request.tags, TAG_CLIENT_TOKEN: request.client_token}
        ours = self._wanted_tags({TAG_CLIENT_TOKEN: request.client_token}).items()

        def find(d: NodeDriver) -> Node | None:
            """The live node of the request's name: the request's VM if it bears its token."""
            for node in self._list_nodes(d):
                if node.name != request.name or not self._live(node):
                    continue
                if not ours <= self.node_tags(node).items():
                    raise ConflictError(
                        f"{self._what}: a VM named {request.name!r} ({node.id}) exists that "
                        f"mcis did not create for this request (no {TAG_CLIENT_TOKEN} tag "
                        f"{request.client_token!r}): not adopted",
                        "NameTaken",
                    )
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
        """Libcloud's create_node for this cloud, the VM carrying `tags`."""
        raise self._unsupported("create_vm")

    def _wanted_tags(self, tags: dict[str, str]) -> dict[str, str]:
        """Tags as the cloud keeps them (GCE labels are lowercased)."""
        return tags

    async def get_vm(self, region: str, csp_id: str) -> CloudVm | None:
        node = await self._call(region, lambda d: self._node(d, csp_id))
        return None if node is None else self._vm(region, node)

    async def list_vms(self, region: str, tags: dict[str, str] | None = None) -> list[CloudVm]:
        wanted = self._wanted_tags(tags or {})
        nodes = await self._call(region, self._list_nodes)
        vms = [self._vm(region, n) for n in nodes]
        return [vm for vm in vms if all(vm.tags.get(k) == v for k, v in wanted.items())]

    def _do_action(self, d: NodeDriver, csp_id: str, action: VmAction) -> Node:
        node = self._node(d, csp_id)
        if node is None:
            raise CloudNotFoundError(f"{self._what}: VM {csp_id} not found", "NotFound")
        getattr(d, NODE_ACTIONS[action])(node)
        return self._node(d, csp_id) or node

    async def terminate_vm(self, region: str, csp_id: str) -> None:
        def terminate(d: NodeDriver) -> None:
            node = self._node(d, csp_id)
            if node is not None and self._live(node):
                d.destroy_node(node)

        await self._call(region, terminate)
