"""Benchmark: suspend then resume an MCIS of N VMs whose VMs take D seconds per transition at
the local cloud, on a private embedded stack. Prints each action's wall time (from the Update to
every VM at its target) and its overhead over the baseline D (a perfect orchestrator acts on
every VM at once and sees it arrive the moment it does); the worker's peak resident size in
each phase and the Temporal history of every run involved (the MCIS continues as new after its
create and after every operation): events, bytes and the largest payload of each run.

    python -m bench.lifecycle --vms 200 --regions 10 --transition 5
    python -m bench.lifecycle --vms 10000 --regions 50 --transition 5
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time

from temporalio.client import Client, WorkflowHandle
from temporalio.contrib.pydantic import pydantic_data_converter

from bench.create_mcis import Measured, plan, report_lines, worker_pid
from bench.history_stats import history_stats
from bench.private_stack import private_stack
from bench.rss import RssSampler, RssWindow
from models.mcis import McisView
from models.naming import mcis_workflow_id
from models.operations import McisWorkflowInput, OperationRequest
from models.records import NamespaceRecord
from settings import Settings
from store.repository import Store
from workflows.mcis import McisWorkflow


async def until(handle: WorkflowHandle[McisWorkflow, McisView], done: object) -> McisView:
    while True:
        view = await handle.query(McisWorkflow.status)
        if callable(done) and done(view):
            return view
        await asyncio.sleep(0.05)


async def timed_action(handle: WorkflowHandle[McisWorkflow, McisView], kind: str) -> float:
    started = time.monotonic()
    accepted = await handle.execute_update(McisWorkflow.operate, OperationRequest(kind=kind))
    view = await until(handle, lambda v: any(op.id == accepted.id for op in v.operations))
    wall = time.monotonic() - started
    target = "Suspended" if kind == "suspend" else "Running"
    if view.status != target:
        raise SystemExit(f"{kind} ended {view.display}")
    return wall


async def measure(settings: Settings, vms: int, regions: int) -> Measured:
    client = await Client.connect(settings.temporal_address, data_converter=pydantic_data_converter)
    Store.from_settings(settings).create_namespace(NamespaceRecord(name="bench"))
    request = plan(settings, vms, regions)
    windows: dict[str, RssWindow] = {}
    figures: dict[str, float] = {}
    with RssSampler(worker_pid(settings)) as rss:
        with rss.window("create") as windows["create"]:
            handle = await client.start_workflow(
                McisWorkflow.run,
                McisWorkflowInput(namespace="bench", request=request),
                id=mcis_workflow_id("bench", request.name),
                task_queue=settings.task_queue,
            )
            view = await until(handle, lambda v: v.phase != "creating")
        if view.status != "Running" or view.total != vms:
            raise SystemExit(f"MCIS ended {view.display} ({view.total} of {vms} VMs)")
        for kind in ("suspend", "resume"):
            with rss.window(kind) as windows[kind]:
                figures[f"{kind}_wall_s"] = await timed_action(handle, kind)
        with rss.window("delete") as windows["delete"]:
            await handle.execute_update(McisWorkflow.delete, False)
            await handle.result()
    history = await history_stats(client, handle.id, handle.first_execution_run_id)
    return Measured(figures, windows, history)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--vms", type=int, default=200)
    parser.add_argument("--regions", type=int, default=10)
    parser.add_argument("--transition", type=float, default=5.0, help="D: seconds per stop/start")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    transition = args.transition
    timings = {"boot_s": 1.0, "stop_s": transition, "start_s": transition, "terminate_s": 0.5}
    with private_stack(timings) as (settings, _):
        measured = asyncio.run(measure(settings, args.vms, args.regions))
    figures = measured.figures
    result = {
        "vms": args.vms,
        "regions": args.regions,
        "baseline_s": args.transition,
        **figures,
        "suspend_overhead_s": figures["suspend_wall_s"] - args.transition,
        "resume_overhead_s": figures["resume_wall_s"] - args.transition,
        "worker_rss_mib": {name: w.as_dict() for name, w in measured.rss.items()},
        "history": measured.history.as_dict(),
    }
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print(
            f"{args.vms} VMs over {args.regions} regions, transition D={args.transition:.1f}s "
            f"(baseline): suspend {figures['suspend_wall_s']:.2f}s "
            f"(overhead {result['suspend_overhead_s']:.2f}s), resume "
            f"{figures['resume_wall_s']:.2f}s (overhead {result['resume_overhead_s']:.2f}s)"
        )
        for line in report_lines(measured.rss, measured.history):
            print(line)
    sys.stdout.flush()
    os._exit(0)


if __name__ == "__main__":
    main()
