"""Benchmarks on the VMs of an MCIS as the CLI (`mcis bench`) and the API
(`/v1/ns/NS/mcis/NAME/benchmarks`) both run them: the benchmark workflow's input, checked;
starting it once the MCIS exists and the catalog holds its specs; the state of a run; and the
stored results of the latest runs."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError
from temporalio.client import WorkflowHandle, WorkflowQueryFailedError
from temporalio.service import RPCError

from models.benchmark import (
    BenchmarkReport,
    BenchmarkWorkflowInput,
    BenchRow,
    check_target,
    parse_actions,
)
from models.naming import shown
from starter.catalog_service import catalog_store
from starter.context import Context
from starter.errors import CliError, check_input_size, validation_message
from starter.runs_service import RunState, check_token, new_token, run_state
from starter.views import checked_name
from store.benchmarks import BenchmarkStore
from workflows.benchmark import BenchmarkWorkflow, benchmark_workflow_id

BenchmarkHandle = WorkflowHandle[BenchmarkWorkflow, BenchmarkReport]


def benchmark_input(
    namespace: str, name: str, action: str, target: str | None, seconds: int, pings: int
) -> BenchmarkWorkflowInput:
    """The workflow's input: `action` is `all` or `A1,A2`; `target` rtt's address."""
    checked_name(namespace, "namespace")
    try:
        return BenchmarkWorkflowInput(
            namespace=namespace,
            mcis=name,
            actions=parse_actions(action),
            target=None if target is None else check_target(target),
            seconds=seconds,
            pings=pings,
        )
    except ValidationError as exc:
        raise CliError(validation_message(exc, "benchmark")) from None
    except ValueError as exc:
        raise CliError(str(exc)) from None


def stored_results(ctx: Context, namespace: str, name: str) -> list[BenchRow]:
    """The rows of the latest stored results of each VM and action of the MCIS."""
    results = BenchmarkStore(ctx.settings.database_url)
    try:
        return results.latest(namespace, name)
    finally:
        results.close()


async def start_benchmark(ctx: Context, inp: BenchmarkWorkflowInput) -> BenchmarkHandle:
    """Start the benchmark workflow on an existing MCIS (the catalog loaded first, so the run
    can score its specs)."""
    if ctx.store.get_mcis(inp.namespace, inp.mcis) is None:
        raise CliError(f"MCIS {inp.mcis!r} not found in namespace {inp.namespace!r}")
    await catalog_store(ctx)
    client = await ctx.client()
    await check_input_size(client.data_converter, inp, f"benchmark of MCIS {inp.mcis!r}")
    return await client.start_workflow(
        BenchmarkWorkflow.run,
        inp,
        id=benchmark_workflow_id(inp.namespace, inp.mcis, new_token()),
        task_queue=ctx.settings.task_queue,
        static_summary=f"Benchmark of MCIS {inp.namespace}/{inp.mcis}: "
        + ", ".join(action.value for action in inp.actions),
    )


async def benchmark_run(ctx: Context, namespace: str, name: str, token: str) -> RunState:
    """The state of a benchmark run on the MCIS, with its report once it has ended."""
    checked_name(namespace, "namespace")
    checked_name(name, "MCIS name")
    what = f"benchmark run {shown(token)} of MCIS {name!r}"
    check_token(token, what)

    async def progress(handle: WorkflowHandle[Any, Any]) -> str | None:
        try:
            return (await handle.query(BenchmarkWorkflow.progress)).line(name)
        except (RPCError, WorkflowQueryFailedError):
            return None  # no worker answered yet

    workflow_id = benchmark_workflow_id(namespace, name, token)
    return await run_state(ctx, BenchmarkWorkflow.run, workflow_id, what, progress=progress)
