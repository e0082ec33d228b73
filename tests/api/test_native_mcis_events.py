"""The MCIS event stream against a scripted workflow: the current status first, then one event
per change of status, counts, phase or operation (none for a poll that changed nothing, none
while no worker answers), the deleted MCIS last, and an `error` event when the workflow ends
without deleting it."""

from __future__ import annotations

import json

from temporalio.client import WorkflowExecutionStatus

from api.native.events import status_events
from models.lifecycle import OperationKind, OperationState
from models.mcis import McisView
from models.status import TargetAction
from tests.starter.fakes import FakeHandle, S, view

CREATING = view({S.CREATING: 3}, target=TargetAction.CREATE)
ONE_UP = view({S.RUNNING: 1, S.CREATING: 2}, target=TargetAction.CREATE)
ACTIVE = view({S.RUNNING: 3}, phase="active")
SUSPENDING = view(
    {S.RUNNING: 3}, phase="active", operation=(OperationKind.SUSPEND, OperationState.RUNNING)
)
DELETED = view({S.TERMINATED: 3}, phase="deleted")


async def events_of(handle: FakeHandle, first: McisView) -> list[tuple[str, dict[str, object]]]:
    frames = [f async for f in status_events(handle.typed(), first, poll_s=0)]
    parsed = []
    for frame in frames:
        fields = dict(line.split(": ", 1) for line in frame.strip().splitlines())
        parsed.append((fields["event"], json.loads(fields["data"])))
    return parsed


async def test_the_first_event_is_the_status_then_one_per_change_until_deleted() -> None:
    polls = [CREATING, None, CREATING, ONE_UP, ONE_UP, ACTIVE, ACTIVE, SUSPENDING, ACTIVE, DELETED]
    sent = await events_of(FakeHandle(polls), CREATING)
    assert [(kind, data["phase"], data["status"]) for kind, data in sent] == [
        ("status", "creating", "Creating"),
        ("status", "creating", "Partial-Creating"),
        ("status", "active", "Running"),
        ("status", "active", "Running"),  # the suspend runs
        ("status", "active", "Running"),  # no operation any more
        ("status", "deleted", "Terminated"),
    ]
    assert [data["operation"] for _, data in sent][3]["kind"] == "suspend"
    assert sent[1][1]["counts"] == {"Running": 1, "Creating": 2}
    assert [vm["id"] for vm in sent[2][1]["vms"]] == ["g-1", "g-2", "g-3"]


async def test_a_workflow_that_ends_without_a_delete_ends_the_stream_with_an_error() -> None:
    handle = FakeHandle([ACTIVE], then=WorkflowExecutionStatus.TERMINATED)
    sent = await events_of(handle, ACTIVE)
    assert sent == [
        ("status", ACTIVE.model_dump(mode="json")),
        ("error", {"error": "ended", "message": "workflow mcis/dev/web ended TERMINATED"}),
    ]
