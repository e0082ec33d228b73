"""An MCIS over a long life: VM identities never reused, failures that are reported and never end
the MCIS, VMs kept until the cloud confirms them gone, deletion in any state."""

from __future__ import annotations

import asyncio

from temporalio.testing import WorkflowEnvironment

from drivers.errors import PermanentCloudError
from models.lifecycle import OperationState
from models.operations import McisWorkflowInput, OperationRequest, rebuilt_snapshot
from models.status import VmStatus
from store.repository import Store
from tests.fake_cloud import FakeCloud, FakeDriver
from tests.workflows.conftest import Harness
from tests.workflows.mcis_helpers import (
    FAST,
    Handle,
    created,
    deleted,
    gone,
    operate,
    request,
    request_delete,
    request_operation,
    start,
    status,
)
from workflows.mcis import McisWorkflow

S = VmStatus


class TerminateRefused(FakeDriver):
    """A fake cloud whose terminate calls fail for good while `refusing` is set."""

    def __init__(self, provider: str, cloud: FakeCloud) -> None:
        super().__init__(provider, cloud)
        self.refusing = True

    async def terminate_vm(self, region: str, csp_id: str) -> None:
        if self.refusing:
            raise PermanentCloudError(f"instance {csp_id} is protected", "OperationNotPermitted")
        await super().terminate_vm(region, csp_id)


def refusing_terminates(h: Harness, provider: str) -> TerminateRefused:
    driver = TerminateRefused(provider, h.cloud)
    h.drivers[provider] = driver
    return driver


def cloud_tokens(h: Harness) -> list[str]:
    return [vm.client_token for vm in h.cloud.vms.values()]


async def test_scale_out_in_out_creates_a_new_vm_each_time(harness: Harness) -> None:
    async with harness.worker():
        handle = await start(harness, request("cycle", {"aws": 2}))
        await created(handle)
        for _ in range(3):
            record, view = await operate(handle, kind="scale-out", group="g-aws", count=1)
            assert record.report == {"added": ["g-aws-3"], "failed": []}, record.message
            assert view.counts == {S.RUNNING: 3}
            record, view = await operate(handle, kind="scale-in", group="g-aws", count=1)
            assert record.report == {"removed": ["g-aws-3"]}
        # three VMs bore the name g-aws-3, each with its own token: the cloud made 5 VMs
        assert len(cloud_tokens(harness)) == len(set(cloud_tokens(harness))) == 5
        assert len(harness.cloud.live_vms()) == 2
        serials = [vm.serial for vm in harness.store.list_vms("ns", "cycle")]
        assert sorted(serials) == [1, 2]


async def test_a_scale_out_whose_vm_fails_says_so(harness: Harness) -> None:
    harness.cloud.fail_names = {"ns-grow-g-aws-2"}
    async with harness.worker():
        handle = await start(harness, request("grow", {"aws": 1}))
        await created(handle)
        record, view = await operate(handle, kind="scale-out", group="g-aws", count=2)
        assert record.report == {"added": ["g-aws-2", "g-aws-3"], "failed": ["g-aws-2"]}
        assert record.message == (
            "added 2 VMs to group g-aws; 1 failed (g-aws-2): see their errors"
        )
        assert view.counts == {S.RUNNING: 2, S.FAILED: 1}


async def test_refine_replacements_get_fresh_tokens(harness: Harness) -> None:
    harness.cloud.fail_names = {"ns-refine-g-aws-2"}
    async with harness.worker():
        handle = await start(harness, request("refine", {"aws": 2}, policy="refine"))
        view = await created(handle)
        assert view.counts == {S.RUNNING: 2}
        assert len(set(cloud_tokens(harness))) == 3  # the failed VM and its replacement


async def test_a_removed_connection_fails_operations_not_the_mcis(harness: Harness) -> None:
    async with harness.worker():
        handle = await start(harness, request("conn", {"aws": 1, "gcp": 1}))
        await created(handle)
        gcp = harness.drivers.pop("gcp")
        record, view = await operate(handle, kind="refresh")
        assert record.state is OperationState.FAILED
        assert "no driver for cloud 'gcp'" in record.message
        record, view = await operate(handle, kind="suspend", group="g-aws")
        assert record.state is OperationState.DONE and view.counts[S.SUSPENDED] == 1

        await request_delete(handle)
        for _ in range(500):  # the gcp VM cannot be terminated: the delete fails, MCIS kept
            view = await status(handle)
            if view.operations[-1].kind == "delete":
                break
            await asyncio.sleep(0.02)
        failure = view.operations[-1]
        assert failure.state is OperationState.FAILED and view.phase == "active"
        assert "1 VMs could not be terminated (g-gcp-1" in failure.message
        kept = {vm.id: vm for vm in view.vms}
        assert kept["g-gcp-1"].status is S.FAILED
        assert "terminate failed" in (kept["g-gcp-1"].error or "")
        assert kept["g-aws-1"].status is S.TERMINATED

        harness.drivers["gcp"] = gcp  # the connection is back: delete again
        final = await deleted(handle)
        assert final.phase == "deleted" and harness.cloud.live_vms() == []


