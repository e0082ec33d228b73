"""The driver protocol every cloud implements. Every mutating call is idempotent:
ensure_* find the resource by name before creating it, create_vm finds the VM by its client
token, delete_* and terminate_vm of something already gone succeed.

Optional capabilities are runtime-checkable protocols a driver may also implement (callers test
`isinstance(driver, ...)` and fall back to the per-VM calls): `MetricsSource`,
`RegionMetricsSource`, and `BatchVmSource` (create and act on many VMs of one region per call).

`SdkDriver` is the plumbing the drivers over a synchronous SDK share (drivers/aws.py over boto3,
drivers/libcloud_base.py over Libcloud): clients per region, a thread pool, the region check,
error mapping, the regions with their places, and the action helper."""

from __future__ import annotations

import asyncio
import hashlib
import threading
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import ClassVar, Generic, Protocol, Self, TypeVar, runtime_checkable

from catalog.entries import Image, Region, Spec
from catalog.regions import Place
from drivers.connection import Connection, Location
from drivers.errors import CloudError, CloudNotFoundError, ConflictError
from models.cloud import (
    CloudKeyPair,
    CloudSecurityGroup,
    CloudVm,
    CloudVNet,
    FirewallRule,
    SubnetSpec,
    VmAction,
    VmCreateRequest,
    VmMetrics,
)


class CloudDriver(Protocol):
    provider: str

    async def regions(self) -> list[Region]: ...

    async def specs(self, region: str | None = None) -> list[Spec]: ...

    async def images(self, region: str | None = None) -> list[Image]: ...

    async def ensure_vnet(
        self,
        region: str,
        name: str,
        cidr: str,
        subnets: Sequence[SubnetSpec],
        tags: dict[str, str],
    ) -> CloudVNet: ...

    async def delete_vnet(self, region: str, csp_id: str) -> None: ...

    async def ensure_security_group(
        self,
        region: str,
        name: str,
        vnet_csp_id: str,
        rules: Sequence[FirewallRule],
        tags: dict[str, str],
    ) -> CloudSecurityGroup: ...

    async def delete_security_group(self, region: str, csp_id: str) -> None: ...

    async def import_key_pair(
        self, region: str, name: str, public_key: str, tags: dict[str, str]
    ) -> CloudKeyPair:
        """Register a public key under `name`; the same key again returns the existing pair,
        another key under an existing name raises ConflictError."""
        ...

    async def delete_key_pair(self, region: str, name: str) -> None: ...

    async def create_vm(self, region: str, request: VmCreateRequest) -> CloudVm:
        """Create a VM, or return the one already created with `request.client_token`."""
        ...

    async def get_vm(self, region: str, csp_id: str) -> CloudVm | None:
        """The VM, or None when the cloud no longer knows it."""
        ...

    async def list_vms(self, region: str, tags: dict[str, str] | None = None) -> list[CloudVm]:
        """VMs in `region` carrying every given tag."""
        ...

    async def suspend_vm(self, region: str, csp_id: str) -> CloudVm: ...

    async def resume_vm(self, region: str, csp_id: str) -> CloudVm: ...

    async def reboot_vm(self, region: str, csp_id: str) -> CloudVm: ...

    async def terminate_vm(self, region: str, csp_id: str) -> None:
        """Terminate; a VM already gone or terminated is not an error."""
        ...

    async def aclose(self) -> None: ...


@runtime_checkable
class MetricsSource(Protocol):
    """A cloud's monitoring API: a VM's current utilisation. Drivers that have one implement it
    (the local cloud reads its VMs' cgroups); auto-control needs it."""

    async def vm_metrics(self, region: str, csp_id: str) -> VmMetrics: ...


@runtime_checkable
class RegionMetricsSource(Protocol):
    """A monitoring API that reads many VMs in one call (as CloudWatch's GetMetricData or Azure
    Monitor's batch API do); auto-control reads a region at once where a driver has it."""

    async def region_metrics(self, region: str, tags: dict[str, str]) -> dict[str, VmMetrics]:
        """The utilisation of every VM in `region` carrying every given tag, by VM id."""
        ...


