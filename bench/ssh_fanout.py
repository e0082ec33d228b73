"""Benchmark: `uname -a` over SSH on N real VMs of the local cloud through mcis (the remote
workflow), against the same on one VM, and against a plain fabric ThreadingGroup over the same
N VMs in the same run (the baseline). Twice: with connections kept between runs (mcis's worker
default, and a fabric group reused), then with a new connection for every command (the worker
restarted with MCIS_SSH_KEEP_S=0, a new fabric group per run). Needs root (real VMs).

    python -m bench.ssh_fanout --vms 50
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import time
import uuid
from pathlib import Path

from fabric import ThreadingGroup
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter

from bench.create_mcis import plan
from bench.private_stack import private_stack
from localcloud.netns.choose import missing_requirements
from models.naming import mcis_workflow_id
from models.operations import McisWorkflowInput
from models.records import NamespaceRecord, ResourceKind
from models.remote import RemoteWorkflowInput, TargetQuery
from settings import Settings
from starter.stack import Stack
from store.repository import Store
from workflows.mcis import McisWorkflow
from workflows.remote import RemoteWorkflow

COMMAND = "uname -a"


async def through_mcis(client: Client, settings: Settings, vm: str | None) -> float:
    query = TargetQuery(namespace="bench", mcis="bench", vm=vm)
    started = time.monotonic()
    results = await client.execute_workflow(
        RemoteWorkflow.run,
        RemoteWorkflowInput(query=query, command=COMMAND),
        id=f"remote/bench/{uuid.uuid4().hex[:8]}",
        task_queue=settings.task_queue,
    )
    wall = time.monotonic() - started
    if not results or any(r.exit_code != 0 for r in results):
        raise SystemExit(f"mcis run failed: {results[:2]}")
    return wall


def through_fabric(group: ThreadingGroup) -> float:
    started = time.monotonic()
    results = group.run(COMMAND, hide=True, timeout=60)
    wall = time.monotonic() - started
    if len(results) != len(group) or any(r.exited != 0 for r in results.values()):
        raise SystemExit("fabric baseline failed")
    return wall


def fabric_group(hosts: list[str], key_files: list[str]) -> ThreadingGroup:
    return ThreadingGroup(
        *hosts, user="root", connect_kwargs={"key_filename": key_files, "look_for_keys": False}
    )


def fabric_cold(hosts: list[str], key_files: list[str]) -> float:
    """A new group, so new connections, for the run."""
    group = fabric_group(hosts, key_files)
    try:
        return through_fabric(group)
    finally:
        group.close()


def fabric_warm(hosts: list[str], key_files: list[str], repeats: int) -> list[float]:
    """One group for every run: fabric keeps its connections open between runs."""
    group = fabric_group(hosts, key_files)
    try:
        through_fabric(group)
        return [through_fabric(group) for _ in range(repeats)]
    finally:
        group.close()


async def mcis_runs(
    client: Client, settings: Settings, one: str, repeats: int
) -> tuple[float, float]:
    """Medians of `repeats` runs on every VM and on VM `one`, after a warm-up run of each; the
    two alternate, so both meet the machine in the same state."""
    await through_mcis(client, settings, None)
    await through_mcis(client, settings, one)
    all_vms, one_vm = [], []
    for _ in range(repeats):
        all_vms.append(await through_mcis(client, settings, None))
        one_vm.append(await through_mcis(client, settings, one))
    return statistics.median(all_vms), statistics.median(one_vm)


def restart_worker(settings: Settings, keep_s: float) -> None:
    stack = Stack(settings)
    stack.stop_component("worker")
    os.environ["MCIS_SSH_KEEP_S"] = str(keep_s)
    stack.start_component("worker")


async def measure(settings: Settings, vms: int, repeats: int, key_dir: Path) -> dict[str, float]:
    client = await Client.connect(settings.temporal_address, data_converter=pydantic_data_converter)
    store = Store.from_settings(settings)
    store.create_namespace(NamespaceRecord(name="bench"))
    request = plan(settings, vms, regions=3).model_copy(update={"name": "bench"})
    handle = await client.start_workflow(
        McisWorkflow.run,
        McisWorkflowInput(namespace="bench", request=request),
        id=mcis_workflow_id("bench", "bench"),
        task_queue=settings.task_queue,
    )
    while (view := await handle.query(McisWorkflow.status)).phase == "creating":
        await asyncio.sleep(0.2)
    if view.status != "Running":
        raise SystemExit(f"MCIS ended {view.display}")
    hosts = [vm.public_ip or "" for vm in view.vms]
    keys = {vm.ssh_key for vm in store.list_vms("bench", "bench")}
    key_files = []
    for name in sorted(keys):
        key = store.get_resource("bench", ResourceKind.SSH_KEY, name)
        path = key_dir / name
        path.write_text(store.get_secret(key.secret_ref or "") if key else "")
        path.chmod(0o600)
        key_files.append(str(path))
    one = view.vms[0].id
    warm_all, warm_one = await mcis_runs(client, settings, one, repeats)
    restart_worker(settings, keep_s=0)  # every command on a new connection
    cold_all, cold_one = await mcis_runs(client, settings, one, repeats)
    return {
        "all_vms_s": warm_all,
        "one_vm_s": warm_one,
        "fabric_baseline_s": statistics.median(fabric_warm(hosts, key_files, repeats)),
        "cold_all_vms_s": cold_all,
        "cold_one_vm_s": cold_one,
        "cold_fabric_baseline_s": statistics.median(
            [fabric_cold(hosts, key_files) for _ in range(repeats)]
        ),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--vms", type=int, default=50)
    parser.add_argument("--repeats", type=int, default=9)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    missing = missing_requirements()
    if missing is not None:
        raise SystemExit(f"real VMs are not possible here: {missing}")
    with private_stack(backend="netns", time_scale=0.05) as (settings, home):
        figures = asyncio.run(measure(settings, args.vms, args.repeats, home))
    result = {
        "vms": args.vms,
        **figures,
        "all_over_one": figures["all_vms_s"] / figures["one_vm_s"],
        "mcis_over_baseline": figures["all_vms_s"] / figures["fabric_baseline_s"],
        "cold_all_over_one": figures["cold_all_vms_s"] / figures["cold_one_vm_s"],
        "cold_mcis_over_baseline": figures["cold_all_vms_s"] / figures["cold_fabric_baseline_s"],
    }
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print(f"uname -a on {args.vms} real VMs (medians of {args.repeats} runs)")
        for label, prefix in (("connections kept", ""), ("new connections", "cold_")):
            print(
                f"{label}: mcis {figures[prefix + 'all_vms_s']:.3f}s, one VM "
                f"{figures[prefix + 'one_vm_s']:.3f}s ({result[prefix + 'all_over_one']:.2f}x; "
                f"target <= 3x), fabric ThreadingGroup baseline "
                f"{figures[prefix + 'fabric_baseline_s']:.3f}s "
                f"({result[prefix + 'mcis_over_baseline']:.2f}x; target <= 1.2x)"
            )
    sys.stdout.flush()
    os._exit(0)


if __name__ == "__main__":
    main()
