"""The MCIS status a user reads: dominant status, counts, Partial-, failed VMs, target reset."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from models.status import (
    McisStatus,
    TargetAction,
    TargetStatus,
    VmStatus,
    aggregate,
    dominant_status,
    target_reached,
)

S = VmStatus


def vms(*statuses: VmStatus) -> list[tuple[str, VmStatus]]:
    return [(f"vm-{i}", s) for i, s in enumerate(statuses, start=1)]


def test_all_running_is_plain_running() -> None:
    status = aggregate(vms(S.RUNNING, S.RUNNING, S.RUNNING))
    assert (status.label, status.display, status.partial) == ("Running", "Running (3/3)", False)
    assert status.counts == {S.RUNNING: 3}


def test_mixed_is_partial_with_the_dominant_status_and_failed_named() -> None:
    status = aggregate(vms(*[S.RUNNING] * 7, S.CREATING, S.CREATING, S.FAILED))
    assert status.label == "Partial-Running"
    assert status.display == "Partial-Running (7/10), Failed: vm-10"
    assert status.counts == {S.CREATING: 2, S.RUNNING: 7, S.FAILED: 1}
    assert status.failed_vms == ["vm-10"]


def test_ties_go_to_the_status_in_flight() -> None:
    assert dominant_status([S.RUNNING, S.CREATING]) is S.CREATING
    assert dominant_status([S.SUSPENDED, S.RESUMING]) is S.RESUMING
    assert dominant_status([S.RUNNING, S.FAILED]) is S.RUNNING


def test_empty_mcis_is_undefined_not_an_error() -> None:
    status = aggregate([])
    assert (status.status, status.total, status.partial) == (S.UNDEFINED, 0, False)


def test_target_is_reached_when_every_vm_is_there_or_failed() -> None:
    assert target_reached([S.SUSPENDED, S.FAILED], TargetStatus.SUSPENDED)
    assert not target_reached([S.SUSPENDED, S.SUSPENDING], TargetStatus.SUSPENDED)
    assert target_reached([S.CREATING], TargetStatus.NONE)


def test_target_action_and_status_are_carried() -> None:
    status = aggregate(vms(S.SUSPENDING), TargetAction.SUSPEND, TargetStatus.SUSPENDED)
    assert (status.target_action, status.target_status) == ("Suspend", "Suspended")


@given(st.lists(st.sampled_from(list(VmStatus)), max_size=40))
def test_aggregate_is_consistent_for_any_mcis(statuses: list[VmStatus]) -> None:
    status: McisStatus = aggregate(vms(*statuses))
    assert status.total == len(statuses) == sum(status.counts.values())
    assert all(n > 0 for n in status.counts.values())
    if statuses:
        assert status.counts[status.status] == max(status.counts.values())
        assert status.partial == (len(set(statuses)) > 1)
    assert len(status.failed_vms) == statuses.count(S.FAILED)


def test_the_one_line_status_names_five_failed_vms_and_counts_the_rest() -> None:
    pairs = [(f"web-{i}", S.RUNNING) for i in range(100, 190)]
    status = aggregate(pairs + [(f"web-{i}", S.FAILED) for i in range(190, 202)])
    assert status.display == (
        "Partial-Running (90/102), Failed: web-190, web-191, web-192, web-193, web-194 and 7 more"
    )
    assert status.failed_vms == [f"web-{i}" for i in range(190, 202)]  # the list keeps them all


def test_five_failed_vms_are_all_named() -> None:
    status = aggregate(vms(S.RUNNING, *[S.FAILED] * 5))
    assert status.display == "Partial-Failed (5/6), Failed: vm-2, vm-3, vm-4, vm-5, vm-6"
