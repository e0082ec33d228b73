"""Benchmark: create an MCIS of N VMs over R regions whose VMs take D seconds to boot at the
local cloud, on a private embedded stack. Prints the wall time from the start of the workflow to
every VM Running, and the overhead over the baseline D (the wall time of a perfect orchestrator,
which starts every VM at once and sees it Running the moment it boots); the worker's peak
resident size during the create and the delete; and the Temporal history of every run involved
(the MCIS continues as new after its create and its operations; children too): events, bytes
and the largest payload of each run (bench.history_stats).

    python -m bench.create_mcis --vms 200 --regions 10 --boot 5
    python -m bench.create_mcis --vms 1000 --regions 10 --boot 5 --json
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from dataclasses import dataclass

import httpx
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter

from bench.history_stats import HistoryStats, history_stats
from bench.private_stack import private_stack
from bench.rss import RssSampler, RssWindow
from models.mcis import GroupRequest, McisRequest
from models.naming import mcis_workflow_id
from models.operations import McisWorkflowInput
from models.records import NamespaceRecord
from settings import Settings
from starter.stack import Stack
from store.repository import Store
from workflows.mcis import McisWorkflow


def plan(settings: Settings, vms: int, regions: int) -> McisRequest:
    """Spread `vms` over the first `regions` regions, taking clouds in turn."""
    base = settings.localcloud_url
    flavors = httpx.get(f"{base}/healthz", trust_env=False).json()["flavors"]
    places = []
    per_flavor = {f: httpx.get(f"{base}/v1/{f}/regions", trust_env=False).json() for f in flavors}
    for index in range(max(len(r) for r in per_flavor.values())):
        for flavor in flavors:
            if index < len(per_flavor[flavor]):
                places.append((flavor, per_flavor[flavor][index]["name"]))
    if regions > len(places):
        raise SystemExit(f"the local cloud has {len(places)} regions, not {regions}")
    groups = []
    for i, (flavor, region) in enumerate(places[:regions]):
        count = vms // regions + (1 if i < vms % regions else 0)
        spec = httpx.get(f"{base}/v1/{flavor}/specs?region={region}", trust_env=False).json()[0]
        image = httpx.get(f"{base}/v1/{flavor}/images?region={region}", trust_env=False).json()[0]
        groups.append(
            GroupRequest(
                name=f"g{i + 1}",
                spec=f"{flavor}+{region}+{spec['name']}",
                image=f"{flavor}+{region}+{image['name']}",
                count=count,
            )
        )
    return McisRequest(name="bench", groups=groups)


WORKER_RSS_BOUND_MIB = 1024.0
"""Issue #13: the worker stays under 1 GiB resident during a 10,000-VM create."""


def worker_pid(settings: Settings) -> int:
    """The pid of the private stack's worker process (the stack runs it detached)."""
    pid = Stack(settings).status().component("worker").pid
    if pid is None:
        raise SystemExit("the stack's worker is not running")
    return pid


@dataclass
class Measured:
    figures: dict[str, float]
    rss: dict[str, RssWindow]
    history: HistoryStats


async def measure(settings: Settings, request: McisRequest) -> Measured:
    client = await Client.connect(settings.temporal_address, data_converter=pydantic_data_converter)
    Store.from_settings(settings).create_namespace(NamespaceRecord(name="bench"))
    vms = sum(group.count for group in request.groups)
    with RssSampler(worker_pid(settings)) as rss:
        with rss.window("create") as create_rss:
            started = time.monotonic()
            handle = await client.start_workflow(
                McisWorkflow.run,
                McisWorkflowInput(namespace="bench", request=request),
                id=mcis_workflow_id("bench", request.name),
                task_queue=settings.task_queue,
            )
            while True:
                view = await handle.query(McisWorkflow.status)
                if view.phase != "creating":
                    break
                await asyncio.sleep(0.05)
            created = time.monotonic() - started
        if view.status != "Running" or view.total != vms:
            raise SystemExit(f"MCIS ended {view.display} ({view.total} of {vms} VMs)")
        with rss.window("delete") as delete_rss:
            started = time.monotonic()
            await handle.execute_update(McisWorkflow.delete, False)
            await handle.result()
            deleted = time.monotonic() - started
    history = await history_stats(client, handle.id, handle.first_execution_run_id)
    return Measured(
        {"create_wall_s": created, "delete_wall_s": deleted},
        {"create": create_rss, "delete": delete_rss},
        history,
    )


def report_lines(rss: dict[str, RssWindow], history: HistoryStats) -> list[str]:
    """The worker's peak resident size per phase, then the history of every run."""
    phases = "; ".join(f"{name} {window.describe()}" for name, window in rss.items())
    worst = max((w.peak_mib for w in rss.values()), default=0.0)
    verdict = "under" if worst < WORKER_RSS_BOUND_MIB else "OVER"
    return [
        f"worker RSS: {phases}; {verdict} the bound {WORKER_RSS_BOUND_MIB:,.0f} MiB",
        *history.lines(),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--vms", type=int, default=200)
    parser.add_argument("--regions", type=int, default=10)
    parser.add_argument("--boot", type=float, default=5.0, help="D: seconds a VM takes to boot")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    with private_stack({"boot_s": args.boot, "terminate_s": 0.5}) as (settings, _):
        measured = asyncio.run(measure(settings, plan(settings, args.vms, args.regions)))
    figures = measured.figures
    result = {
        "vms": args.vms,
        "regions": args.regions,
        "boot_s": args.boot,
        "baseline_s": args.boot,
        **figures,
        "overhead_s": figures["create_wall_s"] - args.boot,
        "worker_rss_mib": {name: w.as_dict() for name, w in measured.rss.items()},
        "worker_rss_bound_mib": WORKER_RSS_BOUND_MIB,
        "history": measured.history.as_dict(),
    }
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print(
            f"create {args.vms} VMs over {args.regions} regions, boot D={args.boot:.1f}s: "
            f"wall {result['create_wall_s']:.2f}s, baseline D {args.boot:.2f}s, "
            f"overhead {result['overhead_s']:.2f}s; delete {result['delete_wall_s']:.2f}s"
        )
        for line in report_lines(measured.rss, measured.history):
            print(line)
    sys.stdout.flush()
    os._exit(0)


if __name__ == "__main__":
    main()
