"""The lifecycle table: per (status, action) pair, and as a property over random MCIS: an allowed
action ends every affected VM in its target status, a refused one changes nothing and says what
is allowed instead."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from models.lifecycle import OperationKind
from models.mcis import GroupRequest
from models.operation_rules import OperationRefused, check_operation
from models.operations import OperationRequest
from models.records import McisPhase, VmRecord
from models.status import VmStatus
from models.transitions import VM_ACTIONS, Action, after, allowed_actions, plan_action, vm_allows

S = VmStatus

SEED_ALLOWED = {
    S.CREATING: set(),
    S.RUNNING: {Action.SUSPEND, Action.REBOOT, Action.TERMINATE},
    S.SUSPENDED: {Action.RESUME, Action.TERMINATE},
    S.SUSPENDING: {Action.SUSPEND},
    S.RESUMING: {Action.RESUME},
    S.REBOOTING: {Action.REBOOT},
    S.TERMINATING: {Action.TERMINATE},
    S.TERMINATED: {Action.TERMINATE},
    S.FAILED: {Action.TERMINATE, Action.REFINE},
    S.UNDEFINED: {Action.TERMINATE, Action.REFINE},
}


@pytest.mark.parametrize(("status", "action"), list(itertools.product(VmStatus, Action)))
def test_every_status_action_pair_follows_the_seed(status: VmStatus, action: Action) -> None:
    assert vm_allows(status, action) == (action in SEED_ALLOWED[status])
    expected = action.target if vm_allows(status, action) and action.target else status
    assert after(status, action) is expected


def test_table_covers_every_status() -> None:
    assert set(VM_ACTIONS) == set(VmStatus)


def record(name: str, status: VmStatus) -> VmRecord:
    return VmRecord(
        namespace="ns",
        mcis="m",
        name=name,
        group="g",
        provider="aws",
        region="r",
        spec="aws+r+s",
        image="aws+r+i",
        client_token=name,
        status=status,
    )


GROUPS = [GroupRequest(name="g", spec="aws+r+s", image="aws+r+i", count=1)]


@given(
    st.lists(st.sampled_from(list(VmStatus)), min_size=1, max_size=12),
    st.sampled_from(list(Action)),
)
def test_allowed_actions_reach_their_target_and_refused_ones_change_nothing(
    statuses: list[VmStatus], action: Action
) -> None:
    vms = [record(f"g-{i}", s) for i, s in enumerate(statuses, start=1)]
    pairs = [(vm.name, vm.status) for vm in vms]
    request = OperationRequest(kind=OperationKind(action.value))
    plan = plan_action(pairs, action)
    assert sorted([*plan.affected, *plan.skipped, *plan.blocking]) == sorted(n for n, _ in pairs)
    if plan.allowed:
        assert check_operation(request, vms, GROUPS, "m", McisPhase.ACTIVE) == plan
        final = {n: after(s, action) if n in plan.affected else s for n, s in pairs}
        for name in plan.affected:
            if action.target is not None:
                assert final[name] is action.target
            else:
                assert final[name] in (S.FAILED, S.UNDEFINED)  # refine removes exactly these
        assert all(final[n] is dict(pairs)[n] for n in plan.skipped)
    else:
        before = [vm.model_copy() for vm in vms]
        with pytest.raises(OperationRefused) as refused:
            check_operation(request, vms, GROUPS, "m", McisPhase.ACTIVE)
        assert vms == before
        message = str(refused.value)
        assert "Allowed now: " in message
        named = message.split("Allowed now: ")[1].split(", ")
        assert named == [allowed_text(pairs, a) for a in allowed_actions(pairs)]
        assert action.value not in [n.split(" ")[0] for n in named]


def allowed_text(pairs: list[tuple[str, VmStatus]], action: Action) -> str:
    """How the refusal names an allowed action: a no-op says it changes nothing."""
    return action.value if plan_action(pairs, action).affected else f"{action.value} {NO_OP}"


NO_OP = "(no-op)"


@given(st.lists(st.sampled_from(list(VmStatus)), min_size=1, max_size=12))
def test_allowed_now_lists_exactly_the_actions_that_would_be_accepted(
    statuses: list[VmStatus],
) -> None:
    vms = [record(f"g-{i}", s) for i, s in enumerate(statuses, start=1)]
    pairs = [(vm.name, vm.status) for vm in vms]
    accepted = []
    for action in Action:
        try:
            check_operation(
                OperationRequest(kind=OperationKind(action.value)),
                vms,
                GROUPS,
                "m",
                McisPhase.ACTIVE,
            )
        except OperationRefused:
            continue
        accepted.append(action)
    assert allowed_actions(pairs) == accepted


def test_suspend_of_a_suspended_mcis_is_an_accepted_no_op_and_listed_as_one() -> None:
    vms = [record("g-1", S.SUSPENDED), record("g-2", S.SUSPENDED)]
    plan = check_operation(OperationRequest(kind="suspend"), vms, GROUPS, "m", McisPhase.ACTIVE)
    assert plan is not None and plan.affected == [] and plan.skipped == ["g-1", "g-2"]
    with pytest.raises(OperationRefused) as refused:
        check_operation(OperationRequest(kind="reboot"), vms, GROUPS, "m", McisPhase.ACTIVE)
    assert str(refused.value) == (
        "cannot reboot mcis of MCIS 'm': status Suspended (2/2); g-1 is Suspended, "
        "g-2 is Suspended. Allowed now: suspend (no-op), resume, terminate, refine (no-op)"
    )


def test_nothing_is_possible_while_the_mcis_is_being_created_or_deleted() -> None:
    vms = [record("g-1", S.RUNNING)]
    for phase in (McisPhase.CREATING, McisPhase.DELETING):
        with pytest.raises(OperationRefused, match=f"is {phase.value}"):
            check_operation(OperationRequest(kind="suspend"), vms, GROUPS, "m", phase)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"kind": "suspend", "vm": "g-9"}, "VM 'g-9' not found in MCIS 'm' \\(VMs: g-1, g-2\\)"),
        ({"kind": "suspend", "group": "x"}, "group 'x' has no VMs"),
        ({"kind": "scale-out", "group": "x", "count": 1}, "group 'x' not found"),
        ({"kind": "scale-out", "group": "g"}, "needs a group and a count"),
        ({"kind": "scale-in", "group": "g", "count": 3}, "has 2 VMs; cannot remove 3"),
        ({"kind": "add-group", "new_group": GROUPS[0]}, "group 'g' already exists"),
        ({"kind": "remove-vm"}, "needs the VM"),
    ],
)
def test_bad_scopes_and_counts_are_refused(fields: dict[str, object], message: str) -> None:
    vms = [record("g-1", S.RUNNING), record("g-2", S.RUNNING)]
    request = OperationRequest.model_validate(fields)
    with pytest.raises(OperationRefused, match=message):
        check_operation(request, vms, GROUPS, "m", McisPhase.ACTIVE)
