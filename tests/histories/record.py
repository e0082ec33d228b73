"""Record the histories that `tests/workflows/test_replay.py` replays: `python -m
tests.histories.record [--release NAME]` (or `make histories RELEASE=NAME`).

Every scenario runs on a Temporal server of its own with the workflow tests' harness (the
in-memory fake cloud, a store on a temporary SQLite file, the test helpers of
`tests/workflows/`), then writes the history of every run of the workflow type it is about, its
child workflows' and each continued-as-new run's included, to
`tests/histories/<release>/<WorkflowType>-<scenario>[-<n>].json`. A workflow still running at the
end (an MCIS lives for years) is written as it stands. The scenarios run on Temporal's
time-skipping test server, except those that record a continue-as-new: that needs a server that
suggests it, the dev server with a small `limit.historyCount.suggestContinueAsNew`.

The release folder is written in a temporary folder and replaces the old one only when every
scenario passed and no history holds key material (the loopback sshd's private key, or any PEM
private key marker)."""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import shutil
import sys
import tempfile
import time
import tomllib
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from temporalio.api.enums.v1 import EventType, IndexedValueType
from temporalio.api.operatorservice.v1 import AddSearchAttributesRequest
from temporalio.client import (
    Client,
    Interceptor,
    OutboundInterceptor,
    StartWorkflowInput,
    WorkflowFailureError,
    WorkflowHandle,
    WorkflowHistory,
)
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from activities.remote import RemoteActivities, upload_ref
from models.benchmark import BenchAction, BenchmarkWorkflowInput
from models.naming import TAG_MCIS, TAG_NAMESPACE, vm_tags
from models.operations import (
    EnsureSecurityGroupInput,
    EnsureSshKeyInput,
    EnsureVNetInput,
    ResourceRef,
)
from models.policy import Policy, PolicyView, PolicyWorkflowInput, seed_demo_policy
from models.records import McisRecord, ResourceKind
from models.remote import RemoteWorkflowInput, TargetQuery
from models.status import VmStatus
from store.repository import Store
from tests.conftest import venv_binary
from tests.e2e.test_create_delete import decoded_history
from tests.fake_cloud import FakeCloud
from tests.sshd_server import Sshd, start_sshd
from tests.workflows.conftest import Harness
from tests.workflows.mcis_helpers import created, operate, request, start, store_ssh_key
from tests.workflows.test_benchmark import run_benchmark, vm_record
from tests.workflows.test_policy import SimulatedMcis
from tests.workflows.test_remote import remote_worker, run_remote_workflow
from tests.workflows.test_sweep import stray, sweep
from workflows.mcir import ResourceWorkflow, ResourceWorkflowInput, resource_workflow_id
from workflows.mcis import McisWorkflow
from workflows.policy import PolicyWorkflow
from workflows.registry import ALL_WORKFLOWS, workflow_runner
from workflows.remote import RemoteWorkflow
from workflows.search_attributes import ALL_KEYS

HISTORIES = Path(__file__).resolve().parent
PYPROJECT = HISTORIES.parents[1] / "pyproject.toml"
WORKFLOW_IDS = "workflow-ids.json"
"""In each release folder: the workflow id of each history (a workflow may name its children
after it; the id is not part of the history)."""
SUGGEST_CONTINUE_AS_NEW_AT = 40
"""Events after which the dev server of the continue-as-new scenarios suggests it (default
4,096): an MCIS create of one VM passes it, a fresh run does not."""


@dataclass
class Stage:
    """What a scenario runs against: the harness (whose client remembers every workflow it
    starts), the server (for its clock) and the loopback sshd standing in for VMs."""

    harness: Harness
    env: WorkflowEnvironment
    sshd: Sshd


@dataclass(frozen=True)
class Scenario:
    name: str
    workflow_type: str  # the type whose histories are written (others it starts are not)
    run: Callable[[Stage], Awaitable[None]]
    continue_as_new: bool = False  # on the dev server that suggests continue-as-new early


