"""Inputs and outputs of the MCIS/MCIR workflows and their activities (pydantic contracts that
travel through Temporal history, so they never carry a secret)."""

from __future__ import annotations

from pydantic import BaseModel, Field

from models.cloud import DEFAULT_RULES, FirewallRule, SubnetSpec
from models.lifecycle import OperationKind, OperationRecord
from models.mcis import MAX_VMS_PER_GROUP, VMS_IN_VIEW, GroupRequest, McisRequest
from models.naming import Name, shared_resource_name
from models.records import McisPhase, McisRecord, ResourceKind, ResourceRecord, VmRecord
from models.status import McisStatus, TargetAction, TargetStatus, VmStatus, aggregate
from models.workflow_input import WorkflowInput

VM_BATCH_SIZE = 250
"""VMs per batch activity (create, action, observation): bounds each payload, whatever the
size of the MCIS (about 0.6 kB a record)."""
VM_PAGE_SIZE = 500
"""VMs per page when a workflow reads an MCIS back from the store."""

SHARED_VNET_CIDR = "10.0.0.0/16"
SHARED_SUBNET = SubnetSpec(name="default", cidr="10.0.0.0/20")


class McisLimits(BaseModel):
    """Concurrency and pacing of cloud calls for one MCIS."""

    per_region_concurrency: int = Field(default=20, ge=1)
    per_provider_concurrency: int = Field(default=100, ge=1)
    poll_interval_s: float = Field(default=0.5, gt=0)
    observe_max_wait_s: float = Field(default=20.0, gt=0)
    observe_report_every_s: float = Field(default=10.0, ge=0)  # batched runs (release 0.3)
    vm_ready_timeout_s: float = Field(default=1800.0, gt=0)
    create_attempts: int = Field(default=8, ge=1)
    refine_rounds: int = Field(default=2, ge=0)


class NetworkRefs(BaseModel):
    """Where the VMs of one group attach: resource names in the namespace and their cloud ids."""

    provider: str
    region: str
    vnet: str
    vnet_csp_id: str
    subnet_csp_id: str
    security_groups: list[str]
    security_group_csp_ids: list[str]
    ssh_key: str
    key_csp_name: str


def shared_network_refs(
    provider: str,
    region: str,
    vnet: ResourceRecord,
    security_group: ResourceRecord,
    key: ResourceRecord,
) -> NetworkRefs:
    """Where a dynamic group's VMs attach: its region's shared vNet, security group and key."""
    name = shared_resource_name(provider, region)
    return NetworkRefs(
        provider=provider,
        region=region,
        vnet=name,
        vnet_csp_id=vnet.csp_id,
        subnet_csp_id=vnet.details["subnets"][SHARED_SUBNET.name],
        security_groups=[name],
        security_group_csp_ids=[security_group.csp_id],
        ssh_key=name,
        key_csp_name=key.csp_id,
    )


class McisSnapshot(BaseModel):
    """State carried across continue-as-new."""

    uid: str
    phase: McisPhase
    vms: list[VmRecord]
    groups: list[GroupRequest]
    target_action: TargetAction = TargetAction.NONE
    target_status: TargetStatus = TargetStatus.NONE
    networks: dict[str, NetworkRefs] = Field(default_factory=dict)  # group -> refs
    operations: list[OperationRecord] = Field(default_factory=list)
    next_operation_id: int = 1
    next_serial: int = 1  # the next VM's serial (never given twice in the MCIS's life)
    token_epoch: str = ""  # set when rebuilt from the store: the serials counted before are lost
    # From release 0.3 the VMs stay in the store (`vms` is empty): the next run reads them a
    # page at a time, and until then answers with the status carried here.
    vms_in_store: bool = False
    status: McisStatus | None = None


def rebuilt_snapshot(mcis: McisRecord, vms: list[VmRecord], epoch: str) -> McisSnapshot:
    """The state of an MCIS whose workflow is gone (failed, terminated, lost), rebuilt from the
    store's records so that it can be operated and deleted again. The store does not keep the
    serial counter: tokens of VMs made after the rebuild derive from a new `epoch` as well, so
    they cannot meet the token of a VM removed before it."""
    groups = McisRequest.model_validate(mcis.request).groups
    in_store = len(vms) > VMS_IN_VIEW  # the new run reads them back itself
    return McisSnapshot(
        uid=mcis.uid,
        phase=McisPhase.ACTIVE if mcis.phase is McisPhase.DELETING else mcis.phase,
        vms=[] if in_store else vms,
        vms_in_store=in_store,
        status=aggregate([(vm.name, vm.status) for vm in vms]) if in_store else None,
        groups=groups,
        next_serial=max((vm.serial for vm in vms), default=0) + 1,
        token_epoch=epoch,
    )


