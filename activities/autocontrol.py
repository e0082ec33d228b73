"""Auto-control activities: act on an MCIS through its own workflow's Update (with the
decision's request id, so a retry after any crash returns the operation already started instead
of starting another) and wait until that operation has finished."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from temporalio import activity
from temporalio.client import WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode

from activities.deps import ActivityDeps
from models.lifecycle import OperationRecord
from models.mcis import McisView
from models.naming import mcis_workflow_id
from models.policy import McisOperationCall
from workflows.failures import failure_message, failure_type

POLL_S = 1.0
BUSY_RETRY_S = 5.0


class AutoControlActivities:
    def __init__(self, deps: ActivityDeps) -> None:
        self._deps = deps

    @activity.defn(name="run_mcis_operation")
    async def run_mcis_operation(self, call: McisOperationCall) -> OperationRecord:
        handle = self._deps.client().get_workflow_handle(
            mcis_workflow_id(call.namespace, call.mcis)
        )
        try:
            accepted: OperationRecord = await handle.execute_update(
                "operate", call.request, result_type=OperationRecord, id=call.request.request_id
            )
        except WorkflowUpdateFailedError as exc:
            busy = failure_type(exc) == "Busy"
            raise ApplicationError(
                failure_message(exc),
                type="Busy" if busy else "Refused",
                non_retryable=not busy,
                next_retry_delay=timedelta(seconds=BUSY_RETRY_S) if busy else None,
            ) from None
        except RPCError as exc:
            if exc.status is RPCStatusCode.NOT_FOUND:
                raise ApplicationError(
                    f"MCIS {call.mcis!r} of namespace {call.namespace!r} does not run",
                    type="NotFound",
                    non_retryable=True,
                ) from None
            raise
        while True:
            view: McisView = await handle.query("status", result_type=McisView)
            done = next((op for op in view.operations if op.id == accepted.id), None)
            if done is not None:
                return done
            activity.heartbeat(f"operation {accepted.id}: {view.display}")
            await asyncio.sleep(POLL_S)