class _Started(Interceptor):
    """A client interceptor that keeps a handle on every workflow started through it."""

    def __init__(self) -> None:
        self.handles: list[WorkflowHandle[Any, Any]] = []

    def intercept_client(self, next: OutboundInterceptor) -> OutboundInterceptor:
        return _StartedOutbound(next, self.handles)


class _StartedOutbound(OutboundInterceptor):
    def __init__(self, next: OutboundInterceptor, handles: list[WorkflowHandle[Any, Any]]) -> None:
        super().__init__(next)
        self._handles = handles

    async def start_workflow(self, input: StartWorkflowInput) -> WorkflowHandle[Any, Any]:
        handle = await super().start_workflow(input)
        self._handles.append(handle)
        return handle


async def continued(handle: WorkflowHandle[Any, Any]) -> bool:
    """Whether the workflow continued as new and its new run completed a task (so an update
    sent now is not handled before `run` has restored the carried state)."""
    history = await handle.fetch_history()
    return history.run_id != handle.first_execution_run_id and any(
        e.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED for e in history.events
    )


# --- McisWorkflow ---------------------------------------------------------------------------


async def mcis_create(stage: Stage) -> None:
    async with stage.harness.worker():
        await created(await start(stage.harness, request("web", {"aws": 1, "gcp": 1})))


async def mcis_create_refine(stage: Stage) -> None:
    harness = stage.harness
    harness.cloud.fail_names = {"ns-ref-g-aws-1"}
    async with harness.worker():
        await created(await start(harness, request("ref", {"aws": 1}, "refine")))


async def mcis_create_rollback(stage: Stage) -> None:
    harness = stage.harness
    harness.cloud.fail_names = {"ns-rb-g-aws-2"}
    async with harness.worker():
        await created(await start(harness, request("rb", {"aws": 2}, "rollback")))


async def mcis_lifecycle(stage: Stage) -> None:
    """Suspend, resume, reboot one group, terminate."""
    async with stage.harness.worker():
        handle = await start(stage.harness, request("life", {"aws": 1, "gcp": 1}))
        await created(handle)
        await operate(handle, kind="suspend")
        await operate(handle, kind="resume")
        await operate(handle, kind="reboot", group="g-gcp")
        await operate(handle, kind="terminate")


async def mcis_refine(stage: Stage) -> None:
    harness = stage.harness
    harness.cloud.fail_names = {"ns-fine-g-aws-2"}
    async with harness.worker():
        handle = await start(harness, request("fine", {"aws": 2}))
        await created(handle)
        await operate(handle, kind="refine")


async def mcis_scale(stage: Stage) -> None:
    """Out, in, out."""
    async with stage.harness.worker():
        handle = await start(stage.harness, request("scale", {"aws": 1}))
        await created(handle)
        await operate(handle, kind="scale-out", group="g-aws", count=2)
        await operate(handle, kind="scale-in", group="g-aws", count=1)
        await operate(handle, kind="scale-out", group="g-aws", count=1)


async def mcis_add_group_remove_vm(stage: Stage) -> None:
    async with stage.harness.worker():
        handle = await start(stage.harness, request("grow", {"aws": 1}))
        await created(handle)
        new_group = {"name": "extra", "spec": "gcp+r1+small", "image": "gcp+r1+ubuntu", "count": 1}
        await operate(handle, kind="add-group", new_group=new_group)
        await operate(handle, kind="remove-vm", vm="extra-1")


async def mcis_reconcile_refresh(stage: Stage) -> None:
    """A VM the cloud holds with the MCIS's tags is adopted, a vanished one reported; then a
    refresh reads every VM from its cloud."""
    harness = stage.harness
    async with harness.worker():
        handle = await start(harness, request("rec", {"aws": 2}))
        view = await created(handle)
        stray(harness, "i-stray", "aws", {TAG_NAMESPACE: "ns", TAG_MCIS: "rec"})
        gone = view.vms[1].csp_id or ""
        del harness.cloud.vms[gone], harness.cloud.phase[gone]
        await operate(handle, kind="reconcile")
        await operate(handle, kind="refresh")


