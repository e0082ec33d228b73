"""bench.history_stats and tests.history_bounds: the figures of every run of a real MCIS
workflow (the time-skipping server, the fake cloud), and the payload walk on built events."""

from __future__ import annotations

import asyncio

import pytest
from temporalio.api.common.v1 import Payload, Payloads
from temporalio.api.enums.v1 import EventType
from temporalio.api.failure.v1 import ApplicationFailureInfo, Failure
from temporalio.api.history.v1 import (
    ActivityTaskCompletedEventAttributes,
    ActivityTaskFailedEventAttributes,
    History,
    HistoryEvent,
    WorkflowExecutionStartedEventAttributes,
)
from temporalio.client import WorkflowExecutionStatus
from temporalio.testing import WorkflowEnvironment

from bench.history_stats import event_payloads, event_type_name, history_stats
from store.repository import Store
from tests.fake_cloud import FakeCloud
from tests.history_bounds import assert_history_within
from tests.workflows.conftest import Harness
from tests.workflows.mcis_helpers import created, deleted, request, start


def payload(size: int) -> Payload:
    return Payload(metadata={"encoding": b"json/plain"}, data=b"x" * size)


def test_payloads_are_found_with_their_path() -> None:
    completed = HistoryEvent(
        event_id=7,
        event_type=EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED,
        activity_task_completed_event_attributes=ActivityTaskCompletedEventAttributes(
            result=Payloads(payloads=[payload(10)]), scheduled_event_id=5
        ),
    )
    assert event_type_name(completed) == "ActivityTaskCompleted"
    assert list(event_payloads(completed)) == [("result", payload(10).ByteSize())]

    failed = HistoryEvent(
        event_type=EventType.EVENT_TYPE_ACTIVITY_TASK_FAILED,
        activity_task_failed_event_attributes=ActivityTaskFailedEventAttributes(
            failure=Failure(
                message="boom",
                encoded_attributes=payload(3),
                application_failure_info=ApplicationFailureInfo(
                    details=Payloads(payloads=[payload(1), payload(2)])
                ),
            )
        ),
    )
    assert sorted(event_payloads(failed)) == sorted(
        [
            ("failure.encoded_attributes", payload(3).ByteSize()),
            ("failure.application_failure_info.details[0]", payload(1).ByteSize()),
            ("failure.application_failure_info.details[1]", payload(2).ByteSize()),
        ]
    )

    started = HistoryEvent(
        event_type=EventType.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED,
        workflow_execution_started_event_attributes=WorkflowExecutionStartedEventAttributes(
            input=Payloads(payloads=[payload(4)]),
        ),
    )
    started.workflow_execution_started_event_attributes.memo.fields["note"].CopyFrom(payload(5))
    assert sorted(event_payloads(started)) == sorted(
        [("input", payload(4).ByteSize()), ("memo.fields[note]", payload(5).ByteSize())]
    )


async def test_every_run_of_an_mcis_is_measured(
    dev_server: WorkflowEnvironment, store: Store, cloud: FakeCloud
) -> None:
    """On the dev server: the time-skipping test server now and then answers a finished run's
    history with its first event only."""
    harness = Harness(dev_server.client, store, cloud)
    async with harness.worker():
        handle = await start(harness, request("hist", {"aws": 1, "gcp": 1}))
        view = await created(handle)
        assert view.status == "Running"
        await deleted(handle)  # polled: the test server's long poll can miss the last run
        latest = harness.client.get_workflow_handle(handle.id)  # not pinned to the first run
        while (await latest.describe()).status != WorkflowExecutionStatus.COMPLETED:
            await asyncio.sleep(0.02)  # the deleted MCIS's last run is completing
    client, workflow_id = harness.client, handle.id

    stats = await history_stats(client, workflow_id)
    print("\n".join(stats.lines()))
    # create, then continue-as-new after it, then the delete's run
    assert len(stats.runs) >= 2
    assert stats.runs[0].run_id == handle.first_execution_run_id
    assert len({r.run_id for r in stats.runs}) == len(stats.runs)
    assert [r.closed_as for r in stats.runs] == ["ContinuedAsNew"] * (len(stats.runs) - 1) + [
        "Completed"
    ]
    assert all(r.workflow_type == "McisWorkflow" and r.events > 0 for r in stats.runs)
    assert stats.total_events == sum(r.events for r in stats.runs)
    assert stats.max_events_per_run == max(r.events for r in stats.runs)
    for run in stats.runs:  # the size is that of the run's History proto
        fetched = await client.get_workflow_handle(workflow_id, run_id=run.run_id).fetch_history()
        assert run.events == len(fetched.events)
        assert run.history_bytes == History(events=fetched.events).ByteSize()
    top = stats.max_payload
    assert top is not None
    run, site = top
    assert site.size > 0 and site.event_id > 0
    assert site.describe().startswith(site.event_type) and site.event_type[0].isupper()
    assert site.owner  # an activity, workflow, update or marker
    assert stats.lines()[0] == stats.summary()
    assert len(stats.lines()) == 1 + len(stats.runs)
    assert stats.as_dict()["max_payload"]["size"] == site.size

    # the chain of any run is the same chain
    again = await history_stats(client, workflow_id, handle.first_execution_run_id)
    assert [r.run_id for r in again.runs] == [r.run_id for r in stats.runs]

    within = await assert_history_within(
        client, workflow_id, stats.max_events_per_run, site.size, max_bytes_per_run=10**9
    )
    assert within.max_events_per_run == stats.max_events_per_run
    with pytest.raises(AssertionError, match="events >"):
        await assert_history_within(client, workflow_id, stats.max_events_per_run - 1, site.size)
    with pytest.raises(AssertionError, match=f"payload of {site.size:,} B"):
        await assert_history_within(client, workflow_id, 10**6, site.size - 1)