class OperationRequest(WorkflowInput):
    """An operation on a running MCIS, sent as a Temporal Update to its workflow."""

    kind: OperationKind
    group: Name | None = None  # scope: one group (or the group to scale)
    vm: Name | None = None  # scope: one VM (or the VM to remove)
    count: int | None = Field(default=None, ge=1, le=MAX_VMS_PER_GROUP)  # scale-out / in
    new_group: GroupRequest | None = None  # add-group
    force: bool = False  # queue it even while another operation runs
    request_id: str | None = Field(default=None, max_length=200)  # the same id: no repeat

    @property
    def scope(self) -> str:
        if self.vm:
            return f"vm {self.vm}"
        if self.group:
            return f"group {self.group}"
        if self.new_group:
            return f"group {self.new_group.name}"
        return "mcis"


class McisWorkflowInput(WorkflowInput):
    carried = "snapshot"

    namespace: Name
    request: McisRequest
    limits: McisLimits = Field(default_factory=McisLimits)
    snapshot: McisSnapshot | None = None


# --- activity inputs -------------------------------------------------------------------------


class ResourcePlace(BaseModel):
    """Which resource of a namespace, and where it lives."""

    namespace: Name
    name: str
    provider: str
    region: str
    shared: bool = False  # created on demand for dynamic MCIS


class EnsureVNetInput(ResourcePlace):
    cidr: str = SHARED_VNET_CIDR
    subnets: list[SubnetSpec] = Field(default_factory=lambda: [SHARED_SUBNET])


class EnsureSecurityGroupInput(ResourcePlace):
    vnet: str  # resource name of the vNet in the namespace
    rules: list[FirewallRule] = Field(default_factory=lambda: list(DEFAULT_RULES))


class EnsureSshKeyInput(ResourcePlace):
    pass


class ResourceRef(BaseModel):
    namespace: Name
    kind: ResourceKind
    name: str


class SharedNetworkRef(BaseModel):
    namespace: str
    provider: str
    region: str


class StaticNetworkInput(BaseModel):
    namespace: str
    group: str
    provider: str
    region: str
    vnet: str
    subnet: str | None
    security_groups: list[str]
    ssh_key: str


class CreateVmInput(BaseModel):
    namespace: str
    mcis: str
    uid: str
    vm: VmRecord
    network: NetworkRefs


class ObserveVmsInput(BaseModel):
    """Watch some VMs of one MCIS in one region until one changes or all are stable: the
    records given, or (from release 0.3) the VMs named, as the store holds them."""

    namespace: str
    mcis: str
    uid: str
    provider: str
    region: str
    vms: list[VmRecord] = Field(default_factory=list)
    names: list[str] = Field(default_factory=list)
    # with `names`: each VM's status as the workflow knows it. A VM whose status differs is
    # returned as changed even when the store already holds it (an attempt before this one
    # may have written it and then been lost).
    known: dict[str, VmStatus] = Field(default_factory=dict)
    action: TargetAction
    poll_interval_s: float
    max_wait_s: float
    # 0: return at the first change; else keep watching after a change until the VMs are
    # stable or this long has passed (fewer rounds for a large MCIS; progress every so often)
    report_every_s: float = 0.0


class VmBatch(BaseModel):
    """Up to VM_BATCH_SIZE VMs of one MCIS in one region, by name: a batch activity reads
    their records from the store, writes what it changes back, and returns those records."""

    namespace: str
    mcis: str
    uid: str
    provider: str
    region: str
    names: list[str] = Field(max_length=VM_BATCH_SIZE)


class CreateVmBatchInput(BaseModel):
    batch: VmBatch
    network: NetworkRefs


class VmActionBatchInput(BaseModel):
    batch: VmBatch
    action: TargetAction


class PlanGroupInput(BaseModel):
    """Record the VMs `plan_group` makes of these arguments (the workflow plans the same)."""

    namespace: str
    mcis: str
    token_scope: str
    group: GroupRequest
    first_index: int = 1
    first_serial: int = 0


class VmPageInput(BaseModel):
    namespace: str
    mcis: str
    after: str = ""  # the last name of the page before ("" for the first page)
    limit: int = Field(default=VM_PAGE_SIZE, ge=1, le=VM_PAGE_SIZE)


class VmActionInput(BaseModel):
    namespace: str
    mcis: str
    vm: VmRecord
    action: TargetAction


class ForgetVmsInput(BaseModel):
    namespace: str
    mcis: str
    names: list[str]


class ReconcileInput(BaseModel):
    namespace: str
    mcis: str
    uid: str
    regions: list[tuple[str, str]]  # (provider, region) to look in
    vms: list[VmRecord] = Field(default_factory=list)  # the records (before release 0.3)
    vms_in_store: bool = False  # the records are the store's (paged); only changes come back


class ReconcileResult(BaseModel):
    adopted: list[VmRecord] = Field(default_factory=list)  # at the cloud, not in the records
    missing: list[str] = Field(default_factory=list)  # in the records, gone at the cloud
    observed: list[VmRecord] = Field(default_factory=list)  # records refreshed from the cloud
    adopted_names: list[str] = Field(default_factory=list)  # adopted, records in the store


class McisPhaseInput(BaseModel):
    namespace: str
    mcis: str
    phase: McisPhase