async def mcis_delete(stage: Stage) -> None:
    async with stage.harness.worker():
        handle = await start(stage.harness, request("gone", {"aws": 1, "gcp": 1}))
        await created(handle)
        await handle.execute_update(McisWorkflow.delete, False)
        await handle.result()


async def mcis_continue_as_new(stage: Stage) -> None:
    """Create (the run continues as new once its history is long), suspend in the next run,
    delete. The suspend waits for the next run's first workflow task: an update delivered with
    it is validated before `run` restores the carried state, and refused."""
    async with stage.harness.worker():
        handle = await start(stage.harness, request("long", {"aws": 1}))
        await created(handle)
        while not await continued(handle):
            await asyncio.sleep(0.02)
        await operate(handle, kind="suspend")
        await handle.execute_update(McisWorkflow.delete, False)
        await handle.result()


async def mcis_large(stage: Stage) -> None:
    """600 VMs in one region (release 0.3): created in three batches, left in the store when
    the run continues as new; the next run reads them back in pages and suspends them in three
    batches; delete."""
    async with stage.harness.worker():
        handle = await start(stage.harness, request("large", {"aws": 600}))
        await created(handle, timeout_s=120)
        while not await continued(handle):
            await asyncio.sleep(0.02)
        await operate(handle, kind="suspend")
        await handle.execute_update(McisWorkflow.delete, False)
        await handle.result()


# --- ResourceWorkflow -----------------------------------------------------------------------


async def resources(stage: Stage) -> None:
    """Ensure a vNet, a security group and an SSH key, then delete the key."""
    harness = stage.harness
    place = {"namespace": "ns", "provider": "aws", "region": "r1"}
    inputs = [
        ResourceWorkflowInput(vnet=EnsureVNetInput(**place, name="net1")),
        ResourceWorkflowInput(
            security_group=EnsureSecurityGroupInput(**place, name="sg1", vnet="net1")
        ),
        ResourceWorkflowInput(ssh_key=EnsureSshKeyInput(**place, name="key1")),
        ResourceWorkflowInput(
            delete=ResourceRef(namespace="ns", kind=ResourceKind.SSH_KEY, name="key1")
        ),
    ]
    async with harness.worker():
        await created(await start(harness, request("ns-ready", {"aws": 1})))  # namespace "ns"
        for inp in inputs:
            await harness.client.execute_workflow(
                ResourceWorkflow.run,
                inp,
                id=f"{resource_workflow_id(inp.ref)}/{uuid.uuid4().hex[:6]}",
                task_queue=harness.task_queue,
            )


# --- PolicyWorkflow -------------------------------------------------------------------------


@asynccontextmanager
async def simulated_policy(
    stage: Stage, policy: Policy
) -> AsyncIterator[WorkflowHandle[PolicyWorkflow, PolicyView]]:
    """`policy` started over test_policy's simulated MCIS; paused, resumed and deleted when the
    caller is done."""
    harness, sim = stage.harness, SimulatedMcis()
    async with Worker(
        harness.client,
        task_queue=harness.task_queue,
        workflows=ALL_WORKFLOWS,
        activities=[sim.collect_metrics, sim.run_mcis_operation],
        workflow_runner=workflow_runner(),
    ):
        handle = await harness.client.start_workflow(
            PolicyWorkflow.run,
            PolicyWorkflowInput(namespace="ns", mcis="sim", policy=policy),
            id=f"policy/ns/sim-{uuid.uuid4().hex[:6]}",
            task_queue=harness.task_queue,
        )
        yield handle
        await handle.execute_update(PolicyWorkflow.pause)
        await handle.execute_update(PolicyWorkflow.resume)
        await handle.execute_update(PolicyWorkflow.delete)
        await handle.result()


