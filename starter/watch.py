"""Waiting on an MCIS workflow with progress: poll its status query, print each change."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from temporalio.client import WorkflowExecutionStatus, WorkflowHandle
from temporalio.service import RPCError

from models.mcis import McisView
from starter.errors import FAILED, CliError
from starter.output import progress
from workflows.mcis import McisWorkflow

POLL_S = 0.5


def progress_line(view: McisView) -> str:
    counts = ", ".join(f"{status.value} {n}" for status, n in view.counts.items())
    doing = (
        f"{view.operation.kind.value} {view.operation.state.value}"
        if view.operation
        else view.phase
    )
    line = f"{view.name}: {doing}, {view.display.split(',')[0]}"
    return f"{line} [{counts}]" if counts else line


async def query_status(handle: WorkflowHandle[McisWorkflow, McisView]) -> McisView | None:
    try:
        return await handle.query(McisWorkflow.status)
    except RPCError:
        return None  # no worker answered (yet): try again


async def watch(
    handle: WorkflowHandle[McisWorkflow, McisView],
    done: Callable[[McisView], bool],
    quiet: bool = False,
) -> McisView:
    """Poll until `done(view)` or the workflow closes; returns the last view."""
    last_line = ""
    while True:
        description = await handle.describe()
        if description.status != WorkflowExecutionStatus.RUNNING:
            if description.status == WorkflowExecutionStatus.COMPLETED:
                return await handle.result()
            ended = description.status.name if description.status else "unknown"
            raise CliError(f"workflow {handle.id} ended {ended}", FAILED)
        view = await query_status(handle)
        if view is not None:
            line = progress_line(view)
            if line != last_line and not quiet:
                progress(line)
                last_line = line
            if done(view):
                return view
        elif not quiet and last_line != "waiting":
            progress(f"{handle.id}: waiting for a worker to answer")
            last_line = "waiting"
        await asyncio.sleep(POLL_S)
