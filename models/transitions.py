"""Which lifecycle action is allowed from which status (the reference's intended table, done
right: on typed statuses, not formatted strings), and what an action means for a whole MCIS,
group or set of VMs. Pure: no I/O.

Per VM (seed's table):
  Creating -> nothing; Running -> suspend, reboot, terminate; Suspended -> resume, terminate;
  a transitional status -> only a retry of the same action; Terminated -> terminate (a no-op);
  Failed, Undefined -> terminate, refine.
For many VMs, each VM is affected (the action runs on it), skipped (it is already at the
action's target, or is Failed/Undefined/Terminated, which only terminate and refine touch), or
blocking (it is in a status from which the action is not allowed). An action with any blocking
VM is rejected as a whole and changes nothing; one whose VMs are all skipped is accepted as a
no-op (repeating an action is not an error), and a refusal lists it as allowed, marked no-op.
"""

from __future__ import annotations

from collections.abc import Sequence
from enum import StrEnum

from pydantic import BaseModel, Field

from models.status import TargetAction, VmStatus

S = VmStatus


class Action(StrEnum):
    SUSPEND = "suspend"
    RESUME = "resume"
    REBOOT = "reboot"
    TERMINATE = "terminate"
    REFINE = "refine"

    @property
    def target_action(self) -> TargetAction:
        return _TARGET_ACTION[self]

    @property
    def target(self) -> VmStatus | None:
        """The status an affected VM ends in (refine removes VMs instead)."""
        return _TARGET[self]

    @property
    def in_flight(self) -> VmStatus | None:
        """The transitional status of a VM while this action runs on it."""
        return _IN_FLIGHT[self]


_TARGET_ACTION = {
    Action.SUSPEND: TargetAction.SUSPEND,
    Action.RESUME: TargetAction.RESUME,
    Action.REBOOT: TargetAction.REBOOT,
    Action.TERMINATE: TargetAction.TERMINATE,
    Action.REFINE: TargetAction.NONE,
}
_TARGET = {
    Action.SUSPEND: S.SUSPENDED,
    Action.RESUME: S.RUNNING,
    Action.REBOOT: S.RUNNING,
    Action.TERMINATE: S.TERMINATED,
    Action.REFINE: None,
}
_IN_FLIGHT = {
    Action.SUSPEND: S.SUSPENDING,
    Action.RESUME: S.RESUMING,
    Action.REBOOT: S.REBOOTING,
    Action.TERMINATE: S.TERMINATING,
    Action.REFINE: None,
}

VM_ACTIONS: dict[VmStatus, frozenset[Action]] = {
    S.CREATING: frozenset(),
    S.RUNNING: frozenset({Action.SUSPEND, Action.REBOOT, Action.TERMINATE}),
    S.SUSPENDED: frozenset({Action.RESUME, Action.TERMINATE}),
    S.SUSPENDING: frozenset({Action.SUSPEND}),
    S.RESUMING: frozenset({Action.RESUME}),
    S.REBOOTING: frozenset({Action.REBOOT}),
    S.TERMINATING: frozenset({Action.TERMINATE}),
    S.TERMINATED: frozenset({Action.TERMINATE}),
    S.FAILED: frozenset({Action.TERMINATE, Action.REFINE}),
    S.UNDEFINED: frozenset({Action.TERMINATE, Action.REFINE}),
}
"""Per VM status, the actions allowed on that VM."""

_SKIPPED_UNLESS_NAMED = frozenset({S.FAILED, S.UNDEFINED, S.TERMINATED})


def vm_allows(status: VmStatus, action: Action) -> bool:
    return action in VM_ACTIONS[status]


class ActionPlan(BaseModel):
    """What one action would do to a set of VMs."""

    action: Action
    affected: list[str] = Field(default_factory=list)
    skipped: list[str] = Field(default_factory=list)
    blocking: dict[str, VmStatus] = Field(default_factory=dict)

    @property
    def allowed(self) -> bool:
        return not self.blocking


def plan_action(vms: Sequence[tuple[str, VmStatus]], action: Action) -> ActionPlan:
    plan = ActionPlan(action=action)
    for name, status in vms:
        if action is Action.REFINE:
            bucket = plan.affected if status in (S.FAILED, S.UNDEFINED) else plan.skipped
            bucket.append(name)
        elif action is Action.TERMINATE and status is S.TERMINATED:
            plan.skipped.append(name)  # terminate of a terminated VM: a no-op
        elif vm_allows(status, action):
            plan.affected.append(name)
        elif status is action.target or status in _SKIPPED_UNLESS_NAMED:
            plan.skipped.append(name)
        else:
            plan.blocking[name] = status
    return plan


def allowed_actions(vms: Sequence[tuple[str, VmStatus]]) -> list[Action]:
    """Actions that would be accepted now, exactly those the operation rules accept: some may
    be no-ops (every VM skipped, e.g. suspend of Suspended VMs: accepted, changes nothing)."""
    return [action for action in Action if plan_action(vms, action).allowed]


def after(status: VmStatus, action: Action) -> VmStatus:
    """The status of one VM once `action` has run on it (pure simulation of the table)."""
    if not vm_allows(status, action):
        return status
    if action is Action.REFINE:
        return status  # refine removes the VM; it keeps its status until then
    target = action.target
    assert target is not None
    return target