async def policy_cycle(stage: Stage) -> None:
    """Twelve hourly samples, busy for the first hours, quiet after: a scale-out, then scale-ins."""
    policy = seed_demo_policy("web", floor=2).model_copy(
        update={"sample_interval_s": 3600, "cooldown_s": 4 * 3600, "max_vms": 5}
    )
    async with simulated_policy(stage, policy) as handle:
        await stage.env.sleep(timedelta(hours=12, minutes=30))
        view = await handle.query(PolicyWorkflow.status)
    kinds = [d.action.kind.value for d in view.decisions]
    assert kinds[0] == "ScaleOut" and "ScaleIn" in kinds, kinds


async def policy_continue_as_new(stage: Stage) -> None:
    """Samples until the run continues as new (no action: the MCIS is at its floor and ceiling)."""
    policy = seed_demo_policy("web", floor=3).model_copy(
        update={"sample_interval_s": 0.1, "max_vms": 3}
    )
    async with simulated_policy(stage, policy) as handle:
        while not await continued(handle):
            await asyncio.sleep(0.05)


# --- RemoteWorkflow -------------------------------------------------------------------------


async def remote_command(stage: Stage) -> None:
    store_ssh_key(stage.harness, stage.sshd.private_key)
    inp = RemoteWorkflowInput(
        query=TargetQuery(namespace="ns", mcis="m"), command='echo "$MCIS_VM $MCIS_REGION"'
    )
    results, _ = await run_remote_workflow(stage.harness, stage.sshd, inp, running=(1, 2))
    assert [r.exit_code for r in results] == [0, 0, None], results


async def remote_put(stage: Stage) -> None:
    harness = stage.harness
    store_ssh_key(harness, stage.sshd.private_key)
    ref = upload_ref("t1")
    harness.store.put_secret(ref, base64.b64encode(b"listen 8080\n").decode())
    destination = stage.sshd.home / "put" / "app.conf"
    inp = RemoteWorkflowInput(
        query=TargetQuery(namespace="ns", mcis="m"),
        file_ref=ref,
        destination=str(destination),
        command=f"cat {destination}",
    )
    results, _ = await run_remote_workflow(harness, stage.sshd, inp, running=(1,))
    assert [r.stdout for r in results][:1] == ["listen 8080\n"], results


async def remote_unknown_scope(stage: Stage) -> None:
    harness = stage.harness
    inp = RemoteWorkflowInput(
        query=TargetQuery(namespace="ns", mcis="nowhere", group="web"), command="true"
    )
    async with remote_worker(harness, RemoteActivities(harness.deps)):
        try:
            await harness.client.execute_workflow(
                RemoteWorkflow.run, inp, id=f"remote-{uuid.uuid4()}", task_queue=harness.task_queue
            )
        except WorkflowFailureError:
            return
    raise AssertionError("a command on an unknown group did not fail")


# --- BenchmarkWorkflow ----------------------------------------------------------------------


async def benchmark(stage: Stage) -> None:
    """Two running VMs (the loopback sshd) and a suspended one; a timed, a database, an RTT and
    the VM-to-VM RTT action, each a child remote workflow."""
    harness = stage.harness
    store_ssh_key(harness, stage.sshd.private_key)
    harness.store.create_mcis(McisRecord(namespace="ns", name="m", uid="u1"))
    harness.store.upsert_vms(
        [
            vm_record("web-1", "r1", "small", "127.0.0.1", VmStatus.RUNNING),
            vm_record("web-2", "r1", "small", "127.0.0.2", VmStatus.RUNNING),
            vm_record("db-1", "r2", "big", "127.0.0.3", VmStatus.SUSPENDED),
        ]
    )
    actions = [BenchAction.CPUS, BenchAction.DBW, BenchAction.RTT, BenchAction.MRTT]
    inp = BenchmarkWorkflowInput(namespace="ns", mcis="m", actions=actions, seconds=1, pings=2)
    report, _ = await run_benchmark(harness, stage.sshd, inp)
    assert [r.error for r in report.rows] == [None] * len(report.rows), report.rows


