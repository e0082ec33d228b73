"""Native API: `GET /v1/ns/{ns}/mcis/{name}/events`, the MCIS's status changes as server-sent
events.

The server polls the workflow's status query (`starter.watch.watch`, every `watch.POLL_S`) and
sends an `event: status` whose data is the status (`McisView`, as `GET .../mcis/{name}`
answers it, with the VMs when the query lists them) each time the status, the counts, the
phase, the target or an operation's state changes. The first event is the current status; the
stream ends after the status of the deleted MCIS (phase `deleted`), or after an `event: error`
if its workflow ends otherwise. A comment line every `KEEPALIVE_S` keeps idle connections
open through proxies."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable

from fastapi import APIRouter
from fastapi.responses import StreamingResponse

from api.native.common import Ctx
from models.mcis import McisView
from models.records import McisPhase
from starter.errors import CliError
from starter.mcis_service import McisHandle, current_view
from starter.views import running_handle
from starter.watch import POLL_S, watch

router = APIRouter(tags=["mcis"])

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


def differs_from(view: McisView) -> Callable[[McisView], bool]:
    key = change_key(view)
    return lambda other: change_key(other) != key


def sse(event: str, data: str, event_id: int | None = None) -> str:
    """One server-sent event (data on one line: JSON never holds a raw newline)."""
    head = f"id: {event_id}\n" if event_id is not None else ""
    return f"{head}event: {event}\ndata: {data}\n\n"


async def status_events(
    handle: McisHandle,
    first: McisView,
    keepalive_s: float = KEEPALIVE_S,
    poll_s: float = POLL_S,
) -> AsyncIterator[str]:
    """The events of one MCIS from its status `first` on, until it is deleted."""
    view, sent = first, 0
    while True:
        sent += 1
        yield sse("status", view.model_dump_json(), sent)
        if view.phase == McisPhase.DELETED.value:
            return
        changed = differs_from(view)
        while True:
            try:
                view = await asyncio.wait_for(
                    watch(handle, changed, quiet=True, poll_s=poll_s), keepalive_s
                )
                break
            except TimeoutError:
                yield ": keepalive\n\n"
            except CliError as exc:  # the workflow ended without deleting the MCIS
                yield sse("error", json.dumps({"error": "ended", "message": exc.message}))
                return


@router.get(
    "/ns/{namespace}/mcis/{name}/events",
    response_class=StreamingResponse,
    responses={200: {"content": {MEDIA_TYPE: {}}, "description": "status events"}},
)
async def events(namespace: str, name: str, ctx: Ctx) -> StreamingResponse:
    """Server-sent events: `status` at once and at every change, until the MCIS is deleted."""
    handle = await running_handle(ctx, namespace, name)
    first = await current_view(handle)  # errors (not found, no worker) answer as JSON
    return StreamingResponse(
        status_events(handle, first),
        media_type=MEDIA_TYPE,
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