async def test_a_failed_terminate_keeps_the_vm_until_the_cloud_confirms_it_gone(
    harness: Harness,
) -> None:
    async with harness.worker():
        handle = await start(harness, request("keep", {"aws": 3}))
        await created(handle)
        driver = refusing_terminates(harness, "aws")
        record, view = await operate(handle, kind="scale-in", group="g-aws", count=1)
        assert record.report == {"removed": [], "failed": ["g-aws-3"]}
        assert "1 could not be terminated" in record.message
        vm = next(vm for vm in view.vms if vm.id == "g-aws-3")
        assert vm.status is S.FAILED and "protected" in (vm.error or "")
        assert len(harness.store.list_vms("ns", "keep")) == 3  # still recorded

        driver.refusing = False
        record, view = await operate(handle, kind="refine")  # removes what failed
        assert record.report == {"removed": ["g-aws-3"]}
        assert len(harness.cloud.live_vms()) == 2
        assert (await deleted(handle)).phase == "deleted"
        assert harness.cloud.live_vms() == []


async def test_a_create_that_cannot_start_leaves_a_deletable_mcis(harness: Harness) -> None:
    harness.drivers.pop("gcp")
    async with harness.worker():
        handle = await start(harness, request("nogcp", {"aws": 1, "gcp": 1}))
        view = await created(handle)
        create = view.operations[0]
        assert create.kind == "create" and create.state is OperationState.DONE
        failed = {vm.id: vm.error for vm in view.vms if vm.status is S.FAILED}
        assert list(failed) == ["g-gcp-1"] and "no driver for cloud 'gcp'" in str(failed)
        assert (await deleted(handle)).phase == "deleted"
        assert harness.cloud.live_vms() == []


async def test_delete_force_cancels_the_operation_in_flight(
    dev_server: WorkflowEnvironment, store: Store, cloud: FakeCloud
) -> None:
    harness = Harness(dev_server.client, store, cloud)
    harness.cloud.stop_polls = 10**9  # a suspend never ends
    async with harness.worker():
        handle = await start(harness, request("stuck", {"aws": 2}))
        await created(handle)
        await operate_later(handle, "suspend")
        accepted = await request_delete(handle, force=True)
        assert accepted.operation is not None and accepted.operation.kind == "delete"
        final = await gone(handle)
        assert final.phase == "deleted" and harness.cloud.live_vms() == []
        states = [(op.kind.value, op.state.value) for op in final.operations]
        assert states[-2:] == [("suspend", "cancelled"), ("delete", "done")]


async def operate_later(handle: Handle, kind: str) -> None:
    """Send an operation and return once it runs."""
    await request_operation(handle, OperationRequest(kind=kind))
    for _ in range(500):
        view = await status(handle)
        if view.operation is not None and view.operation.state is OperationState.RUNNING:
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"{kind} never started")


async def test_an_mcis_whose_workflow_is_gone_is_rebuilt_from_the_store_and_deleted(
    harness: Harness,
) -> None:
    async with harness.worker():
        handle = await start(harness, request("lost", {"aws": 2}))
        await created(handle)
        await handle.terminate("lost with its Temporal database")
        record = harness.store.get_mcis("ns", "lost")
        assert record is not None
        vms = harness.store.list_vms("ns", "lost")
        rebuilt = await harness.client.start_workflow(
            McisWorkflow.run,
            McisWorkflowInput(
                namespace="ns",
                request=request("lost", {"aws": 2}),
                limits=FAST,
                snapshot=rebuilt_snapshot(record, vms, epoch="e1"),
            ),
            id=f"{handle.id}-rebuilt",
            task_queue=harness.task_queue,
        )
        # a VM made after the rebuild never meets a token from before it
        _, view = await operate(rebuilt, kind="scale-out", group="g-aws", count=1)
        assert view.counts == {S.RUNNING: 3}
        assert len(set(cloud_tokens(harness))) == 3
        assert (await deleted(rebuilt)).phase == "deleted"
        assert harness.cloud.live_vms() == []