# --- SweepWorkflow --------------------------------------------------------------------------


async def sweep_orphans(stage: Stage) -> None:
    """An orphan, an unrecorded VM of a live MCIS and a vanished one: a report, then a sweep that
    deletes the orphan."""
    harness = stage.harness
    async with harness.worker():
        keep = await created(await start(harness, request("keep", {"aws": 2})))
        stray(harness, "i-ghost", "aws", vm_tags("ns", "ghost", "u-1", "g", "g-1"))
        stray(harness, "i-mine", "aws", vm_tags("ns", "keep", keep.uid, "g-aws", "g-aws-9"))
        harness.cloud.phase[keep.vms[1].csp_id or ""] = "terminated"
        await sweep(harness)
        deleted = await sweep(harness, delete=True)
    assert [(o.csp_id, o.action) for o in deleted.orphans] == [("i-ghost", "terminated")]


SCENARIOS = [
    Scenario("create", "McisWorkflow", mcis_create),
    Scenario("create-refine", "McisWorkflow", mcis_create_refine),
    Scenario("create-rollback", "McisWorkflow", mcis_create_rollback),
    Scenario("lifecycle", "McisWorkflow", mcis_lifecycle),
    Scenario("refine", "McisWorkflow", mcis_refine),
    Scenario("scale", "McisWorkflow", mcis_scale),
    Scenario("add-group-remove-vm", "McisWorkflow", mcis_add_group_remove_vm),
    Scenario("reconcile-refresh", "McisWorkflow", mcis_reconcile_refresh),
    Scenario("delete", "McisWorkflow", mcis_delete),
    Scenario("continue-as-new", "McisWorkflow", mcis_continue_as_new, continue_as_new=True),
    Scenario("large", "McisWorkflow", mcis_large),
    Scenario("ensure-delete", "ResourceWorkflow", resources),
    Scenario("cycle", "PolicyWorkflow", policy_cycle),
    Scenario("continue-as-new", "PolicyWorkflow", policy_continue_as_new, continue_as_new=True),
    Scenario("command", "RemoteWorkflow", remote_command),
    Scenario("put", "RemoteWorkflow", remote_put),
    Scenario("unknown-scope", "RemoteWorkflow", remote_unknown_scope),
    Scenario("actions", "BenchmarkWorkflow", benchmark),
    Scenario("orphans", "SweepWorkflow", sweep_orphans),
]


# --- recording ------------------------------------------------------------------------------


@asynccontextmanager
async def server(continue_as_new: bool) -> AsyncIterator[WorkflowEnvironment]:
    """The time-skipping test server, or the dev server that suggests continue-as-new early;
    either with mcis's search attributes."""
    if continue_as_new:
        env = await WorkflowEnvironment.start_local(
            data_converter=pydantic_data_converter,
            dev_server_existing_path=venv_binary("temporal"),
            search_attributes=ALL_KEYS,
            dev_server_extra_args=[
                "--dynamic-config-value",
                f"limit.historyCount.suggestContinueAsNew={SUGGEST_CONTINUE_AS_NEW_AT}",
            ],
        )
    else:
        env = await WorkflowEnvironment.start_time_skipping(
            test_server_existing_path=venv_binary("temporal-test-server"),
            data_converter=pydantic_data_converter,
        )
        await env.client.operator_service.add_search_attributes(
            AddSearchAttributesRequest(
                namespace=env.client.namespace,
                search_attributes={
                    key.name: IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD for key in ALL_KEYS
                },
            )
        )
    try:
        yield env
    finally:
        await env.shutdown()


def workflow_type(history: WorkflowHistory) -> str:
    return history.events[0].workflow_execution_started_event_attributes.workflow_type.name


