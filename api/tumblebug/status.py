"""An MCIS in Tumblebug 0.3's words, from mcis's status view: the status string
(`Running-(2/2)`, `Partial-Running-(2/3)`, `Failed-(1/3)`, `Include-NotDefinedStatus-(1/3)`),
target action and status per MCIS and VM, VM ids, locations, and the MCIS and STATUS objects.

Tumblebug VM ids: a `vm` entry named `VM_01` makes the mcis group `vm-01` of one VM, `vm-01-1`;
its Tumblebug id is `vm-01`, the group's. A VM added to a group later keeps its mcis name."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from api.tumblebug.models import (
    NONE,
    KeptMcis,
    Location,
    McisInfo,
    McisStatusInfo,
    RegionZone,
    VmInfo,
    VmStatusInfo,
)
from catalog.entries import Region
from models.mcis import McisView, VmView
from models.naming import vm_name
from models.status import VmStatus

S = VmStatus
STATUS_ORDER = (
    S.FAILED,
    S.SUSPENDED,
    S.RUNNING,
    S.TERMINATED,
    S.CREATING,
    S.SUSPENDING,
    S.RESUMING,
    S.REBOOTING,
    S.TERMINATING,
)
"""Tumblebug's statuses; a tie between the most common goes to the first."""
VM_USER = "root"
"""The account mcis's VMs are reached with (`vmUserAccount`)."""


def status_string(statuses: Sequence[VmStatus]) -> str:
    """The MCIS status string of its VMs' statuses."""
    total = len(statuses)
    counts = Counter(statuses)
    if counts[S.FAILED]:
        return f"Failed-({counts[S.FAILED]}/{total})"
    if counts[S.UNDEFINED]:
        return f"Include-NotDefinedStatus-({counts[S.UNDEFINED]}/{total})"
    if not total:
        return f"{S.TERMINATED.value}-(0/0)"
    most = max(STATUS_ORDER, key=lambda status: counts[status])  # the first of equals
    prefix = "" if counts[most] == total else "Partial-"
    return f"{prefix}{most.value}-({counts[most]}/{total})"


def tumblebug_vm_id(name: str, group: str) -> str:
    """The Tumblebug id of the VM `name` of `group`: the group's for its first VM, else the
    VM's mcis name."""
    return group if name == vm_name(group, 1) else name


def vm_id(vm: VmView) -> str:
    return tumblebug_vm_id(vm.id, vm.group)


def mcis_targets(view: McisView) -> tuple[str, str]:
    """(targetAction, targetStatus) of the MCIS: mcis's while an operation is under way, else
    "None" (mcis keeps the target of an action on some VMs until every VM is there; Tumblebug
    shows one only while it is pending)."""
    if view.operation is None:
        return NONE, NONE
    return view.target_action, view.target_status


def targets(view: McisView, vm: VmView) -> tuple[str, str]:
    """(targetAction, targetStatus) of a VM: the MCIS's while the VM is in the scope of the
    operation under way and not yet at its target."""
    action, status = mcis_targets(view)
    scope = view.operation.scope if view.operation else ""
    if status in (NONE, vm.status.value) or scope not in (
        "mcis",
        f"group {vm.group}",
        f"vm {vm.id}",
    ):
        return NONE, NONE
    return action, status


class McisShape:
    """The Tumblebug objects of one MCIS: its view (with every VM), what the MCIS API kept of
    its creation (`KeptMcis`; only the name for an MCIS made otherwise) and the catalog entry
    of each VM's region."""

    def __init__(
        self, view: McisView, kept: KeptMcis, regions: dict[tuple[str, str], Region]
    ) -> None:
        self.view = view
        self.kept = kept
        self.regions = regions

    @property
    def status(self) -> str:
        return status_string([vm.status for vm in self.view.vms])

    def location(self, vm: VmView) -> Location:
        region = self.regions.get((vm.provider, vm.region))
        kept = self.kept.vm.get(vm.group)
        return Location(
            latitude=region.latitude if region else 0.0,
            longitude=region.longitude if region else 0.0,
            briefAddr=region.display_name if region else "",
            cloudType=kept.cloudType if kept else vm.provider,
            nativeRegion=vm.region,
        )

    def info(self) -> McisInfo:
        view = self.view
        return McisInfo(
            id=view.name,
            name=self.kept.name,
            description=view.description,
            label=self.kept.label,
            placement_algo=self.kept.placement_algo,
            installMonAgent=self.kept.installMonAgent,
            status=self.status,
            targetStatus=mcis_targets(view)[1],
            targetAction=mcis_targets(view)[0],
            vm=[self.vm_info(vm) for vm in view.vms],
        )

    def vm_info(self, vm: VmView) -> VmInfo:
        kept = self.kept.vm.get(vm.group)
        entry = kept.entry if kept else None
        action, status = targets(self.view, vm)
        return VmInfo(
            id=vm_id(vm),
            name=entry.name if entry and vm_id(vm) == vm.group else vm.id,
            connectionName=entry.connectionName if entry else "",
            specId=entry.specId if entry else vm.spec,
            imageId=entry.imageId if entry else vm.image,
            vNetId=entry.vNetId if entry else "",
            subnetId=entry.subnetId if entry else "",
            securityGroupIds=entry.securityGroupIds if entry else [],
            sshKeyId=entry.sshKeyId if entry else "",
            vmUserAccount=VM_USER,
            location=self.location(vm),
            region=RegionZone(Region=vm.region, Zone=kept.zone if kept else ""),
            publicIP=vm.public_ip or "",
            privateIP=vm.private_ip or "",
            status=vm.status.value,
            targetStatus=status,
            targetAction=action,
            cspViewVmDetail={"IId": {"NameId": vm.id, "SystemId": vm.csp_id or ""}},
        )

    def status_info(self) -> McisStatusInfo:
        view = self.view
        master = next((vm for vm in view.vms if vm.status is S.RUNNING and vm.public_ip), None)
        return McisStatusInfo(
            id=view.name,
            name=self.kept.name,
            status=self.status,
            targetStatus=mcis_targets(view)[1],
            targetAction=mcis_targets(view)[0],
            masterVmId=vm_id(master) if master else "",
            masterIp=(master.public_ip or "") if master else "",
            installMonAgent=self.kept.installMonAgent,
            vm=[self.vm_status(vm) for vm in view.vms],
        )

    def vm_status(self, vm: VmView) -> VmStatusInfo:
        action, status = targets(self.view, vm)
        return VmStatusInfo(
            id=vm_id(vm),
            csp_vm_id=vm.csp_id or "",
            name=vm_id(vm),
            status=vm.status.value,
            targetStatus=status,
            targetAction=action,
            native_status=vm.native_status or "",
            public_ip=vm.public_ip or "",
            location=self.location(vm),
        )
