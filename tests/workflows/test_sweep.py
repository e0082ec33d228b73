"""The orphan sweep (`mcis reconcile --all`) under the time-skipping server with the fake cloud:
exactly the VMs with mcis tags that no MCIS owns are orphans, a live MCIS's unrecorded VM is
only reported, records of vanished VMs are drift; deleting terminates the orphans alone, and a
second sweep finds nothing."""

from __future__ import annotations

import uuid

import pytest
from temporalio.exceptions import ApplicationError

from activities.sweep import SweepActivities
from models.cloud import CloudVm
from models.naming import vm_tags
from models.sweep import OrphanRef, SweepInput, SweepReport
from tests.workflows.conftest import Harness
from tests.workflows.mcis_helpers import created, request, start
from workflows.sweep import SweepWorkflow, sweep_workflow_id


def stray(h: Harness, csp_id: str, provider: str, tags: dict[str, str]) -> None:
    """A running VM the clouds hold that no mcis workflow made."""
    h.cloud.vms[csp_id] = CloudVm(
        csp_id=csp_id,
        name=f"by-hand-{csp_id}",
        provider=provider,
        region="r1",
        spec="small",
        image="ubuntu",
        native_status="",
        tags=tags,
    )
    h.cloud.phase[csp_id], h.cloud.polls[csp_id] = "running", 0


async def sweep(h: Harness, delete: bool = False) -> SweepReport:
    return await h.client.execute_workflow(
        SweepWorkflow.run,
        SweepInput(delete_orphans=delete),
        id=sweep_workflow_id(uuid.uuid4().hex[:8]),
        task_queue=h.task_queue,
    )


async def test_sweep_finds_exactly_the_orphans_and_deletes_only_them(harness: Harness) -> None:
    cloud = harness.cloud
    async with harness.worker():
        keep = await created(await start(harness, request("keep", {"aws": 2, "gcp": 1})))
        gone = await created(await start(harness, request("gone", {"gcp": 2})))
        harness.store.delete_mcis("ns", "gone")  # its record removed behind its back
        stray(harness, "i-ghost", "aws", vm_tags("ns", "ghost", "u-1", "g", "g-1"))
        stray(harness, "i-old", "gcp", vm_tags("ns", "keep", "u-earlier", "g-gcp", "g-gcp-1"))
        stray(harness, "i-mine", "aws", vm_tags("ns", "keep", keep.uid, "g-aws", "g-aws-9"))
        stray(harness, "i-untagged", "aws", {"owner": "someone else"})
        vanished = next(vm.csp_id or "" for vm in keep.vms if vm.id == "g-aws-2")
        cloud.phase[vanished] = "terminated"  # terminated at the cloud, still Running in records

        report = await sweep(harness)
        orphans = {o.csp_id: o for o in report.orphans}
        gone_ids = {vm.csp_id or "" for vm in gone.vms}
        assert set(orphans) == {"i-ghost", "i-old", *gone_ids}
        assert orphans["i-ghost"].reason == "no MCIS ns/ghost"
        assert orphans["i-old"].reason.startswith("left by an earlier MCIS ns/keep")
        assert {orphans[i].vm for i in gone_ids} == {"g-gcp-1", "g-gcp-2"}
        assert all(o.action == "none" and o.status.value == "Running" for o in orphans.values())
        assert [vm.csp_id for vm in report.unrecorded] == ["i-mine"]
        assert [(d.namespace, d.mcis, d.missing) for d in report.drift] == [
            ("ns", "keep", ["g-aws-2"])
        ]
        assert report.regions == 2 and report.errors == []
        assert cloud.phase["i-ghost"] == "running"  # a report only

        deleted = await sweep(harness, delete=True)
        assert {o.csp_id: o.action for o in deleted.orphans} == dict.fromkeys(orphans, "terminated")
        assert {cloud.phase[i] for i in orphans} == {"terminating"}
        kept = [vm.csp_id or "" for vm in keep.vms if vm.id != "g-aws-2"]
        assert {cloud.phase[i] for i in [*kept, "i-mine", "i-untagged"]} == {"running"}

        again = await sweep(harness, delete=True)
        assert again.orphans == [] and [vm.csp_id for vm in again.unrecorded] == ["i-mine"]


async def test_terminating_an_orphan_is_idempotent_and_checks_its_tags(harness: Harness) -> None:
    activities = SweepActivities(harness.deps)
    tags = vm_tags("ns", "ghost", "u-1", "g", "g-1")
    stray(harness, "i-ghost", "aws", tags)
    ref = OrphanRef(
        provider="aws", region="r1", csp_id="i-ghost", namespace="ns", mcis="ghost", uid="u-1"
    )
    assert await activities.terminate_orphan(ref) == "terminated"
    assert await activities.terminate_orphan(ref) == "terminated"  # terminating: still listed
    del harness.cloud.vms["i-ghost"]
    assert await activities.terminate_orphan(ref) == "already gone"

    stray(harness, "i-reused", "aws", vm_tags("ns", "ghost", "u-2", "g", "g-1"))
    with pytest.raises(ApplicationError, match="no longer carries the tags"):
        await activities.terminate_orphan(ref.model_copy(update={"csp_id": "i-reused"}))
    assert harness.cloud.phase["i-reused"] == "running"
