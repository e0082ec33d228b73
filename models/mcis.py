"""The MCIS request (static or dynamic VM groups), VM records and the MCIS view users see."""

from __future__ import annotations

from enum import StrEnum
from typing import Self

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from catalog.entries import CatalogId
from models.lifecycle import OperationRecord
from models.naming import check_name
from models.records import VmRecord
from models.status import McisStatus, VmStatus

MAX_VMS_PER_MCIS = 10_000
MAX_VMS_PER_GROUP = MAX_VMS_PER_MCIS  # one group may hold the whole MCIS
MAX_DESCRIPTION = 1000
VMS_IN_VIEW = 500
"""The most VMs the status query lists (`McisView.vms`); a larger MCIS answers with its counts,
and clients read the VM rows from the store a page at a time (`vms_listed` False)."""


class PartialFailurePolicy(StrEnum):
    CONTINUE = "continue"  # keep what was created, list every failed VM
    ROLLBACK = "rollback"  # any failure: terminate everything, the MCIS ends Failed
    REFINE = "refine"  # drop failed VMs and create replacements (bounded rounds)


class GroupRequest(BaseModel):
    """One VM group. Static when it names vnet (+ security groups and ssh key), else dynamic:
    the shared vNet, security group and key of its cloud region are created on demand."""

    model_config = ConfigDict(extra="forbid")

    name: str
    spec: CatalogId
    image: CatalogId
    count: int = Field(ge=1, le=MAX_VMS_PER_GROUP)
    vnet: str | None = None
    subnet: str | None = None
    security_groups: list[str] | None = None
    ssh_key: str | None = None

    @field_validator("name")
    @classmethod
    def _name_ok(cls, value: str) -> str:
        return check_name(value, "group name")

    @model_validator(mode="after")
    def _static_is_complete(self) -> Self:
        static_fields = (self.vnet, self.security_groups, self.ssh_key)
        if any(f is not None for f in static_fields) and not all(
            f is not None for f in static_fields
        ):
            raise ValueError(
                f"group {self.name!r}: a static group names vnet, security_groups and ssh_key "
                "together (or none of them for dynamic creation)"
            )
        if self.security_groups is not None and not self.security_groups:
            raise ValueError(f"group {self.name!r}: security_groups must not be empty")
        if self.spec.place != self.image.place:
            raise ValueError(
                f"group {self.name!r}: spec {self.spec!r} and image {self.image!r} are in "
                "different clouds or regions"
            )
        return self

    @property
    def is_static(self) -> bool:
        return self.vnet is not None

    @property
    def provider(self) -> str:
        return self.spec.provider

    @property
    def region(self) -> str:
        return self.spec.region


class McisRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    description: str = Field(default="", max_length=MAX_DESCRIPTION)
    on_partial_failure: PartialFailurePolicy = PartialFailurePolicy.CONTINUE
    groups: list[GroupRequest] = Field(min_length=1)

    @field_validator("name")
    @classmethod
    def _name_ok(cls, value: str) -> str:
        return check_name(value, "MCIS name")

    @model_validator(mode="after")
    def _groups_ok(self) -> Self:
        names = [g.name for g in self.groups]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"group names must be unique, repeated: {', '.join(dupes)}")
        total = sum(g.count for g in self.groups)
        if total > MAX_VMS_PER_MCIS:
            raise ValueError(f"{total} VMs requested; one MCIS holds at most {MAX_VMS_PER_MCIS}")
        return self


class VmView(BaseModel):
    """One VM of an MCIS as shown to users (`mcis status --json` -> vms[])."""

    id: str
    group: str
    status: VmStatus
    native_status: str | None = None
    provider: str
    region: str
    spec: str
    image: str
    public_ip: str | None = None
    private_ip: str | None = None
    csp_id: str | None = None
    error: str | None = None

    @classmethod
    def of(cls, vm: VmRecord) -> VmView:
        """The view of a VM's record (the workflow's state or the store's row)."""
        return cls(
            id=vm.name,
            group=vm.group,
            status=vm.status,
            native_status=vm.native_status,
            provider=vm.provider,
            region=vm.region,
            spec=vm.spec,
            image=vm.image,
            public_ip=vm.public_ip,
            private_ip=vm.private_ip,
            csp_id=vm.csp_id,
            error=vm.error,
        )


class McisView(BaseModel):
    """`mcis status --json`: the status fields at top level plus the VMs."""

    namespace: str
    name: str
    uid: str
    description: str = ""
    status: str  # label, e.g. "Running" or "Partial-Running"
    dominant_status: VmStatus
    partial: bool
    counts: dict[VmStatus, int]
    total: int
    target_action: str
    target_status: str
    failed_vms: list[str]
    display: str
    phase: str
    operation: OperationRecord | None = None  # queued or running now
    operations: list[OperationRecord] = Field(default_factory=list)  # recent, oldest first
    vms: list[VmView]
    # False when the MCIS has more VMs than one answer carries (VMS_IN_VIEW): `vms` is empty
    # and the rows are read from the store a page at a time (Store.vm_page).
    vms_listed: bool = True

    @classmethod
    def build(
        cls,
        namespace: str,
        name: str,
        uid: str,
        description: str,
        phase: str,
        status: McisStatus,
        vms: list[VmView],
        operation: OperationRecord | None = None,
        operations: list[OperationRecord] | None = None,
    ) -> McisView:
        return cls(
            namespace=namespace,
            name=name,
            uid=uid,
            description=description,
            status=status.label,
            dominant_status=status.status,
            partial=status.partial,
            counts=status.counts,
            total=status.total,
            target_action=status.target_action.value,
            target_status=status.target_status.value,
            failed_vms=status.failed_vms,
            display=status.display,
            phase=phase,
            operation=operation,
            operations=operations or [],
            vms=vms,
        )
