"""Folding what a cloud reports about a VM into its record (pure)."""

from __future__ import annotations

from drivers.status_map import to_canonical
from models.cloud import CloudVm
from models.records import VmRecord
from models.status import TargetAction


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


def observed_change(before: VmRecord, after: VmRecord) -> bool:
    keys = ("status", "native_status", "public_ip", "csp_id")
    return any(getattr(before, k) != getattr(after, k) for k in keys)
