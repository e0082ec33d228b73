"""What the Temporal UI shows of an MCIS without opening a payload: each activity's summary
names its VM, region or batch, and the workflow's current details say its status, counts and
the operation under way. On the dev server, which keeps user metadata as a real cluster does."""

from __future__ import annotations

import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.testing import WorkflowEnvironment

from store.repository import Store
from tests.fake_cloud import FakeCloud
from tests.workflows.conftest import Harness
from tests.workflows.mcis_helpers import created, deleted, request, start
from workflows.summaries import activity_summary, mcis_details, mcis_summary, policy_details

METADATA_QUERY = "__temporal_workflow_metadata"


@pytest.fixture
def harness(dev_server: WorkflowEnvironment, store: Store, cloud: FakeCloud) -> Harness:
    return Harness(dev_server.client, store, cloud)


async def test_activities_are_summarised_and_the_status_is_the_current_details(
    harness: Harness,
) -> None:
    async with harness.worker():
        handle = await start(harness, request("ui", {"aws": 2, "gcp": 1}))
        await created(handle)
        metadata = await handle.query(METADATA_QUERY)
        details = metadata.current_details
        assert details.startswith("**Running (3/3)**") and "phase active" in details
        assert "Running 3" in details

        summaries = []
        first_run = harness.client.get_workflow_handle(
            handle.id, run_id=handle.first_execution_run_id
        )
        async for event in first_run.fetch_history_events():
            if event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
                payload = event.user_metadata.summary
                summaries.append(payload.data.decode().strip('"'))
        await deleted(handle)

    assert summaries[:8] == [
        "register mcis: MCIS ns/ui",
        "record planned vms: 2 groups (g-aws, g-gcp)",
        "ensure shared network: aws/r1",
        "ensure shared network: gcp/r1",
        "create vm batch: aws/r1, 2 VMs (g-aws-1 .. g-aws-2)",
        "create vm batch: gcp/r1, 1 VM (g-gcp-1)",
        "observe vms: aws/r1, 2 VMs (g-aws-1 .. g-aws-2), Create",
        "observe vms: gcp/r1, 1 VM (g-gcp-1), Create",
    ]
    assert all(summaries), "every activity carries a summary"


def test_a_batch_names_its_place_count_and_first_and_last_vm() -> None:
    from models.operations import VmActionBatchInput, VmBatch
    from models.status import TargetAction

    batch = VmBatch(
        namespace="ns",
        mcis="web",
        uid="u",
        provider="aws",
        region="us-east-1",
        names=[f"web-{i}" for i in range(1, 251)],
    )
    inp = VmActionBatchInput(batch=batch, action=TargetAction.SUSPEND)
    assert activity_summary("vm_action_batch", inp) == (
        "vm action batch: aws/us-east-1, 250 VMs (web-1 .. web-250), Suspend"
    )


def test_an_input_naming_nothing_is_summarised_by_the_activity_alone() -> None:
    assert activity_summary("record_benchmark", object()) == "record benchmark"
    assert len(activity_summary("x", type("A", (), {"mcis": "m" * 500, "namespace": "n"})())) == 200


def test_details_list_counts_and_the_operation() -> None:
    counts = {"Running": 4, "Creating": 2}
    assert mcis_details("Partial-Running (4/6)", "active", counts, "#3 create mcis") == (
        "**Partial-Running (4/6)** · phase active · Creating 2, Running 4"
        " · operation: #3 create mcis"
    )
    assert mcis_details("Deleted (0/0)", "deleted", {}, None) == (
        "**Deleted (0/0)** · phase deleted · no VMs"
    )


def test_policy_details_say_state_checks_and_last_decision() -> None:
    text = policy_details("Stabilizing", "dev/web", 12, "#2 scale-out 2 (cpu > 80): done", None)
    assert text == (
        "**Stabilizing** · MCIS dev/web · 12 checks"
        " · last decision: #2 scale-out 2 (cpu > 80): done"
    )
    assert policy_details("Failed", "dev/web", 1, None, "store away").endswith("error: store away")


def test_an_mcis_is_summarised_by_namespace_name_vm_count_and_clouds() -> None:
    groups = [("gcp", 2), ("aws", 3), ("gcp", 1)]
    assert mcis_summary("dev", "web", groups) == "MCIS dev/web · 6 VMs · aws, gcp"