async def runs(client: Client, handle: WorkflowHandle[Any, Any]) -> list[WorkflowHistory]:
    """The history of each run of the workflow, from its first through every continue-as-new."""
    histories: list[WorkflowHistory] = []
    run_id = handle.first_execution_run_id or handle.result_run_id
    while run_id:
        history = await client.get_workflow_handle(handle.id, run_id=run_id).fetch_history()
        histories.append(history)
        last = history.events[-1]
        continued = last.workflow_execution_continued_as_new_event_attributes
        run_id = (
            continued.new_execution_run_id
            if last.HasField("workflow_execution_continued_as_new_event_attributes")
            else None
        )
    return histories


async def run_scenario(scenario: Scenario, sshd: Sshd) -> dict[str, WorkflowHistory]:
    """Run one scenario on a server and a store of its own; its histories by file name."""
    started = _Started()
    async with server(scenario.continue_as_new) as env:
        config = env.client.config()
        config["interceptors"] = [started]
        client = Client(**config)
        with tempfile.TemporaryDirectory(prefix="mcis-histories-") as home:
            store = Store(f"sqlite:///{home}/mcis.db", Path(home))
            await scenario.run(Stage(Harness(client, store, FakeCloud()), env, sshd))
            histories = [
                history
                for handle in started.handles
                for history in await runs(client, handle)
                if workflow_type(history) == scenario.workflow_type
            ]
    assert histories, f"{scenario.name}: no {scenario.workflow_type} ran"
    stem = f"{scenario.workflow_type}-{scenario.name}"
    if len(histories) == 1:
        return {f"{stem}.json": histories[0]}
    return {f"{stem}-{n}.json": history for n, history in enumerate(histories, 1)}


def leaks(history: WorkflowHistory, private_key: str) -> list[str]:
    """What key material the history holds, payloads decoded."""
    text = decoded_history(history.to_json())
    needles = [line for line in private_key.strip().splitlines()[1:-1] if len(line) >= 16]
    return [needle for needle in ["PRIVATE KEY", *needles] if needle in text]


async def record(release: str) -> list[Path]:
    """Record every scenario into `tests/histories/<release>/`, replacing what it held."""
    histories: dict[str, WorkflowHistory] = {}
    with tempfile.TemporaryDirectory(prefix="mcis-record-") as tmp:
        sshd = start_sshd(Path(tmp) / "sshd")
        try:
            for scenario in SCENARIOS:
                began = time.monotonic()
                recorded = await run_scenario(scenario, sshd)
                histories.update(recorded)
                print(
                    f"{scenario.workflow_type}-{scenario.name}: {len(recorded)} "
                    f"histor{'y' if len(recorded) == 1 else 'ies'} in "
                    f"{time.monotonic() - began:.1f} s",
                    flush=True,
                )
        finally:
            sshd.stop()
    found = {name: leaks(history, sshd.private_key) for name, history in histories.items()}
    if any(found.values()):
        raise SystemExit(f"key material in histories, nothing written: {found}")
    target = HISTORIES / release
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir()
    for name, history in histories.items():
        (target / name).write_text(history.to_json())
    ids = {name: history.workflow_id for name, history in histories.items()}
    (target / WORKFLOW_IDS).write_text(json.dumps(ids, indent=2) + "\n")
    return [target / name for name in histories]


def default_release() -> str:
    with PYPROJECT.open("rb") as file:
        return str(tomllib.load(file)["project"]["version"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--release",
        default=default_release(),
        help="folder under tests/histories/ to (re)write (default: the pyproject version)",
    )
    args = parser.parse_args()
    began = time.monotonic()
    paths = asyncio.run(record(args.release))
    sizes = [p.stat().st_size for p in paths]
    print(
        f"{len(paths)} histories in tests/histories/{args.release}/: {sum(sizes) / 1024:.0f} KiB "
        f"(largest {max(sizes) / 1024:.0f} KiB) in {time.monotonic() - began:.1f} s"
    )
    sys.stdout.flush()


if __name__ == "__main__":
    main()
