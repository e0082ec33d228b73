"""The rule that reads a region's listing into a VM's record (pure): a VM missing from the
listing is gone only once LISTING_GRACE_S have passed since its create returned (listings lag
creates); before that it keeps its record as it was, whatever its status and the action."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from activities.observation import LISTING_GRACE_S, observe_listed
from models.cloud import CloudVm
from models.records import VmRecord
from models.status import TargetAction, VmStatus
from tests.activity_inputs import planned_vm

NOW = datetime(2025, 1, 1, 12, 0, tzinfo=UTC)
GRACE = timedelta(seconds=LISTING_GRACE_S)
TINY = timedelta(milliseconds=1)


def record(status: VmStatus, created_at: datetime | None) -> VmRecord:
    return planned_vm().model_copy(
        update={
            "csp_id": "i-1",
            "status": status,
            "native_status": "pending",
            "public_ip": "127.0.9.1",
            "created_at": created_at,
        }
    )


WITHIN = {
    "created just now": NOW,
    "created a moment before the window ends": NOW - GRACE + TINY,
    "created later by another worker's clock": NOW + timedelta(seconds=5),
}
AFTER = {
    "created exactly the window ago": NOW - GRACE,
    "created long ago": NOW - GRACE - timedelta(hours=1),
    "creation time unknown (adopted, or recorded before this rule)": None,
}


@pytest.mark.parametrize("action", list(TargetAction))
@pytest.mark.parametrize("status", list(VmStatus))
@pytest.mark.parametrize("created_at", WITHIN.values(), ids=WITHIN.keys())
def test_missing_within_the_window_keeps_the_record_as_it_was(
    created_at: datetime, status: VmStatus, action: TargetAction
) -> None:
    before = record(status, created_at)
    assert observe_listed(before, None, action, NOW) == before


@pytest.mark.parametrize("action", list(TargetAction))
@pytest.mark.parametrize("status", list(VmStatus))
@pytest.mark.parametrize("created_at", AFTER.values(), ids=AFTER.keys())
def test_missing_after_the_window_is_gone(
    created_at: datetime | None, status: VmStatus, action: TargetAction
) -> None:
    after = observe_listed(record(status, created_at), None, action, NOW)
    assert (after.status, after.native_status) == (VmStatus.TERMINATED, None)


@pytest.mark.parametrize("action", list(TargetAction))
@pytest.mark.parametrize("created_at", [*WITHIN.values(), *AFTER.values()])
def test_listed_is_read_as_the_cloud_shows_it_at_any_age(
    created_at: datetime | None, action: TargetAction
) -> None:
    before = record(VmStatus.CREATING, created_at)
    seen = CloudVm(
        csp_id="i-1",
        name="ns-m-g-1",
        provider="aws",
        region="r1",
        spec="small",
        image="ubuntu",
        native_status="running",
        public_ip="127.0.9.2",
    )
    after = observe_listed(before, seen, action, NOW)
    assert (after.status, after.native_status, after.public_ip) == (
        VmStatus.RUNNING,
        "running",
        "127.0.9.2",
    )
    assert after.created_at == created_at
    assert after.listed  # from now on its absence from a listing means it is gone


@pytest.mark.parametrize("action", list(TargetAction))
@pytest.mark.parametrize("created_at", WITHIN.values(), ids=WITHIN.keys())
def test_missing_once_a_listing_has_shown_it_is_gone_even_within_the_window(
    created_at: datetime, action: TargetAction
) -> None:
    """A young VM a listing has shown is known to the listings: gone from one, it is gone (no
    direct read per VM, which at a read rate of 10/s made deleting a fresh 1,000-VM MCIS take
    half a minute)."""
    before = record(VmStatus.RUNNING, created_at).model_copy(update={"listed": True})
    after = observe_listed(before, None, action, NOW)
    assert (after.status, after.native_status) == (VmStatus.TERMINATED, None)
