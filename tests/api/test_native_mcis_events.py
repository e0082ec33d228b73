"""The MCIS event stream against a scripted status: the current status first, then one event
per change of status, counts, phase or operation (none for a poll that changed nothing, none
while no worker or Temporal answers), the deleted MCIS last, an `error` event when its workflow
ends without deleting it, and a keep-alive comment while nothing changes."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from temporalio.service import RPCError, RPCStatusCode

from api.native.events import status_events
from models.lifecycle import OperationKind, OperationState
from models.mcis import McisView
from models.status import TargetAction
from starter.errors import CliError
from tests.starter.fakes import S, view

CREATING = view({S.CREATING: 3}, target=TargetAction.CREATE)
ONE_UP = view({S.RUNNING: 1, S.CREATING: 2}, target=TargetAction.CREATE)
ACTIVE = view({S.RUNNING: 3}, phase="active")
SUSPENDING = view(
    {S.RUNNING: 3}, phase="active", operation=(OperationKind.SUSPEND, OperationState.RUNNING)
)
DELETED = view({S.TERMINATED: 3}, phase="deleted")
UNAVAILABLE = RPCError("unavailable", RPCStatusCode.UNAVAILABLE, b"")


class Script:
    """Answers each read with the next poll (an exception is raised); then the workflow no
    longer runs, and ended with `end`."""

    def __init__(self, polls: Sequence[McisView | Exception | None], end: McisView | str) -> None:
        self.polls = list(polls)
        self.end = end

    async def read(self) -> McisView | None:
        if not self.polls:
            raise CliError("MCIS 'web' not found in namespace 'dev'")
        poll = self.polls.pop(0)
        if isinstance(poll, Exception):
            raise poll
        return poll

    async def ended(self) -> McisView | str:
        return self.end


async def frames(script: Script, first: McisView, keepalive_s: float = 60) -> list[str]:
    stream = status_events(script.read, script.ended, first, keepalive_s=keepalive_s, poll_s=0)
    return [frame async for frame in stream]


def parsed(sent: list[str]) -> list[tuple[str, dict[str, Any]]]:
    events = []
    for frame in sent:
        fields = dict(line.split(": ", 1) for line in frame.strip().splitlines())
        events.append((fields["event"], json.loads(fields["data"])))
    return events


async def test_the_first_event_is_the_status_then_one_per_change_until_deleted() -> None:
    polls = [None, CREATING, ONE_UP, UNAVAILABLE, ONE_UP, ACTIVE, ACTIVE, SUSPENDING, ACTIVE]
    sent = parsed(await frames(Script(polls, DELETED), CREATING))
    assert [(kind, data["phase"], data["status"]) for kind, data in sent] == [
        ("status", "creating", "Creating"),
        ("status", "creating", "Partial-Creating"),
        ("status", "active", "Running"),
        ("status", "active", "Running"),  # the suspend runs
        ("status", "active", "Running"),  # no operation any more
        ("status", "deleted", "Terminated"),
    ]
    assert sent[3][1]["operation"]["kind"] == "suspend"
    assert sent[1][1]["counts"] == {"Running": 1, "Creating": 2}
    assert [vm["id"] for vm in sent[2][1]["vms"]] == ["g-1", "g-2", "g-3"]


async def test_events_are_numbered_and_a_deleted_status_read_ends_the_stream() -> None:
    sent = await frames(Script([ACTIVE, DELETED, ACTIVE], "never read"), CREATING)
    assert [frame.splitlines()[:2] for frame in sent] == [
        ["id: 1", "event: status"],
        ["id: 2", "event: status"],
        ["id: 3", "event: status"],
    ]


async def test_a_workflow_that_ends_without_a_delete_ends_the_stream_with_an_error() -> None:
    ended = "workflow mcis/dev/web ended TERMINATED"
    sent = parsed(await frames(Script([ACTIVE], ended), ACTIVE))
    assert sent == [
        ("status", ACTIVE.model_dump(mode="json")),
        ("error", {"error": "ended", "message": ended}),
    ]


async def test_a_quiet_stream_sends_keep_alive_comments() -> None:
    sent = await frames(Script([ACTIVE, ACTIVE], DELETED), ACTIVE, keepalive_s=0)
    assert [frame.split("\n")[0] if frame.startswith(":") else "event" for frame in sent] == [
        "event",
        ": keepalive",
        ": keepalive",
        "event",
    ]
