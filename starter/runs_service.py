"""The state of one run of a workflow the CLI or the API started and did not wait for (a remote
command, a benchmark, a sweep): running, completed with its result, or failed with the reason;
what the API's status URLs answer."""

from __future__ import annotations

import re
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from pydantic import BaseModel
from temporalio.client import WorkflowExecutionStatus, WorkflowFailureError, WorkflowHandle
from temporalio.service import RPCError, RPCStatusCode

from models.failures import failure_message
from starter.context import Context
from starter.errors import CliError

RUNNING, COMPLETED, FAILED = "running", "completed", "failed"
_TOKEN = re.compile(r"[0-9a-f]{12}")


def new_token() -> str:
    """The last part of a new run's workflow id (`remote/NS/NAME/<token>`)."""
    return uuid.uuid4().hex[:12]


def check_token(token: str, what: str) -> None:
    """CliError (not found) unless `token` could be one `new_token` made."""
    if not _TOKEN.fullmatch(token):
        raise CliError(f"{what} not found")


class RunState(BaseModel):
    """A workflow run: `running` (with its `progress` where the workflow tells it), `completed`
    (with `result`) or `failed` (with `error`)."""

    workflow_id: str
    state: str
    result: Any = None
    error: str | None = None
    progress: str | None = None


ResultReader = Callable[[WorkflowHandle[Any, Any], str], Awaitable[Any]]
"""Reads a completed run's result, given its handle and run id."""


ProgressReader = Callable[[WorkflowHandle[Any, Any]], Awaitable[str | None]]
"""Reads a running workflow's progress as one line (None: not known now)."""


async def _result(handle: WorkflowHandle[Any, Any], _run_id: str) -> Any:
    return await handle.result()


async def run_state(
    ctx: Context,
    workflow: Callable[..., Awaitable[Any]],
    workflow_id: str,
    what: str,
    read: ResultReader = _result,
    progress: ProgressReader | None = None,
) -> RunState:
    """The state of the latest run of `workflow` (its run method: the result is decoded as the
    type it returns), its result read by `read` (by default: the workflow's result), while it
    runs its progress read by `progress`; CliError (`what` not found) if there is none."""
    client = await ctx.client()
    handle = client.get_workflow_handle_for(workflow, workflow_id)
    try:
        description = await handle.describe()
    except RPCError as exc:
        if exc.status is not RPCStatusCode.NOT_FOUND:
            raise
        raise CliError(f"{what} not found") from None
    if description.status is WorkflowExecutionStatus.RUNNING:
        line = await progress(handle) if progress else None
        return RunState(workflow_id=workflow_id, state=RUNNING, progress=line)
    try:
        result = await read(handle, description.run_id)
    except WorkflowFailureError as exc:
        return RunState(workflow_id=workflow_id, state=FAILED, error=failure_message(exc))
    return RunState(workflow_id=workflow_id, state=COMPLETED, result=result)
