"""Native API: `GET /v1/ns/{ns}/mcis/{name}/events`, the MCIS's status changes as server-sent
events.

The server reads the workflow's status every `POLL_S` (through the app's `StatusReads`, so
that many streams of one MCIS share each query) and sends an `event: status` whose data is the
status (`McisView`, as the status query answers it: with the VMs unless the MCIS has more than
`VMS_IN_VIEW`) each time the status, the counts, the phase, the target or an operation's state
changes. The first event is the current status; the stream ends after the status of the deleted
MCIS (phase `deleted`), or after an `event: error` if its workflow ends otherwise. A comment
line every `KEEPALIVE_S` keeps idle connections open through proxies."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.responses import StreamingResponse
from temporalio.client import WorkflowExecutionStatus
from temporalio.service import RPCError

from api.native.common import Ctx
from api.native.status_reads import StatusReads, status_reads
from models.mcis import McisView
from models.records import McisPhase
from starter.context import Context
from starter.errors import CliError
from starter.views import mcis_handle

router = APIRouter(tags=["mcis"])

POLL_S = 0.5
KEEPALIVE_S = 15.0
MEDIA_TYPE = "text/event-stream"


def change_key(view: McisView) -> str:
    """What a change is: the status, counts, phase, target and operations' states (a VM's IP
    or native status alone is not one)."""
    operations = [*view.operations, *([view.operation] if view.operation else [])]
    return json.dumps(
        [
            view.status,
            {status.value: n for status, n in view.counts.items()},
            view.total,
            view.phase,
            view.target_action,
            view.target_status,
            view.failed_vms,
            [(op.id, op.state.value) for op in operations],
        ]
    )


def sse(event: str, data: str, event_id: int | None = None) -> str:
    """One server-sent event (data on one line: JSON never holds a raw newline)."""
    head = f"id: {event_id}\n" if event_id is not None else ""
    return f"{head}event: {event}\ndata: {data}\n\n"


async def status_events(
    read: Callable[[], Awaitable[McisView | None]],
    ended: Callable[[], Awaitable[McisView | str]],
    first: McisView,
    keepalive_s: float = KEEPALIVE_S,
    poll_s: float = POLL_S,
) -> AsyncIterator[str]:
    """The events of one MCIS from its status `first` on, until it is deleted. `read` gives
    the status (None: no worker answered; CliError once the workflow no longer runs), `ended`
    the deleted MCIS's last status, or why its workflow ended otherwise."""
    view: McisView | str = first
    sent, key = 0, ""
    quiet_since = time.monotonic()
    while True:
        if isinstance(view, str):
            yield sse("error", json.dumps({"error": "ended", "message": view}))
            return
        if change_key(view) != key:
            sent, key, quiet_since = sent + 1, change_key(view), time.monotonic()
            yield sse("status", view.model_dump_json(), sent)
            if view.phase == McisPhase.DELETED.value:
                return
        elif time.monotonic() - quiet_since >= keepalive_s:
            quiet_since = time.monotonic()
            yield ": keepalive\n\n"
        await asyncio.sleep(poll_s)
        try:
            view = await read() or view  # no worker answered: nothing new
        except CliError:  # its workflow no longer runs
            view = await ended()
        except RPCError:
            pass  # Temporal did not answer this time: read again at the next poll


async def last_status(ctx: Context, ns: str, name: str) -> McisView | str:
    """The status a deleted MCIS's workflow ended with, or how else it ended."""
    client = await ctx.client()
    handle = mcis_handle(client, ns, name)
    description = await handle.describe()
    if description.status == WorkflowExecutionStatus.COMPLETED:
        return await handle.result()
    ended = description.status.name if description.status else "unknown"
    return f"workflow {handle.id} ended {ended}"


@router.get(
    "/ns/{ns}/mcis/{name}/events",
    response_class=StreamingResponse,
    responses={200: {"content": {MEDIA_TYPE: {}}, "description": "status events"}},
)
async def events(
    ns: str,
    name: str,
    ctx: Ctx,
    reads: Annotated[StatusReads, Depends(status_reads)],
) -> StreamingResponse:
    """Server-sent events: `status` at once and at every change, until the MCIS is deleted."""
    first = await reads.current(ns, name)  # errors (not found, no worker) answer as JSON
    return StreamingResponse(
        status_events(
            lambda: reads.read(ns, name),
            lambda: last_status(ctx, ns, name),
            first,
        ),
        media_type=MEDIA_TYPE,
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
