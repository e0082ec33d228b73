"""Lifecycle operations on a created MCIS under the time-skipping server with the fake cloud:
suspend/resume/reboot, refusals that change nothing, scaling, refine, reconcile."""

from __future__ import annotations

import asyncio

import pytest
from temporalio.client import WorkflowUpdateFailedError

from models.cloud import CloudVm
from models.failures import failure_message
from models.lifecycle import OperationState
from models.naming import TAG_MCIS, TAG_NAMESPACE
from models.operations import OperationRequest
from models.status import VmStatus
from tests.workflows.conftest import Harness
from tests.workflows.mcis_helpers import created, operate, request, start, status
from workflows.mcis import McisWorkflow

S = VmStatus


async def test_suspend_resume_reboot_reach_their_targets(harness: Harness) -> None:
    async with harness.worker():
        handle = await start(harness, request("life", {"aws": 2, "gcp": 2}))
        await created(handle)
        record, view = await operate(handle, kind="suspend")
        assert record.state is OperationState.DONE and len(record.report["affected"]) == 4
        assert view.counts == {S.SUSPENDED: 4} and view.target_action == "None"
        natives = {vm.provider: vm.native_status for vm in view.vms}
        assert natives == {"aws": "stopped", "gcp": "TERMINATED"}
        stored = {vm.status for vm in harness.store.list_vms("ns", "life")}
        assert stored == {S.SUSPENDED}
        again, _ = await operate(handle, kind="suspend")  # a repeated action is a no-op
        assert again.state is OperationState.DONE
        assert again.message == "suspend: nothing to do (4 VMs already there)"

        _, view = await operate(handle, kind="resume")
        assert view.counts == {S.RUNNING: 4}
        record, view = await operate(handle, kind="reboot", group="g-gcp")
        assert record.report["affected"] == ["g-gcp-1", "g-gcp-2"]
        assert view.counts == {S.RUNNING: 4}


async def test_a_disallowed_action_is_refused_with_the_actions_allowed_now(
    harness: Harness,
) -> None:
    async with harness.worker():
        handle = await start(harness, request("refuse", {"aws": 2}))
        await created(handle)
        await operate(handle, kind="suspend", vm="g-aws-1")
        with pytest.raises(WorkflowUpdateFailedError) as refused:
            await operate(handle, kind="reboot")
        message = failure_message(refused.value)
        assert "cannot reboot mcis of MCIS 'refuse'" in message
        assert "status Partial-Running (1/2); g-aws-1 is Suspended" in message
        assert "Allowed now: suspend, resume, terminate" in message  # each applies to some VM
        view = await status(handle)
        assert view.counts == {S.RUNNING: 1, S.SUSPENDED: 1}
        assert [op.kind.value for op in view.operations] == ["create", "suspend"]  # no reboot
        # the VM's suspend is done: the MCIS is on its way nowhere (the other VM never goes)
        assert (view.target_action, view.target_status) == ("None", "None")
        with pytest.raises(WorkflowUpdateFailedError, match="update failed"):
            await operate(handle, kind="suspend", vm="nope")


async def test_an_action_while_another_is_in_flight_is_refused_unless_forced(
    harness: Harness,
) -> None:
    harness.cloud.stop_polls = 10**9  # suspends never finish
    async with harness.worker():
        handle = await start(harness, request("busy", {"aws": 1}))
        await created(handle)
        await handle.execute_update(McisWorkflow.operate, OperationRequest(kind="suspend"))
        with pytest.raises(WorkflowUpdateFailedError) as refused:
            await operate(handle, kind="resume")
        assert "busy: suspend in flight" in failure_message(refused.value)
        view = await status(handle)
        assert view.operation is not None and view.operation.kind == "suspend"

        forced = await handle.execute_update(
            McisWorkflow.operate, OperationRequest(kind="resume", force=True)
        )
        harness.cloud.stop_polls = 0  # let the suspend finish; the forced resume runs next
        for _ in range(500):
            view = await status(handle)
            if any(op.id == forced.id for op in view.operations):
                break
            await asyncio.sleep(0.02)
        assert [(op.kind, op.state) for op in view.operations] == [
            ("create", OperationState.DONE),
            ("suspend", OperationState.DONE),
            ("resume", OperationState.DONE),
        ]
        assert view.counts == {S.RUNNING: 1}


