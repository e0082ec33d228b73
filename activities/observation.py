"""Folding what a cloud reports about a VM into its record (pure), and the rule for a VM a
region's listing leaves out: listings lag creates (AWS's DescribeInstances after RunInstances),
so a VM missing from one is gone only when a direct read says so (`apply_observation` with
None) or when it is still missing LISTING_GRACE_S after its create returned."""

from __future__ import annotations

from datetime import datetime, timedelta

from drivers.status_map import to_canonical
from models.cloud import CloudVm
from models.records import VmRecord
from models.status import TargetAction

LISTING_GRACE_S = 60.0
"""How long after its create returned a VM may be missing from its region's listing and still
be taken for one the listing has not caught up with."""


def apply_observation(vm: VmRecord, seen: CloudVm | None, action: TargetAction) -> VmRecord:
    """The record after the cloud reported `seen` (None: the cloud no longer knows the VM)."""
    if seen is None:
        status = to_canonical(vm.provider, None, action)
        return vm.model_copy(update={"status": status, "native_status": None})
    status = to_canonical(
        seen.cloud or vm.provider, seen.native_status, action, seen.failure_reason
    )
    return vm.model_copy(
        update={
            "csp_id": seen.csp_id,
            "status": status,
            "native_status": seen.native_status,
            "public_ip": seen.public_ip,
            "private_ip": seen.private_ip,
            "error": seen.failure_reason or vm.error,
        }
    )


def listing_may_lag(vm: VmRecord, now: datetime) -> bool:
    """Whether a listing at `now` may not show the VM yet: its create returned less than
    LISTING_GRACE_S ago and no listing has shown it since (a VM with no known create time is
    not new; one a listing has shown is known to the listings)."""
    created = vm.created_at
    recent = created is not None and now < created + timedelta(seconds=LISTING_GRACE_S)
    return recent and not vm.listed


def observe_listed(
    vm: VmRecord, listed: CloudVm | None, action: TargetAction, now: datetime
) -> VmRecord:
    """The record after a listing of its region at `now` showed `listed` (None: left out).
    Left out while the listing may lag, the VM keeps its record as it was (its last status:
    neither Failed nor Terminated); left out after that, it is gone."""
    if listed is None and listing_may_lag(vm, now):
        return vm
    seen = apply_observation(vm, listed, action)
    return seen if listed is None or vm.listed else seen.model_copy(update={"listed": True})


def observed_change(before: VmRecord, after: VmRecord) -> bool:
    keys = ("status", "native_status", "public_ip", "csp_id")
    return any(getattr(before, k) != getattr(after, k) for k in keys)
