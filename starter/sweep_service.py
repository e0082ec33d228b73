"""The orphan sweep as the CLI (`mcis reconcile --all`) and the API (`/v1/sweep`) both start
it: one sweep workflow over every region of every cloud mcis can reach, listing orphans (VMs
with mcis tags no MCIS owns), unrecorded VMs of a live MCIS and drift, and terminating the
orphans if asked; the state of a sweep run."""

from __future__ import annotations

from temporalio.client import WorkflowHandle

from models.naming import shown
from models.sweep import SweepInput, SweepReport
from starter.context import Context
from starter.errors import check_input_size
from starter.runs_service import RunState, check_token, new_token, run_state
from workflows.sweep import SweepWorkflow, sweep_workflow_id

SweepHandle = WorkflowHandle[SweepWorkflow, SweepReport]


async def start_sweep(ctx: Context, delete_orphans: bool) -> SweepHandle:
    client = await ctx.client()
    inp = SweepInput(delete_orphans=delete_orphans)
    await check_input_size(client.data_converter, inp, "sweep")
    return await client.start_workflow(
        SweepWorkflow.run,
        inp,
        id=sweep_workflow_id(new_token()),
        task_queue=ctx.settings.task_queue,
        static_summary="Sweep" + (", deleting orphans" if delete_orphans else ", report only"),
    )


def sweep_failed(report: SweepReport) -> bool:
    """Whether a region could not be scanned or an orphan's termination failed."""
    return bool(report.errors) or any(o.action.startswith("failed") for o in report.orphans)


async def sweep_run(ctx: Context, token: str) -> RunState:
    """The state of the sweep `sweep/<token>`, with its report once it has ended."""
    what = f"sweep {shown(token)}"
    check_token(token, what)
    return await run_state(ctx, SweepWorkflow.run, sweep_workflow_id(token), what)
