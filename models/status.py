"""The typed status model: per-VM canonical status, target action/status, and the MCIS status
aggregated from its VMs (dominant status, per-status counts, `Partial-` prefix, failed VMs).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from enum import StrEnum

from pydantic import BaseModel, Field


class VmStatus(StrEnum):
    CREATING = "Creating"
    RUNNING = "Running"
    SUSPENDING = "Suspending"
    SUSPENDED = "Suspended"
    RESUMING = "Resuming"
    REBOOTING = "Rebooting"
    TERMINATING = "Terminating"
    TERMINATED = "Terminated"
    FAILED = "Failed"
    UNDEFINED = "Undefined"


class TargetAction(StrEnum):
    CREATE = "Create"
    SUSPEND = "Suspend"
    RESUME = "Resume"
    REBOOT = "Reboot"
    TERMINATE = "Terminate"
    NONE = "None"


class TargetStatus(StrEnum):
    RUNNING = "Running"
    SUSPENDED = "Suspended"
    TERMINATED = "Terminated"
    NONE = "None"


TRANSITIONAL: frozenset[VmStatus] = frozenset(
    {
        VmStatus.CREATING,
        VmStatus.SUSPENDING,
        VmStatus.RESUMING,
        VmStatus.REBOOTING,
        VmStatus.TERMINATING,
    }
)
"""Statuses a VM passes through on its way to a stable one."""

TARGET_OF_ACTION: dict[TargetAction, TargetStatus] = {
    TargetAction.CREATE: TargetStatus.RUNNING,
    TargetAction.SUSPEND: TargetStatus.SUSPENDED,
    TargetAction.RESUME: TargetStatus.RUNNING,
    TargetAction.REBOOT: TargetStatus.RUNNING,
    TargetAction.TERMINATE: TargetStatus.TERMINATED,
    TargetAction.NONE: TargetStatus.NONE,
}

FAILED_NAMES_SHOWN = 5
"""How many failed VMs the one-line status names."""

# Ties between equally frequent statuses go to the one that says most about what is happening.
_TIE_ORDER: tuple[VmStatus, ...] = (
    VmStatus.CREATING,
    VmStatus.RESUMING,
    VmStatus.SUSPENDING,
    VmStatus.REBOOTING,
    VmStatus.TERMINATING,
    VmStatus.RUNNING,
    VmStatus.SUSPENDED,
    VmStatus.TERMINATED,
    VmStatus.FAILED,
    VmStatus.UNDEFINED,
)


class McisStatus(BaseModel):
    """Status of a whole MCIS, derived from its VMs."""

    status: VmStatus
    partial: bool = False
    total: int = 0
    counts: dict[VmStatus, int] = Field(default_factory=dict)
    target_action: TargetAction = TargetAction.NONE
    target_status: TargetStatus = TargetStatus.NONE
    failed_vms: list[str] = Field(default_factory=list)

    @property
    def label(self) -> str:
        """`Running`, or `Partial-Running` when not every VM shares the dominant status."""
        return f"Partial-{self.status.value}" if self.partial else self.status.value

    @property
    def display(self) -> str:
        """Human form, e.g. `Partial-Running (7/10), Failed: vm-3`, naming the first
        FAILED_NAMES_SHOWN failed VMs (`..., and 95 more`; `failed_vms` has them all)."""
        text = f"{self.label} ({self.counts.get(self.status, 0)}/{self.total})"
        if self.failed_vms:
            named = self.failed_vms[:FAILED_NAMES_SHOWN]
            more = len(self.failed_vms) - len(named)
            text += f", Failed: {', '.join(named)}" + (f" and {more} more" if more else "")
        return text


def dominant_status(statuses: Iterable[VmStatus]) -> VmStatus:
    counts = Counter(statuses)
    if not counts:
        return VmStatus.UNDEFINED
    return max(counts, key=lambda s: (counts[s], -_TIE_ORDER.index(s)))


def aggregate(
    vms: Sequence[tuple[str, VmStatus]],
    target_action: TargetAction = TargetAction.NONE,
    target_status: TargetStatus = TargetStatus.NONE,
) -> McisStatus:
    """Aggregate `(vm name, status)` pairs into the MCIS status."""
    statuses = [status for _, status in vms]
    dominant = dominant_status(statuses)
    counts = Counter(statuses)
    return McisStatus(
        status=dominant,
        partial=bool(statuses) and counts[dominant] != len(statuses),
        total=len(statuses),
        counts={status: counts[status] for status in _TIE_ORDER if counts[status]},
        target_action=target_action,
        target_status=target_status,
        failed_vms=sorted(name for name, status in vms if status is VmStatus.FAILED),
    )


def target_reached(statuses: Iterable[VmStatus], target: TargetStatus) -> bool:
    """True when no VM is still on its way to `target` (every VM is at it, or Failed)."""
    if target is TargetStatus.NONE:
        return True
    wanted = VmStatus(target.value)
    return all(status in (wanted, VmStatus.FAILED) for status in statuses)
