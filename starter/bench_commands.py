"""`mcis bench NS NAME [--action A] [--target IP]`: benchmarks on the VMs of an MCIS over SSH
through the benchmark workflow, with progress on stderr; prints a row per VM and action (mrtt:
per peer) as a table or `--json`, then what the catalog learnt. `--show` prints the stored
results instead of running anything."""

from __future__ import annotations

import argparse
import asyncio
import uuid

from pydantic import ValidationError
from temporalio.client import WorkflowFailureError, WorkflowHandle, WorkflowQueryFailedError
from temporalio.service import RPCError

from models.benchmark import (
    PERFORMANCE_ACTION,
    UNIT_OF,
    BenchmarkReport,
    BenchmarkWorkflowInput,
    BenchRow,
    check_target,
    parse_actions,
)
from starter.catalog_commands import catalog_store
from starter.context import Context
from starter.errors import FAILED, CliError, check_input_size, validation_message
from starter.output import print_json, print_table, progress
from starter.views import checked_name
from store.benchmarks import BenchmarkStore
from workflows.benchmark import BenchmarkWorkflow, benchmark_workflow_id
from workflows.failures import failure_message

POLL_S = 0.5


def _input(namespace: str, args: argparse.Namespace) -> BenchmarkWorkflowInput:
    try:
        return BenchmarkWorkflowInput(
            namespace=namespace,
            mcis=args.name,
            actions=parse_actions(args.action),
            target=None if args.target is None else check_target(args.target),
            seconds=args.seconds,
            pings=args.pings,
        )
    except ValidationError as exc:
        raise CliError(validation_message(exc, "benchmark")) from None
    except ValueError as exc:
        raise CliError(str(exc)) from None


def _value(row: BenchRow) -> str:
    if row.value is None:
        return f"error: {row.error}"
    return f"{row.value:.2f}" if abs(row.value) >= 10 else f"{row.value:.3f}"


def show_rows(rows: list[BenchRow], as_json: bool) -> None:
    if as_json:
        print_json(rows)
        return
    print_table(
        ["VM", "SPEC", "REGION", "ACTION", "TARGET", "VALUE", "UNIT"],
        [
            (
                r.vm,
                r.spec.name,
                f"{r.provider}/{r.region}",
                r.action.value,
                r.target or "-",
                _value(r),
                r.unit,
            )
            for r in rows
        ],
    )


def show_learnt(report: BenchmarkReport) -> None:
    unit = f"{PERFORMANCE_ACTION.value} {UNIT_OF[PERFORMANCE_ACTION]}"
    for score in report.performance:
        print(f"catalog: performance of {score.spec_id} = {score.score:.2f} ({unit})")
    for rtt in report.rtts:
        print(f"catalog: RTT {rtt.a} <-> {rtt.b} = {rtt.rtt_ms:.2f} ms")


async def _follow(
    handle: WorkflowHandle[BenchmarkWorkflow, BenchmarkReport], mcis: str, quiet: bool
) -> BenchmarkReport:
    """The workflow's result, printing each change of its progress on the way."""
    result = asyncio.ensure_future(handle.result())
    last = ""
    while not result.done():
        try:
            line = (await handle.query(BenchmarkWorkflow.progress)).line(mcis)
        except (RPCError, WorkflowQueryFailedError):
            line = last  # no worker answered yet, or it just ended
        if line != last and not quiet:
            progress(line)
            last = line
        await asyncio.wait([result], timeout=POLL_S)
    try:
        return result.result()
    except WorkflowFailureError as exc:
        raise CliError(failure_message(exc), FAILED) from None


async def bench(ctx: Context, args: argparse.Namespace) -> int:
    namespace = checked_name(args.namespace, "namespace")
    inp = _input(namespace, args)
    results = BenchmarkStore(ctx.settings.database_url)
    if args.show:
        rows = results.latest(namespace, args.name)
        if rows or args.json:
            show_rows(rows, args.json)
        else:
            print(f"no benchmark results of MCIS {args.name!r} in namespace {namespace!r}")
        return 0
    if ctx.store.get_mcis(namespace, args.name) is None:
        raise CliError(f"MCIS {args.name!r} not found in namespace {namespace!r}")
    await catalog_store(ctx)  # the catalog holds the specs before the run scores them
    client = await ctx.client()
    await check_input_size(client.data_converter, inp, f"benchmark of MCIS {args.name!r}")
    workflow_id = benchmark_workflow_id(namespace, args.name, uuid.uuid4().hex[:12])
    if not args.json:
        actions = ", ".join(a.value for a in inp.actions)
        progress(f"benchmarking {namespace}/{args.name} ({actions}): workflow {workflow_id}")
    handle = await client.start_workflow(
        BenchmarkWorkflow.run, inp, id=workflow_id, task_queue=ctx.settings.task_queue
    )
    report = await _follow(handle, args.name, args.json)
    show_rows(report.rows, args.json)
    if not args.json:
        show_learnt(report)
    for warning in report.warnings:
        progress(f"warning: {warning}")
    return 0 if all(r.error is None for r in report.rows) else FAILED
