"""The orphan sweep (`mcis reconcile --all`): the VMs the clouds hold with mcis tags that no MCIS
owns, the ones a live MCIS could adopt, and the VM records whose VM the clouds no longer hold.

Pure: the sweep workflow's activity lists the clouds (first) and reads the store (second, so a
VM made while the sweep runs always finds the record its MCIS wrote before creating it); this
module decides what each VM is."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping

from pydantic import BaseModel, Field

from models.records import VmRecord
from models.status import VmStatus
from models.workflow_input import WorkflowInput

GONE = (VmStatus.TERMINATED, VmStatus.TERMINATING)
"""A VM in these states costs nothing (more): never an orphan, and a record there never drifts."""


class SweepInput(WorkflowInput):
    delete_orphans: bool = False  # terminate every orphan found


class TaggedVm(BaseModel):
    """A cloud VM carrying mcis tags, as the sweep saw it."""

    provider: str
    region: str
    csp_id: str
    name: str = ""  # the cloud's name of the VM
    namespace: str  # its tags
    mcis: str
    uid: str = ""
    vm: str = ""
    status: VmStatus
    native_status: str = ""


class Orphan(TaggedVm):
    reason: str
    action: str = "none"  # with --delete-orphans: terminated, already gone, failed: ...


class Drift(BaseModel):
    """Records of one MCIS whose VM its cloud no longer holds (`mcis reconcile NS NAME` marks
    them)."""

    namespace: str
    mcis: str
    missing: list[str]


class ScanError(BaseModel):
    provider: str
    region: str  # "*": the cloud's regions could not be listed
    error: str


class SweepScan(BaseModel):
    """What the clouds hold: every tagged VM of the regions that could be listed."""

    regions: list[tuple[str, str]] = Field(default_factory=list)  # (provider, region) listed
    vms: list[TaggedVm] = Field(default_factory=list)
    errors: list[ScanError] = Field(default_factory=list)


class SweepReport(BaseModel):
    """`mcis reconcile --all --json`."""

    regions: int = 0  # regions scanned
    tagged: int = 0  # live VMs with mcis tags found there
    orphans: list[Orphan] = Field(default_factory=list)
    unrecorded: list[Orphan] = Field(default_factory=list)  # a live MCIS's, adoptable
    drift: list[Drift] = Field(default_factory=list)
    errors: list[ScanError] = Field(default_factory=list)


class OrphanRef(BaseModel):
    """One orphan to terminate, and the tags it must still carry (a safety belt: the sweep
    never terminates a VM that is not the one it found)."""

    provider: str
    region: str
    csp_id: str
    namespace: str
    mcis: str
    uid: str


def classify(
    scan: SweepScan,
    mcis_uids: Mapping[tuple[str, str], str],
    records: Iterable[VmRecord],
) -> SweepReport:
    """Sort the scan's live VMs into orphans and unrecorded ones, and find the records whose VM
    is gone. `mcis_uids`: (namespace, name) -> uid of every MCIS in the store."""
    records = list(records)
    recorded = {(r.provider, r.csp_id) for r in records if r.csp_id}
    live = [vm for vm in scan.vms if vm.status not in GONE]
    report = SweepReport(regions=len(scan.regions), tagged=len(live), errors=list(scan.errors))
    for vm in sorted(live, key=lambda v: (v.provider, v.region, v.namespace, v.mcis, v.csp_id)):
        if (vm.provider, vm.csp_id) in recorded:
            continue
        owner = mcis_uids.get((vm.namespace, vm.mcis))
        data = vm.model_dump()
        if owner is None:
            reason = f"no MCIS {vm.namespace}/{vm.mcis}"
            report.orphans.append(Orphan(**data, reason=reason))
        elif vm.uid and vm.uid != owner:
            reason = f"left by an earlier MCIS {vm.namespace}/{vm.mcis} (uid {vm.uid[:8]})"
            report.orphans.append(Orphan(**data, reason=reason))
        else:
            reason = f"not in the records of {vm.namespace}/{vm.mcis}: reconcile adopts it"
            report.unrecorded.append(Orphan(**data, reason=reason))
    scanned = set(scan.regions)
    held = {(vm.provider, vm.csp_id) for vm in live}
    missing: dict[tuple[str, str], list[str]] = defaultdict(list)
    for record in records:
        if (
            record.csp_id
            and record.status not in GONE
            and (record.provider, record.region) in scanned
            and (record.provider, record.csp_id) not in held
        ):
            missing[record.namespace, record.mcis].append(record.name)
    report.drift = [
        Drift(namespace=ns, mcis=name, missing=names)
        for (ns, name), names in sorted(missing.items())
    ]
    return report
