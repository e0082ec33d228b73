"""Benchmark: create an MCIS of N VMs over R regions whose VMs take D seconds to boot at the
local cloud, on a private embedded stack. Prints the wall time from the start of the workflow to
every VM Running, and the overhead over the baseline D (the wall time of a perfect orchestrator,
which starts every VM at once and sees it Running the moment it boots).

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

import httpx
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter

from bench.private_stack import private_stack
from models.mcis import GroupRequest, McisRequest
from models.naming import mcis_workflow_id
from models.operations import McisWorkflowInput
from models.records import NamespaceRecord
from settings import Settings
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


async def measure(settings: Settings, request: McisRequest) -> dict[str, float]:
    client = await Client.connect(settings.temporal_address, data_converter=pydantic_data_converter)
    Store.from_settings(settings).create_namespace(NamespaceRecord(name="bench"))
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
    if view.status != "Running":
        raise SystemExit(f"MCIS ended {view.display}")
    started = time.monotonic()
    await handle.execute_update(McisWorkflow.delete, False)
    await handle.result()
    deleted = time.monotonic() - started
    return {"create_wall_s": created, "delete_wall_s": deleted}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--vms", type=int, default=200)
    parser.add_argument("--regions", type=int, default=10)
    parser.add_argument("--boot", type=float, default=5.0, help="D: seconds a VM takes to boot")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    with private_stack({"boot_s": args.boot, "terminate_s": 0.5}) as (settings, _):
        figures = asyncio.run(measure(settings, plan(settings, args.vms, args.regions)))
    result = {
        "vms": args.vms,
        "regions": args.regions,
        "boot_s": args.boot,
        "baseline_s": args.boot,
        **figures,
        "overhead_s": figures["create_wall_s"] - args.boot,
    }
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print(
            f"create {args.vms} VMs over {args.regions} regions, boot D={args.boot:.1f}s: "
            f"wall {result['create_wall_s']:.2f}s, baseline D {args.boot:.2f}s, "
            f"overhead {result['overhead_s']:.2f}s; delete {result['delete_wall_s']:.2f}s"
        )
    sys.stdout.flush()
    os._exit(0)


if __name__ == "__main__":
    main()
