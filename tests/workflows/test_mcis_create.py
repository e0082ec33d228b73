"""MCIS creation and deletion under the time-skipping server with the fake cloud: the VM count
at the cloud, retries that never duplicate, each partial-failure policy, cleanup."""

from __future__ import annotations

import pytest
from temporalio.client import WorkflowUpdateFailedError

from models.failures import failure_message
from models.status import VmStatus
from tests.workflows.conftest import Harness
from tests.workflows.mcis_helpers import created, deleted, request, start, status
from workflows.mcis import McisWorkflow


async def test_dynamic_create_runs_every_vm_then_delete_cleans_up(harness: Harness) -> None:
    async with harness.worker():
        handle = await start(harness, request("web", {"aws": 3, "gcp": 2}))
        view = await created(handle)
        assert (view.status, view.total, view.counts) == ("Running", 5, {VmStatus.RUNNING: 5})
        assert view.target_action == "None" and view.target_status == "None"
        assert len(harness.cloud.live_vms()) == 5
        assert {vm.id for vm in view.vms} == {"g-aws-1", "g-aws-2", "g-aws-3", "g-gcp-1", "g-gcp-2"}
        records = harness.store.list_vms("ns", "web")
        assert all(r.status is VmStatus.RUNNING and r.csp_id for r in records)
        assert len(harness.cloud.vnets) == 2 and len(harness.cloud.keys) == 2

        final = await deleted(handle)  # polled: the test server's long poll can miss the end
        assert final.phase == "deleted"
        assert harness.cloud.live_vms() == []
        assert harness.cloud.vnets == {} and harness.cloud.groups == {} and harness.cloud.keys == {}
        assert harness.store.get_mcis("ns", "web") is None
        assert harness.store.list_resources("ns") == []


async def test_lost_responses_are_retried_without_duplicates(harness: Harness) -> None:
    harness.cloud.transient_every = 3
    async with harness.worker():
        view = await created(await start(harness, request("retry", {"aws": 9})))
    assert view.counts == {VmStatus.RUNNING: 9}
    assert len(harness.cloud.vms) == 9
    assert harness.cloud.create_calls > 9


async def test_continue_policy_keeps_and_lists_failed_vms(harness: Harness) -> None:
    harness.cloud.fail_names = {"ns-cont-g-aws-2"}
    async with harness.worker():
        view = await created(await start(harness, request("cont", {"aws": 3})))
    assert view.status == "Partial-Running" and view.failed_vms == ["g-aws-2"]
    failed = next(vm for vm in view.vms if vm.id == "g-aws-2")
    assert failed.error == "Server.InternalError"
    assert view.display == "Partial-Running (2/3), Failed: g-aws-2"


async def test_refine_policy_replaces_failed_vms(harness: Harness) -> None:
    harness.cloud.fail_names = {"ns-ref-g-aws-1", "ns-ref-g-gcp-1"}
    async with harness.worker():
        view = await created(await start(harness, request("ref", {"aws": 2, "gcp": 1}, "refine")))
    assert view.status == "Running" and view.total == 3 and view.failed_vms == []
    assert len(harness.cloud.live_vms()) == 3  # the failed originals are terminated
    assert [r.attempt for r in harness.store.list_vms("ns", "ref")] == [1, 0, 1]


async def test_rollback_policy_terminates_everything(harness: Harness) -> None:
    harness.cloud.fail_names = {"ns-rb-g-aws-2"}
    async with harness.worker():
        view = await created(await start(harness, request("rb", {"aws": 3}, "rollback")))
    assert view.phase == "failed"
    assert harness.cloud.live_vms() == []
    assert view.counts == {VmStatus.TERMINATED: 3}
    errors = {vm.id: vm.error for vm in view.vms}
    assert errors == {"g-aws-1": None, "g-aws-2": "Server.InternalError", "g-aws-3": None}


async def test_quota_fails_fast_and_is_reported(harness: Harness) -> None:
    harness.cloud.quota = 2
    async with harness.worker():
        view = await created(await start(harness, request("quota", {"aws": 3})))
    assert view.status == "Partial-Running" and len(view.failed_vms) == 1
    failed = next(vm for vm in view.vms if vm.status is VmStatus.FAILED)
    assert failed.error is not None and "quota" in failed.error
    assert len(harness.cloud.vms) == 2


async def test_delete_is_rejected_while_creating(harness: Harness) -> None:
    harness.cloud.boot_polls = 10**9  # never boots
    async with harness.worker():
        handle = await start(harness, request("busy", {"aws": 1}))
        await status(handle)
        with pytest.raises(WorkflowUpdateFailedError) as rejected:
            await handle.execute_update(McisWorkflow.delete, False)
        assert "is busy: creating in flight (status Creating (1/1))" in failure_message(
            rejected.value
        )
        view = await status(handle)
        assert view.phase == "creating"  # nothing changed
        await handle.terminate()
