"""`mcis bench NS NAME [--action A] [--target IP]`: benchmarks on the VMs of an MCIS over SSH
through the benchmark workflow, with progress on stderr; prints a row per VM and action (mrtt:
per peer) as a table or `--json`, then what the catalog learnt. `--show` prints the stored
results instead of running anything. The work is in `starter.bench_service`, shared with the
API."""

from __future__ import annotations

import argparse
import asyncio

from temporalio.client import WorkflowFailureError, WorkflowHandle, WorkflowQueryFailedError
from temporalio.service import RPCError

from models.benchmark import (
    PERFORMANCE_ACTION,
    UNIT_OF,
    BenchmarkReport,
    BenchRow,
)
from models.failures import failure_message
from starter import bench_service
from starter.context import Context
from starter.errors import FAILED, CliError
from starter.output import print_json, print_table, progress
from workflows.benchmark import BenchmarkWorkflow

POLL_S = 0.5


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
    inp = bench_service.benchmark_input(
        args.namespace, args.name, args.action, args.target, args.seconds, args.pings
    )
    namespace = inp.namespace
    if args.show:
        rows = bench_service.stored_results(ctx, namespace, args.name)
        if rows or args.json:
            show_rows(rows, args.json)
        else:
            print(f"no benchmark results of MCIS {args.name!r} in namespace {namespace!r}")
        return 0
    handle = await bench_service.start_benchmark(ctx, inp)
    if not args.json:
        actions = ", ".join(a.value for a in inp.actions)
        progress(f"benchmarking {namespace}/{args.name} ({actions}): workflow {handle.id}")
    report = await _follow(handle, args.name, args.json)
    show_rows(report.rows, args.json)
    if not args.json:
        show_learnt(report)
    for warning in report.warnings:
        progress(f"warning: {warning}")
    return 0 if all(r.error is None for r in report.rows) else FAILED
