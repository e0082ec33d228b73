"""Native VM state of each cloud -> canonical VmStatus, as in the seed's table.

Mapping is per cloud, never by string alone (GCP's TERMINATED is a stopped VM, AWS's is gone).
Where a cloud has no state of its own for a phase ("self-made" in the seed), the canonical
status is derived from the action in flight: e.g. GCP reboot is stop+start, so STOPPING while
rebooting is Rebooting. A VM the cloud no longer knows (`native=None`) is Terminated.
A `failure_reason` from the cloud (AWS StateReason, GCP statusMessage) makes a down VM Failed.
"""

from __future__ import annotations

from models.status import TargetAction, VmStatus

A = TargetAction
S = VmStatus

# (native status) -> default canonical status, and per-action overrides for self-made states.
_Table = dict[str, tuple[VmStatus, dict[TargetAction, VmStatus]]]

NATIVE_STATUS: dict[str, _Table] = {
    "aws": {
        "pending": (S.CREATING, {A.RESUME: S.RESUMING, A.REBOOT: S.REBOOTING}),
        "running": (S.RUNNING, {}),
        "stopping": (S.SUSPENDING, {A.REBOOT: S.REBOOTING}),
        "stopped": (S.SUSPENDED, {}),
        "rebooting": (S.REBOOTING, {}),
        "shutting-down": (S.TERMINATING, {}),
        "terminated": (S.TERMINATED, {}),
    },
    "gcp": {
        "PROVISIONING": (S.CREATING, {A.RESUME: S.RESUMING, A.REBOOT: S.REBOOTING}),
        "STAGING": (S.CREATING, {A.RESUME: S.RESUMING, A.REBOOT: S.REBOOTING}),
        "RUNNING": (S.RUNNING, {}),
        "STOPPING": (S.SUSPENDING, {A.REBOOT: S.REBOOTING, A.TERMINATE: S.TERMINATING}),
        "TERMINATED": (S.SUSPENDED, {A.REBOOT: S.REBOOTING, A.TERMINATE: S.TERMINATING}),
    },
    "azure": {
        "creating": (S.CREATING, {}),
        "starting": (S.CREATING, {A.RESUME: S.RESUMING, A.REBOOT: S.REBOOTING}),
        "running": (S.RUNNING, {}),
        "stopping": (S.SUSPENDING, {A.REBOOT: S.REBOOTING}),
        "stopped": (S.SUSPENDED, {}),
        "deallocating": (S.SUSPENDING, {A.TERMINATE: S.TERMINATING}),
        "deallocated": (S.SUSPENDED, {A.TERMINATE: S.TERMINATING}),
        "deleting": (S.TERMINATING, {}),
        "failed": (S.FAILED, {}),
    },
    "alibaba": {
        "Pending": (S.CREATING, {}),
        "Starting": (S.CREATING, {A.RESUME: S.RESUMING, A.REBOOT: S.REBOOTING}),
        "Running": (S.RUNNING, {}),
        "Stopping": (S.SUSPENDING, {A.REBOOT: S.REBOOTING, A.TERMINATE: S.TERMINATING}),
        "Stopped": (S.SUSPENDED, {A.REBOOT: S.REBOOTING, A.TERMINATE: S.TERMINATING}),
        "Deleted": (S.TERMINATED, {}),
    },
    "openstack": {
        "BUILD": (S.CREATING, {}),
        "ACTIVE": (S.RUNNING, {A.SUSPEND: S.SUSPENDING, A.TERMINATE: S.TERMINATING}),
        "SHUTOFF": (S.SUSPENDED, {A.RESUME: S.RESUMING, A.TERMINATE: S.TERMINATING}),
        "REBOOT": (S.REBOOTING, {}),
        "HARD_REBOOT": (S.REBOOTING, {}),
        "ERROR": (S.FAILED, {}),
        "DELETED": (S.TERMINATED, {}),
    },
    "cloudit": {
        "CREATING": (S.CREATING, {}),
        "RUNNING": (S.RUNNING, {}),
        "STOPPING": (S.SUSPENDING, {}),
        "STOPPED": (S.SUSPENDED, {}),
        "STARTING": (S.RESUMING, {}),
        "REBOOTING": (S.REBOOTING, {}),
        "DESTROYING": (S.TERMINATING, {}),
        "FAILED": (S.FAILED, {}),
    },
}

SUPPORTED_PROVIDERS: tuple[str, ...] = tuple(NATIVE_STATUS)

_DOWN = frozenset({S.SUSPENDED, S.TERMINATED, S.SUSPENDING, S.TERMINATING})


def to_canonical(
    provider: str,
    native: str | None,
    action: TargetAction = TargetAction.NONE,
    failure_reason: str | None = None,
) -> VmStatus:
    """Canonical status of a VM of `provider` whose cloud reports `native`, while `action`
    is in flight. Unknown providers or states give Undefined, never an exception."""
    if native is None:
        return S.TERMINATED
    table = NATIVE_STATUS.get(provider)
    if table is None or native not in table:
        return S.UNDEFINED
    default, overrides = table[native]
    status = overrides.get(action, default)
    if failure_reason and status in _DOWN:
        return S.FAILED
    return status
