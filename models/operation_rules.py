"""Whether an operation on an MCIS may run now, and on which VMs (pure): the scope must exist,
the lifecycle table must allow the action for every VM in the scope, scaling counts must fit.
A refusal names the current status and every action allowed now, no-ops marked as such."""

from __future__ import annotations

from collections.abc import Sequence

from models.lifecycle import OperationKind
from models.mcis import MAX_VMS_PER_MCIS, GroupRequest
from models.naming import vm_index
from models.operations import OperationRequest
from models.records import McisPhase, VmRecord
from models.status import VmStatus, aggregate
from models.transitions import Action, ActionPlan, allowed_actions, plan_action

LIFECYCLE_KINDS = frozenset(OperationKind(a.value) for a in Action)
MAX_NAMES_SHOWN = 5


class OperationRefused(ValueError):
    """The operation is not allowed now; the message says why, for the user."""


def _names(names: Sequence[str]) -> str:
    shown = ", ".join(names[:MAX_NAMES_SHOWN])
    more = len(names) - MAX_NAMES_SHOWN
    return f"{shown} and {more} more" if more > 0 else shown


def _allowed_text(statuses: Sequence[tuple[str, VmStatus]], action: Action) -> str:
    """An allowed action as a refusal names it: marked when it would change nothing."""
    return action.value if plan_action(statuses, action).affected else f"{action.value} (no-op)"


def scope_vms(request: OperationRequest, vms: Sequence[VmRecord], mcis: str) -> list[VmRecord]:
    """The VMs an operation's scope names (all of them for the whole MCIS)."""
    if request.vm is not None:
        found = [vm for vm in vms if vm.name == request.vm]
        if not found:
            raise OperationRefused(
                f"VM {request.vm!r} not found in MCIS {mcis!r} "
                f"(VMs: {_names([vm.name for vm in vms]) or 'none'})"
            )
        return found
    if request.group is not None and request.kind is not OperationKind.SCALE_OUT:
        found = [vm for vm in vms if vm.group == request.group]
        if not found:
            groups = sorted({vm.group for vm in vms})
            raise OperationRefused(
                f"group {request.group!r} has no VMs in MCIS {mcis!r} "
                f"(groups: {_names(groups) or 'none'})"
            )
        return found
    return list(vms)


def newest_first(vms: Sequence[VmRecord]) -> list[VmRecord]:
    """VMs ordered for scale-in: highest index (the newest) first."""
    return sorted(vms, key=lambda vm: (vm_index(vm.name), vm.name), reverse=True)


def check_operation(
    request: OperationRequest,
    vms: Sequence[VmRecord],
    groups: Sequence[GroupRequest],
    mcis: str,
    phase: McisPhase,
) -> ActionPlan | None:
    """Raise OperationRefused unless `request` may run now; for a lifecycle action, return
    what it would do."""
    if phase not in (McisPhase.ACTIVE, McisPhase.FAILED):
        raise OperationRefused(f"MCIS {mcis!r} is {phase.value}; no operation is possible now")
    scoped = scope_vms(request, vms, mcis)
    kind = request.kind
    if kind in LIFECYCLE_KINDS:
        statuses = [(vm.name, vm.status) for vm in scoped]
        plan = plan_action(statuses, Action(kind.value))
        if not plan.allowed:
            blocking = [f"{name} is {status.value}" for name, status in plan.blocking.items()]
            allowed = [_allowed_text(statuses, a) for a in allowed_actions(statuses)]
            raise OperationRefused(
                f"cannot {kind.value} {request.scope} of MCIS {mcis!r}: status "
                f"{aggregate(statuses).display}; {_names(blocking)}. "
                f"Allowed now: {', '.join(allowed)}"
            )
        return plan
    if kind in (OperationKind.SCALE_OUT, OperationKind.SCALE_IN):
        if request.group is None or request.count is None:
            raise OperationRefused(f"{kind.value} needs a group and a count")
        if kind is OperationKind.SCALE_OUT:
            if request.group not in {g.name for g in groups}:
                known = sorted(g.name for g in groups)
                raise OperationRefused(
                    f"group {request.group!r} not found in MCIS {mcis!r} "
                    f"(groups: {_names(known) or 'none'})"
                )
            if len(vms) + request.count > MAX_VMS_PER_MCIS:
                raise OperationRefused(
                    f"MCIS {mcis!r} would have {len(vms) + request.count} VMs; "
                    f"at most {MAX_VMS_PER_MCIS}"
                )
        elif request.count > len(scoped):
            raise OperationRefused(
                f"group {request.group!r} has {len(scoped)} VMs; cannot remove {request.count}"
            )
    elif kind is OperationKind.ADD_GROUP:
        if request.new_group is None:
            raise OperationRefused("add-group needs the new group")
        taken = {g.name for g in groups} | {vm.group for vm in vms}
        if request.new_group.name in taken:
            raise OperationRefused(
                f"group {request.new_group.name!r} already exists in MCIS {mcis!r}"
            )
        if len(vms) + request.new_group.count > MAX_VMS_PER_MCIS:
            raise OperationRefused(f"MCIS {mcis!r} would have more than {MAX_VMS_PER_MCIS} VMs")
    elif kind is OperationKind.REMOVE_VM and request.vm is None:
        raise OperationRefused("remove-vm needs the VM")
    return None
