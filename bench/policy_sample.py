"""Benchmark: one auto-control policy sample (the `collect_metrics` activity: the MCIS checked
through its workflow, its VMs read from the store, every Running VM's utilisation read from its
cloud's monitoring at the cloud's read rate) of an MCIS of N VMs over R regions, on a private
embedded stack. Prints the wall time of a sample that reads each region in one call, and the
baseline in the same run: the same activity reading one VM a call, as every sample did before.

    python -m bench.policy_sample --vms 1000 --regions 10
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import time
from collections.abc import Mapping

import httpx
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import ActivityEnvironment

from activities.autocontrol import AutoControlActivities
from activities.deps import ActivityDeps
from bench.create_mcis import plan
from bench.lifecycle import until
from bench.private_stack import private_stack
from drivers.base import CloudDriver
from drivers.localcloud import LocalCloudDriver, local_drivers
from drivers.rate_limit import RateLimiter, parse_rates
from models.naming import TAG_MCIS, mcis_workflow_id
from models.operations import McisWorkflowInput
from models.policy import Metric, MetricsQuery, MetricsSample
from models.records import NamespaceRecord
from settings import Settings
from store.repository import Store
from workflows.mcis import McisWorkflow

LOAD_PERCENT = 50.0


class OneVmAtATime(LocalCloudDriver):
    """The local cloud's driver without its region-wide read (a runtime-checkable protocol
    treats a member set to None as missing): metrics are read one VM a call."""

    region_metrics = None  # type: ignore[assignment]


async def sample(
    client: Client, store: Store, settings: Settings, drivers: Mapping[str, CloudDriver]
) -> tuple[float, MetricsSample]:
    """One sample's wall time and result, with a fresh read limiter (every bucket full)."""
    limiter = RateLimiter(parse_rates(settings.cloud_read_rates))
    deps = ActivityDeps(drivers=drivers, store=store, read_limiter=limiter, temporal=client)
    query = MetricsQuery(namespace="bench", mcis="bench")
    started = time.monotonic()
    result = await ActivityEnvironment().run(AutoControlActivities(deps).collect_metrics, query)
    return time.monotonic() - started, result


def check(result: MetricsSample, vms: int) -> None:
    if len(result.per_vm) != vms or result.values[Metric.CPU] != LOAD_PERCENT:
        raise SystemExit(f"the sample read {len(result.per_vm)} of {vms} VMs: {result.values}")


async def measure(settings: Settings, vms: int, regions: int, repeats: int) -> dict[str, float]:
    client = await Client.connect(settings.temporal_address, data_converter=pydantic_data_converter)
    store = Store.from_settings(settings)
    store.create_namespace(NamespaceRecord(name="bench"))
    request = plan(settings, vms, regions)
    handle = await client.start_workflow(
        McisWorkflow.run,
        McisWorkflowInput(namespace="bench", request=request),
        id=mcis_workflow_id("bench", request.name),
        task_queue=settings.task_queue,
    )
    view = await until(handle, lambda v: v.phase != "creating")
    if view.status != "Running":
        raise SystemExit(f"create ended {view.display}")
    load = {"tags": {TAG_MCIS: request.name}, "cpu_percent": LOAD_PERCENT}
    url = f"{settings.localcloud_url}/admin/simulated-load"
    httpx.put(url, json=load, trust_env=False).raise_for_status()
    base = settings.localcloud_url
    region_wide = local_drivers(base)
    one_by_one = {name: OneVmAtATime(name, base) for name in region_wide}
    walls = []
    for _ in range(repeats):
        wall, result = await sample(client, store, settings, region_wide)
        check(result, vms)
        walls.append(wall)
    baseline, result = await sample(client, store, settings, one_by_one)
    check(result, vms)
    await handle.execute_update(McisWorkflow.delete, False)
    await handle.result()
    return {
        "sample_p50_s": statistics.median(walls),
        "sample_max_s": max(walls),
        "baseline_one_vm_a_call_s": baseline,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--vms", type=int, default=1000)
    parser.add_argument("--regions", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=5, help="region-wide samples (median)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    timings = {"boot_s": 1.0, "terminate_s": 0.5}
    with private_stack(timings) as (settings, _):
        figures = asyncio.run(measure(settings, args.vms, args.regions, args.repeats))
    result = {"vms": args.vms, "regions": args.regions, **figures}
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print(
            f"policy sample of {args.vms} VMs over {args.regions} regions: "
            f"{figures['sample_p50_s']:.2f}s median of {args.repeats} "
            f"(max {figures['sample_max_s']:.2f}s); baseline, one VM a call in the same run: "
            f"{figures['baseline_one_vm_a_call_s']:.2f}s "
            f"({figures['baseline_one_vm_a_call_s'] / figures['sample_p50_s']:.0f}x)"
        )
    sys.stdout.flush()
    os._exit(0)


if __name__ == "__main__":
    main()
