"""The MCIS workflow in VM batches (issue #13): a region's VMs go to the cloud in activities of
at most VM_BATCH_SIZE, named rather than carried; an MCIS of more than VMS_IN_VIEW VMs leaves
them in the store when it continues as new, and its next run reads them back and operates."""

from __future__ import annotations

import asyncio
from collections import Counter

import pytest
from temporalio.client import WorkflowHistory
from temporalio.testing import WorkflowEnvironment

from models.mcis import VMS_IN_VIEW
from models.operations import VM_BATCH_SIZE, VM_PAGE_SIZE
from models.status import VmStatus
from store.repository import Store
from tests.fake_cloud import FakeCloud
from tests.workflows.conftest import Harness
from tests.workflows.mcis_helpers import Handle, created, operate, request, start

COUNT = 600  # more than VMS_IN_VIEW and two batches' worth, in one region


@pytest.fixture
def harness(dev_server: WorkflowEnvironment, store: Store, cloud: FakeCloud) -> Harness:
    """On the dev server: these tests read every run's history, which the time-skipping test
    server now and then answers with its first event only."""
    return Harness(dev_server.client, store, cloud)


async def runs(h: Harness, handle: Handle) -> list[WorkflowHistory]:
    """Every run's history, the first one first."""
    histories = []
    run_id: str | None = handle.first_execution_run_id
    while run_id:
        history = await h.client.get_workflow_handle(handle.id, run_id=run_id).fetch_history()
        histories.append(history)
        last = history.events[-1]
        run_id = last.workflow_execution_continued_as_new_event_attributes.new_execution_run_id
    return histories


def activities(history: WorkflowHistory) -> Counter[str]:
    return Counter(
        e.activity_task_scheduled_event_attributes.activity_type.name
        for e in history.events
        if e.HasField("activity_task_scheduled_event_attributes")
    )


async def test_a_region_of_600_vms_is_created_in_batches_of_at_most_250(harness: Harness) -> None:
    assert VMS_IN_VIEW < COUNT <= 3 * VM_BATCH_SIZE
    async with harness.worker():
        handle = await start(harness, request("wide", {"aws": COUNT}))
        view = await created(handle, timeout_s=120)
        first = (await runs(harness, handle))[0]
    assert view.counts == {VmStatus.RUNNING: COUNT}
    assert not view.vms_listed and view.vms == []  # too many for one answer: in the store
    assert activities(first)["create_vm_batch"] == 3  # 250 + 250 + 100
    assert activities(first)["create_vm"] == 0
    assert activities(first)["record_planned_vms"] == 1  # the plans of every group at once
    recorded = harness.store.list_vms("ns", view.name)
    assert len(recorded) == COUNT and {vm.status for vm in recorded} == {VmStatus.RUNNING}
    assert len(harness.cloud.live_vms()) == COUNT  # no VM twice
    tokens = [vm.client_token for vm in recorded]
    assert len(set(tokens)) == COUNT


async def test_a_run_reads_its_vms_back_from_the_store_and_operates_on_them(
    harness: Harness,
) -> None:
    async with harness.worker():
        handle = await start(harness, request("paged", {"aws": COUNT}))
        await created(handle, timeout_s=120)
        while len(await runs(harness, handle)) < 2:  # the create's run has continued as new
            await asyncio.sleep(0.05)
        record, view = await operate(handle, kind="suspend", group="g-aws")
        assert record.message == f"suspend: {COUNT} VMs, 0 failed", record
        histories = await runs(harness, handle)
    assert view.counts == {VmStatus.SUSPENDED: COUNT}
    second = histories[1]  # continued after the create, with no VM in its input
    started = second.events[0].workflow_execution_started_event_attributes
    assert sum(len(p.data) for p in started.input.payloads) < 50_000
    assert activities(second)["load_vm_page"] == -(-COUNT // VM_PAGE_SIZE)  # 500 + 100
    assert activities(second)["vm_action_batch"] == 3
    suspended = harness.store.list_vms("ns", view.name)
    assert {vm.status for vm in suspended} == {VmStatus.SUSPENDED}


async def test_refine_tries_a_vm_the_cloud_never_made_again_under_its_own_token(
    harness: Harness,
) -> None:
    """A VM with no cloud id may still exist (a create whose answer was lost): refine sends its
    own token again, which finds it or makes it once, rather than a new token beside it."""
    harness.cloud.quota = 1
    async with harness.worker():
        handle = await start(harness, request("quota", {"aws": 2}, policy="refine"))
        view = await created(handle)
    [failed] = [vm for vm in view.vms if vm.status is VmStatus.FAILED]
    assert "quota of 1 VMs reached" in (failed.error or "")
    [record] = harness.store.vms_named("ns", view.name, [failed.id])
    assert (record.attempt, record.serial) == (0, 2)  # the planned VM, not a replacement
    assert len(harness.cloud.live_vms()) == 1