async def test_scale_out_then_in_removes_the_newest(harness: Harness) -> None:
    async with harness.worker():
        handle = await start(harness, request("scale", {"aws": 2}))
        await created(handle)
        record, view = await operate(handle, kind="scale-out", group="g-aws", count=3)
        assert record.report["added"] == ["g-aws-3", "g-aws-4", "g-aws-5"]
        assert view.counts == {S.RUNNING: 5} and len(harness.cloud.live_vms()) == 5
        record, view = await operate(handle, kind="scale-in", group="g-aws", count=2)
        assert record.report["removed"] == ["g-aws-5", "g-aws-4"]
        assert sorted(vm.id for vm in view.vms) == ["g-aws-1", "g-aws-2", "g-aws-3"]
        assert (view.target_action, view.target_status) == ("None", "None")
        assert len(harness.cloud.live_vms()) == 3
        assert len(harness.store.list_vms("ns", "scale")) == 3
        with pytest.raises(WorkflowUpdateFailedError):
            await operate(handle, kind="scale-in", group="g-aws", count=4)


async def test_add_group_and_remove_vm(harness: Harness) -> None:
    async with harness.worker():
        handle = await start(harness, request("grow", {"aws": 1}))
        await created(handle)
        new_group = {"name": "extra", "spec": "gcp+r1+small", "image": "gcp+r1+ubuntu", "count": 2}
        _, view = await operate(handle, kind="add-group", new_group=new_group)
        assert sorted(vm.id for vm in view.vms) == ["extra-1", "extra-2", "g-aws-1"]
        assert view.counts == {S.RUNNING: 3}
        _, view = await operate(handle, kind="remove-vm", vm="extra-1")
        assert sorted(vm.id for vm in view.vms) == ["extra-2", "g-aws-1"]
        assert len(harness.cloud.live_vms()) == 2


async def test_refine_drops_failed_vms(harness: Harness) -> None:
    harness.cloud.fail_names = {"ns-fine-g-aws-2"}
    async with harness.worker():
        handle = await start(harness, request("fine", {"aws": 3}))
        view = await created(handle)
        assert view.failed_vms == ["g-aws-2"]
        record, view = await operate(handle, kind="refine")
        assert record.report["removed"] == ["g-aws-2"]
        assert view.status == "Running" and view.total == 2 and view.failed_vms == []


async def test_reconcile_adopts_unrecorded_vms_and_reports_missing_ones(harness: Harness) -> None:
    async with harness.worker():
        handle = await start(harness, request("rec", {"aws": 2}))
        view = await created(handle)
        cloud = harness.cloud
        template = cloud.vms[view.vms[0].csp_id or ""]
        cloud.vms["i-stray"] = CloudVm(
            csp_id="i-stray",
            name="by-hand",
            provider="aws",
            region="r1",
            spec="small",
            image="ubuntu",
            native_status="",
            tags={TAG_NAMESPACE: "ns", TAG_MCIS: "rec"},
        )
        cloud.phase["i-stray"], cloud.polls["i-stray"] = "running", 0
        gone = view.vms[1].csp_id or ""
        del cloud.vms[gone], cloud.phase[gone]
        assert template.tags[TAG_MCIS] == "rec"

        record, view = await operate(handle, kind="reconcile")
        assert record.report == {"adopted": ["adopted-1"], "missing": ["g-aws-2"]}
        statuses = {vm.id: vm.status for vm in view.vms}
        assert statuses == {"g-aws-1": S.RUNNING, "g-aws-2": S.UNDEFINED, "adopted-1": S.RUNNING}
        record, view = await operate(handle, kind="refine")
        assert record.report["removed"] == ["g-aws-2"]
