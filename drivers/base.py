"""The driver protocol every cloud implements. Every mutating call is idempotent:
ensure_* find the resource by name before creating it, create_vm finds the VM by its client
token, delete_* and terminate_vm of something already gone succeed.

Optional capabilities are runtime-checkable protocols a driver may also implement (callers test
`isinstance(driver, ...)` and fall back to the per-VM calls): `MetricsSource`,
`RegionMetricsSource`, and `BatchVmSource` (create and act on many VMs of one region per call)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

from catalog.entries import Image, Region, Spec
from drivers.errors import CloudError
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