@runtime_checkable
class BatchVmSource(Protocol):
    """A cloud that creates, and acts on, many VMs of one region in one call.

    The batch calls keep the per-VM calls' guarantees: a create finds a VM by its client token
    (a batch repeated after a crash returns the same VMs, never new ones), and terminating a VM
    already gone is not an error. One VM refused does not fail the others: its slot of the
    result holds the `CloudError` (the same subclass the per-VM call would raise). Only a
    failure of the call as a whole (unreachable, throttled, a 5xx, a malformed batch) raises."""

    async def create_vms(
        self, region: str, requests: Sequence[VmCreateRequest]
    ) -> list[CloudVm | CloudError]:
        """Per request, in order: its VM (created now, or the one its client token already
        made), or the CloudError that refused this VM alone. A failure of the whole call raises
        (as create_vm does)."""
        ...

    async def act_on_vms(
        self, region: str, action: VmAction, csp_ids: Sequence[str]
    ) -> list[CloudVm | CloudError | None]:
        """Per id, in order: the VM after the action was accepted (for terminate: as a read
        right after, None when the cloud no longer knows it), or the CloudError refusing it for
        this VM alone. A failure of the whole call raises."""
        ...


Client = TypeVar("Client")
"""The SDK's client of one region (a boto3 EC2 client, a Libcloud NodeDriver)."""
Raw = TypeVar("Raw")
"""The SDK's record of one VM (an EC2 instance dict, a Libcloud Node)."""
T = TypeVar("T")


def normalized_public_key(public_key: str) -> str:
    """`type base64` of an OpenSSH public key (no comment, no surrounding space)."""
    return " ".join(public_key.split()[:2])


def public_key_digest(public_key: str) -> str:
    return hashlib.sha256(normalized_public_key(public_key).encode()).hexdigest()


class SdkDriver(Generic[Client, Raw]):
    """What every driver over a cloud's synchronous SDK shares (the AWS driver over boto3, the
    Libcloud drivers): SDK clients per region, made on first use by `clients(region)` (one per
    region, or one per region and pool thread where the SDK's clients are not thread-safe); every
    call in this driver's own thread pool (so cloud calls never starve the store's calls on the
    default executor) with the SDK's failures mapped to drivers.errors; the region check; the
    regions with their places; suspend, resume and reboot as one action helper.

    A subclass names its `cloud` kind, its cloud's public region table (`public_regions`,
    from `catalog.regions`), how to make its clients from a connection (`client_factory`), how
    to map an SDK failure (`cloud_error`), how to act on a VM (`_do_action`) and how to read one
    (`_vm`)."""

    cloud: ClassVar[str]
    public_regions: ClassVar[Mapping[str, Place]] = {}
    """The cloud's public regions with their places; empty for a private cloud."""
    max_threads: ClassVar[int] = 8
    client_per_thread: ClassVar[bool] = False
    """True where one SDK client must not serve two calls at once (Libcloud keeps a call's
    response on its connection): each pool thread then makes its own client of a region, so a
    region's calls still run up to `max_threads` at once. False (boto3): one shared client."""
    sdk_errors: ClassVar[tuple[type[Exception], ...]] = (Exception,)
    """The exceptions `cloud_error` maps; any other is raised as it is."""

    def __init__(
        self,
        provider: str,
        regions: Sequence[str],
        clients: Callable[[str], Client],
        *,
        options: Mapping[str, str] | None = None,
        endpoint_url: str | None = None,
        locations: Mapping[str, Location] | None = None,
    ) -> None:
        """`provider`: the name in mcis (the connection's name); `regions`: those this driver
        serves; `clients(region)`: a new SDK client of a region (called from the pool: once per
        region, or once per region and thread with `client_per_thread`); `options`: the
        connection's per-cloud settings; `endpoint_url` is only shown in messages;
        `locations`: places of regions that the public table lacks or overrides."""
        self.provider = provider
        self.configured_regions = tuple(regions)
        self.options = dict(options or {})
        self.endpoint_url = endpoint_url
        self.locations = dict(locations or {})
        self._factory = clients
        self._clients: dict[str, Client] = {}
        self._lock = threading.Lock()
        self._thread_clients = threading.local()
        self._pool = ThreadPoolExecutor(
            self.max_threads, thread_name_prefix=f"{self.cloud}-{provider}"
        )

    @classmethod
    def from_connection(cls, connection: Connection) -> Self:
        """The driver of one connection (no network call until it is used)."""
        return cls(
            connection.name,
            connection.regions,
            cls.client_factory(connection),
            options=connection.options,
            endpoint_url=connection.endpoint_url,
            locations=connection.locations,
        )

    @classmethod
    def client_factory(cls, connection: Connection) -> Callable[[str], Client]:
        """How to make the SDK client of a region of `connection`."""
        raise NotImplementedError(f"{cls.__name__} names no client factory")

    @staticmethod
    def cloud_error(exc: Exception, what: str) -> CloudError:
        """The drivers.errors exception of an SDK failure (`what` names the connection)."""
        raise NotImplementedError("cloud_error") from exc

    def __repr__(self) -> str:
        endpoint = f", endpoint={self.endpoint_url!r}" if self.endpoint_url else ""
        return (
            f"{type(self).__name__}(provider={self.provider!r}, "
            f"regions={self.configured_regions!r}{endpoint})"
        )

    @property
    def _what(self) -> str:
        where = f" at {self.endpoint_url}" if self.endpoint_url else ""
        return f"{self.cloud} connection {self.provider!r}{where}"

    def _key_conflict(self, name: str) -> ConflictError:
        return ConflictError(
            f"{self._what}: key pair {name!r} exists with another public key", "KeyPairConflict"
        )

    # plumbing

    def _client(self, region: str) -> Client:
        """The client of `region` for the calling pool thread (see `client_per_thread`)."""
        if self.client_per_thread:
            own: dict[str, Client] = vars(self._thread_clients).setdefault("clients", {})
            if region not in own:
                own[region] = self._factory(region)
            return own[region]
        with self._lock:
            client = self._clients.get(region)
            if client is None:
                client = self._clients[region] = self._factory(region)
            return client

    def _check_region(self, region: str) -> None:
        if region not in self.configured_regions:
            raise CloudNotFoundError(
                f"{self._what}: region {region!r} is not one of its regions "
                f"({', '.join(self.configured_regions)})",
                "UnknownRegion",
            )

    def _regions_or(self, region: str | None) -> tuple[str, ...]:
        if region is None:
            return self.configured_regions
        self._check_region(region)
        return (region,)

    async def _call(self, region: str, work: Callable[[Client], T]) -> T:
        """Run `work(client)` in the pool; SDK failures become drivers.errors."""
        self._check_region(region)

        def run() -> T:
            try:
                return work(self._client(region))
            except CloudError:
                raise
            except self.sdk_errors as exc:
                raise self.cloud_error(exc, self._what) from None

        return await asyncio.get_running_loop().run_in_executor(self._pool, run)

    # regions

    def place(self, region: str) -> Place | None:
        """Where `region` is: the connection's location, else the cloud's public table; None
        when neither knows it (never a made-up place)."""
        location = self.locations.get(region)
        if location is not None:
            return (location.display_name or region, location.latitude, location.longitude)
        return self.public_regions.get(region)

    def _located(self, names: Sequence[str]) -> list[Region]:
        """The regions among `names` whose place is known (the others cannot be placed)."""
        regions = []
        for name in names:
            place = self.place(name)
            if place is not None:
                display, latitude, longitude = place
                regions.append(
                    Region(
                        provider=self.provider,
                        name=name,
                        display_name=display,
                        latitude=latitude,
                        longitude=longitude,
                    )
                )
        return regions

    async def regions(self) -> list[Region]:
        """The connection's regions whose place is known (no API call)."""
        return self._located(self.configured_regions)

    # VM actions

    def _vm(self, region: str, raw: Raw) -> CloudVm:
        raise NotImplementedError("_vm")

    def _do_action(self, client: Client, csp_id: str, action: VmAction) -> Raw:
        """Ask the cloud for `action` (suspend, resume or reboot) on the VM; its record after."""
        raise NotImplementedError("_do_action")

    async def _act(self, region: str, csp_id: str, action: VmAction) -> CloudVm:
        raw = await self._call(region, lambda client: self._do_action(client, csp_id, action))
        return self._vm(region, raw)

    async def suspend_vm(self, region: str, csp_id: str) -> CloudVm:
        return await self._act(region, csp_id, VmAction.SUSPEND)

    async def resume_vm(self, region: str, csp_id: str) -> CloudVm:
        return await self._act(region, csp_id, VmAction.RESUME)

    async def reboot_vm(self, region: str, csp_id: str) -> CloudVm:
        return await self._act(region, csp_id, VmAction.REBOOT)

    async def aclose(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
