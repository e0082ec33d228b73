"""Reliability in numbers: chaos against a private embedded stack, with the invariants that
make mcis worth choosing checked after every run: exactly the VMs asked for at the cloud, no
duplicate (two live cloud VMs for one MCIS VM name or one client token), no orphan (a live cloud
VM of the MCIS that its records do not list), nothing leaked (a VM of the MCIS still alive at
the cloud once `mcis delete` ended it, or its workflow still running), the final status exact,
and every run of the MCIS workflow (it continues-as-new after each operation) replaying on this
code without nondeterminism.

Scenarios (each run uses a fresh MCIS, deleted at its end):
- worker-create: kill -9 the worker at random moments during a create (`mcis create` waiting
  in the background, as a user runs it), restarting it each time;
- worker-lifecycle: the same during a suspend and then a resume of a created MCIS;
- server-create: kill -9 the Temporal dev server (on its db file) and the local cloud process
  during a create (`--no-wait`), then restart both;
- cloud-faults: 20 % API errors, 5 % boot failures, 10 % throttling (429) and one region at its
  quota during a create with the `refine` partial-failure policy: every VM ends Running or
  listed as failed with its error, and the cloud holds no VM that is not listed;
- scale-cycle: an MCIS of a few VMs, cycles of `mcis scale-out --count 1` then `mcis scale-in
  --count 1` (group after group), the worker killed at random steps; the cloud is checked after
  every step, every VM is Running at the end;
- terminate-fault: the cloud refuses 30 % of terminates (a permanent error) during a scale-in of
  every group, a scale-out and the delete, and every terminate in one region during that
  delete: scale-ins that lost their terminate exit non-zero and keep their VM recorded Failed
  with the reason, the scale-out still works, the delete fails with the reason and keeps the
  MCIS, and delete again (refusals still on, then off) leaves nothing at the cloud;
- permanent-error: the cloud refuses every create in one group's region during a scale-out: the
  command exits non-zero, the new VMs are Failed with the cloud's reason, the MCIS goes on and
  takes the next operations (refine, a scale-out there once the cloud allows it again).

`python -m bench.chaos [--quick] [--runs N] [--vms N] [--seed S] [--scenario S] [--json]`
prints a table (recovery median, p90 and longest per scenario; figures of each scenario under
it) and exits 1 if any run found a duplicate, an orphan, a leak or an inexact final state.
`--quick` runs each scenario once at small size (the form tests/reliability runs in CI).
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import os
import random
import signal
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from temporalio.client import (
    WorkflowExecutionStatus,
    WorkflowHandle,
    WorkflowHistory,
    WorkflowQueryFailedError,
)
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.service import RPCError
from temporalio.worker import Replayer

from bench.private_stack import private_stack
from bench.stack_cli import StackCli
from models.lifecycle import OperationKind, OperationRecord, OperationState
from models.mcis import McisView, VmView
from models.naming import mcis_workflow_id
from models.records import McisPhase
from models.status import VmStatus
from settings import Settings
from starter.context import Context
from starter.stack import Stack
from workflows.mcis import McisWorkflow
from workflows.registry import ALL_WORKFLOWS, workflow_runner

SCENARIOS = (
    "worker-create",
    "worker-lifecycle",
    "server-create",
    "cloud-faults",
    "scale-cycle",
    "terminate-fault",
    "permanent-error",
)
PROVIDERS = ("aws", "gcp", "azure")
GONE = ("terminated", "Deleted")  # native states of a VM that no longer exists
QUERY_TIMEOUT = timedelta(seconds=2)
TIME_SCALE = 0.02  # every phase not set by a scenario is short
SHORT_BOOT_S = 1.0  # boots of the operation scenarios (their chaos is not in the boot)
DONE_TIMEOUT_S = 600.0
COMMAND_TIMEOUT_S = 900.0
TASK_TIMEOUT_S = 10.0  # the workflow task timeout a kill may have to wait out
TERMINATE_REFUSAL_RATE = 0.3
REFUSED = "OperationNotPermitted"  # the error code of the cloud's injected refusals
DELETE_TRIES = 3  # terminate-fault: deletes before giving up (the last with refusals off)


class BrokenWorkflow(Exception):
    """The MCIS workflow answers its status query with a failure (e.g. nondeterminism)."""


@dataclass(frozen=True)
class Size:
    vms: int  # VMs of worker-create, worker-lifecycle, server-create and cloud-faults
    kills: int  # worker kills per operation
    boot_s: float  # how long a VM boots (a create's window for chaos)
    transition_s: float  # how long a suspend or resume takes at the cloud
    few: int  # VMs of scale-cycle and permanent-error (twice as many in terminate-fault)
    cycles: int  # scale-out/scale-in cycles of scale-cycle
    cycle_kills: int  # worker kills over all of them


FULL = Size(vms=50, kills=5, boot_s=20.0, transition_s=12.0, few=6, cycles=20, cycle_kills=5)
QUICK = Size(vms=12, kills=2, boot_s=6.0, transition_s=4.0, few=3, cycles=2, cycle_kills=2)


@dataclass
class Outcome:
    """What one run of one scenario left behind."""

    scenario: str
    run: int
    expected: int  # VMs expected at the cloud before the final delete
    at_cloud: int = 0
    duplicates: int = 0
    orphans: int = 0
    leaked: int = 0  # alive at the cloud after the MCIS was deleted
    exact: bool = False
    kills: int = 0
    recoveries: list[float] = field(default_factory=list)  # seconds, kill to answering again
    wall_s: float = 0.0
    durations: dict[str, list[float]] = field(default_factory=dict)  # seconds per CLI verb
    notes: Counter[str] = field(default_factory=Counter)  # figures printed under the table
    problems: list[str] = field(default_factory=list)

    @property
    def recovery_s(self) -> float:
        """The longest recovery of the run."""
        return max(self.recoveries, default=0.0)

    @property
    def clean(self) -> bool:
        return self.duplicates == 0 and self.orphans == 0 and self.leaked == 0 and self.exact


@dataclass
class Inventory:
    """An MCIS as the cloud and the store see it."""

    live: list[dict[str, Any]]  # cloud VMs with the MCIS's tags that still exist
    listed: set[str]  # csp ids its records name

    @property
    def duplicates(self) -> int:
        """Live cloud VMs beyond the first for one MCIS VM name, or for one client token."""
        by_name = Counter(vm["tags"].get("mcis-vm") for vm in self.live)
        by_token = Counter(vm.get("client_token") or vm["id"] for vm in self.live)
        return max(sum(n - 1 for n in c.values()) for c in (by_name, by_token))

    @property
    def unlisted(self) -> list[str]:
        return sorted(vm["id"] for vm in self.live if vm["id"] not in self.listed)


def error_code(error: str | None) -> str:
    """The cloud error code that starts a VM's error ("QuotaExceeded: ..."), else its start."""
    text = (error or "").removeprefix("terminate failed: ").removeprefix("create failed: ")
    return text.split(":")[0][:40] or "no error"


def last_operation(view: McisView, kind: OperationKind) -> OperationRecord | None:
    return next((op for op in reversed(view.operations) if op.kind is kind), None)


class Chaos:
    """One private stack, the scenarios run against it, and their invariants."""

    def __init__(
        self,
        settings: Settings,
        size: Size,
        rng: random.Random,
        say: Callable[[str], None],
        artifacts: Path,
    ) -> None:
        self.settings = settings
        self.artifacts = artifacts
        self.size = size
        self.rng = rng
        self.say = say
        self.stack = Stack(settings)
        self.cli = StackCli(settings, dict(os.environ), self.stack)
        self.context = Context(settings)  # the CLI's: its store and Temporal client
        self.store = self.context.store
        self._groups: list[str] = []

    async def close(self) -> None:
        await self.context.aclose()

    # the user's side

    async def timed(self, outcome: Outcome, *args: str) -> tuple[int, str]:
        """`mcis ARGS`, its duration kept under its verb."""
        started = time.monotonic()
        answer = await self.mcis(*args)
        outcome.durations.setdefault(args[0], []).append(time.monotonic() - started)
        return answer

    async def mcis(self, *args: str) -> tuple[int, str]:
        """`mcis ARGS` in a subprocess: (exit code, stderr)."""
        child = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "starter",
            *args,
            env=self.cli.env,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
        )
        try:
            _, err = await asyncio.wait_for(child.communicate(), COMMAND_TIMEOUT_S)
        except TimeoutError:
            child.kill()
            return 124, f"mcis {' '.join(args)}: no answer in {COMMAND_TIMEOUT_S:.0f} s"
        return child.returncode or 0, err.decode().strip()

    async def operation(
        self, outcome: Outcome, namespace: str, name: str, verb: str, *args: str
    ) -> int:
        """`mcis VERB NS NAME ARGS`; its exit code, counted in the notes."""
        code, err = await self.timed(outcome, verb, namespace, name, *args)
        outcome.notes["operations"] += 1
        last = err.splitlines()[-1] if err and code else ""
        self.say(
            f"  mcis {verb} {' '.join(args)}: exit {code} in {outcome.durations[verb][-1]:.1f} s"
            + (f" ({last})" if last else "")
        )
        if code != 0:
            outcome.notes[f"{verb} exited non-zero"] += 1
        return code

    async def create(self, outcome: Outcome, namespace: str, name: str, count: int) -> bool:
        """`mcis create` of `count` VMs over three clouds; False (a problem noted) if it fails."""
        code, err = await self.timed(outcome, "create", namespace, name, *self.groups(count))
        if code != 0:
            outcome.problems.append(f"mcis create exited {code}: {err}")
        return code == 0

    async def status(self, namespace: str, name: str) -> McisView | None:
        """The MCIS workflow's status query, or None while no worker answers it."""
        handle = await self.handle(namespace, name)
        try:
            return await handle.query(McisWorkflow.status, rpc_timeout=QUERY_TIMEOUT)
        except RPCError:
            return None
        except WorkflowQueryFailedError as exc:
            raise BrokenWorkflow(f"{namespace}/{name}: status query failed: {exc}") from None

    async def view(self, namespace: str, name: str) -> McisView:
        """The status, waiting for a worker to answer."""
        deadline = time.monotonic() + DONE_TIMEOUT_S
        while (view := await self.status(namespace, name)) is None:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{namespace}/{name} never answered its status query")
            await asyncio.sleep(0.2)
        return view

    async def handle(
        self, namespace: str, name: str, run_id: str | None = None
    ) -> WorkflowHandle[McisWorkflow, McisView]:
        client = await self.context.client()
        workflow_id = mcis_workflow_id(namespace, name)
        return client.get_workflow_handle_for(McisWorkflow.run, workflow_id, run_id=run_id)

    async def running(self, namespace: str, name: str) -> bool:
        description = await (await self.handle(namespace, name)).describe()
        return description.status == WorkflowExecutionStatus.RUNNING

    async def histories(self, namespace: str, name: str) -> list[WorkflowHistory]:
        """Every run of the MCIS workflow, the first first: it continues-as-new after each
        operation, each run naming the one it continues."""
        histories: list[WorkflowHistory] = []
        run_id: str | None = None
        while True:
            history = await (await self.handle(namespace, name, run_id)).fetch_history()
            histories.append(history)
            started = history.events[0].workflow_execution_started_event_attributes
            run_id = started.continued_execution_run_id
            if not run_id:
                return histories[::-1]

    def save_history(self, namespace: str, name: str, history: WorkflowHistory) -> Path:
        """A run's history as JSON (replayable with temporalio's Replayer)."""
        self.artifacts.mkdir(parents=True, exist_ok=True)
        path = self.artifacts / f"{namespace}-{name}-{history.run_id}-history.json"
        path.write_text(history.to_json())
        return path

    def groups(self, count: int) -> list[str]:
        """`--group` arguments spreading `count` VMs over three clouds (each its first region)."""
        if not self._groups:
            for provider in PROVIDERS:
                spec = self.cli.json("catalog", "specs", "--provider", provider)[0]
                region = spec["region"]
                image = self.cli.json(
                    "catalog", "images", "--provider", provider, "--region", region
                )
                self._groups.append(f"{spec['id']},{image[0]['id']}")
        counts = [count // len(PROVIDERS)] * len(PROVIDERS)
        counts[0] += count - sum(counts)
        return [
            a for g, n in zip(self._groups, counts, strict=True) for a in ("--group", f"{g},{n}")
        ]

    async def group_places(self, namespace: str, name: str) -> dict[str, tuple[str, str]]:
        """The MCIS's groups, each with its (provider, region)."""
        view = await self.view(namespace, name)
        return {vm.group: (vm.provider, vm.region) for vm in sorted(view.vms, key=lambda v: v.id)}

    def timings(self, **phases: float | None) -> None:
        self.cli.cloud_put("/admin/timings", {"flavor": "*", **phases})

    def refuse(self, action: str, rate: float, provider: str = "*", region: str = "*") -> None:
        """The cloud answers `rate` of `action` requests there with a permanent error (dice
        seeded from the session's seed); rate 0 lifts it."""
        body = {
            "action": action,
            "flavor": provider,
            "region": region,
            "rate": rate,
            "code": REFUSED,
            "seed": self.rng.randrange(2**31),
        }
        self.cli.cloud_put("/admin/refusals", body)

    def refused(self) -> int:
        """Requests the cloud refused so far (it counts them)."""
        return int(self.cli.cloud("/admin/stats")["requests"]["refused"])

    # chaos

    async def recovered(self, namespace: str, name: str, since: float) -> float:
        """Seconds from `since` (a kill) until the MCIS answers its status query again."""
        await self.view(namespace, name)
        return time.monotonic() - since

    async def kill_worker(self, outcome: Outcome, namespace: str, name: str) -> None:
        """Kill -9 the worker, start it again, and time until the MCIS answers again."""
        since = time.monotonic()
        await asyncio.to_thread(self.stack.kill_component, "worker", signal.SIGKILL)
        outcome.kills += 1
        await asyncio.sleep(self.rng.uniform(0.1, 1.0))
        await asyncio.to_thread(self.stack.start_component, "worker")
        recovery = await self.recovered(namespace, name, since)
        outcome.recoveries.append(recovery)
        self.say(f"  worker kill {outcome.kills}: answering again after {recovery:.1f} s")

    async def kill_workers(
        self, outcome: Outcome, namespace: str, name: str, done: Callable[[], Awaitable[bool]]
    ) -> None:
        """Kill the worker at `size.kills` random moments while `done()` is false."""
        for _ in range(self.size.kills):
            await asyncio.sleep(self.rng.uniform(0.2, 2.0))
            if await done():
                return
            await self.kill_worker(outcome, namespace, name)

    async def kill_servers(self, outcome: Outcome, namespace: str, name: str) -> None:
        """Kill -9 the Temporal dev server and the local cloud, then start both again."""
        since = time.monotonic()
        for component in ("temporal", "localcloud"):
            await asyncio.to_thread(self.stack.kill_component, component, signal.SIGKILL)
        outcome.kills += 2
        await asyncio.sleep(self.rng.uniform(0.5, 2.0))
        for component in ("temporal", "localcloud"):
            await asyncio.to_thread(self.stack.start_component, component)
        recovery = await self.recovered(namespace, name, since)
        outcome.recoveries.append(recovery)
        self.say(f"  server kill: answering again after {recovery:.1f} s")

    # invariants

    def created(self, namespace: str, name: str) -> bool:
        record = self.store.get_mcis(namespace, name)
        return record is not None and record.phase is not McisPhase.CREATING

    async def wait_created(self, namespace: str, name: str) -> None:
        deadline = time.monotonic() + DONE_TIMEOUT_S
        while not self.created(namespace, name):
            if time.monotonic() > deadline:
                raise TimeoutError(f"{namespace}/{name} still creating")
            await asyncio.sleep(0.3)

    def inventory(self, namespace: str, name: str) -> Inventory:
        cloud = self.cli.cloud(f"/admin/vms?tag:mcis-namespace={namespace}&tag:mcis-name={name}")
        live = [vm for vm in cloud if vm["native_status"] not in GONE]
        listed = {vm.csp_id for vm in self.store.list_vms(namespace, name) if vm.csp_id}
        return Inventory(live, listed)

    def check(self, outcome: Outcome, namespace: str, name: str, counted: bool = True) -> Inventory:
        """Count duplicates and unlisted VMs at the cloud (and the VMs there, when `counted`);
        the records must hold exactly the cloud's VMs, each in the cloud's state."""
        inventory = self.inventory(namespace, name)
        if counted:
            outcome.at_cloud = len(inventory.live)
        outcome.duplicates = max(outcome.duplicates, inventory.duplicates)
        outcome.orphans = max(outcome.orphans, len(inventory.unlisted))
        if inventory.duplicates:
            outcome.problems.append(f"{inventory.duplicates} duplicate VMs at the cloud")
        if inventory.unlisted:
            outcome.problems.append(f"unlisted at the cloud: {', '.join(inventory.unlisted)}")
        native = {vm["id"]: vm["native_status"] for vm in inventory.live}
        records = self.store.list_vms(namespace, name)
        stale = [
            vm.name
            for vm in records
            if vm.csp_id in native and vm.native_status != native[vm.csp_id]
        ]
        if stale:
            outcome.problems.append(f"records differ from the cloud: {', '.join(stale)}")
        vanished = [
            vm.name
            for vm in records
            if vm.csp_id and vm.csp_id not in native and vm.status is not VmStatus.TERMINATED
        ]
        if vanished:
            outcome.problems.append(f"recorded but not at the cloud: {', '.join(vanished)}")
        return inventory

    async def expect_counts(
        self, outcome: Outcome, namespace: str, name: str, counts: dict[str, int]
    ) -> bool:
        view = await self.status(namespace, name)
        seen = None if view is None else {s.value: n for s, n in view.counts.items()}
        if seen != counts:
            outcome.problems.append(f"status counts {seen}, expected {counts}")
            return False
        return True

    async def expect_kept(
        self, outcome: Outcome, namespace: str, name: str, code: int, err: str
    ) -> None:
        """After a delete that could not terminate every VM: it exited non-zero with the
        reason, the MCIS workflow still runs, the delete is recorded failed, and each VM the
        cloud still holds is listed Failed with why its terminate failed."""
        outcome.notes["deletes that kept the MCIS"] += 1
        if code == 0:
            outcome.problems.append("mcis delete exited 0 with VMs it could not terminate")
        elif "could not be terminated" not in err:
            outcome.problems.append(f"mcis delete failed without the reason: {err}")
        if not await self.running(namespace, name):
            outcome.problems.append("the MCIS workflow ended although VMs are left")
            return
        view = await self.view(namespace, name)
        delete = last_operation(view, OperationKind.DELETE)
        if delete is None or delete.state is not OperationState.FAILED or not delete.message:
            outcome.problems.append(f"the failed delete is recorded as {delete}")
        self.expect_terminate_failures(outcome, view)
        self.check(outcome, namespace, name, counted=False)

    def expect_terminate_failures(self, outcome: Outcome, view: McisView) -> list[VmView]:
        """Every Failed VM must say its terminate failed, with the cloud's reason."""
        failed = [vm for vm in view.vms if vm.status is VmStatus.FAILED]
        unexplained = [
            vm.id
            for vm in failed
            if not (vm.error or "").startswith("terminate failed")
            or REFUSED not in (vm.error or "")
        ]
        if unexplained:
            outcome.problems.append(f"Failed without the terminate's reason: {unexplained}")
        return failed

    async def finish(self, outcome: Outcome, namespace: str, name: str) -> None:
        """Delete the MCIS unless its scenario did; its workflow must have ended and nothing of
        it may be left alive at the cloud (leaked)."""
        if await self.running(namespace, name):
            code, err = await self.timed(outcome, "delete", namespace, name)
            if code != 0:
                outcome.exact = False
                outcome.problems.append(f"delete failed: {err}")
        if await self.running(namespace, name):
            outcome.exact = False
            outcome.problems.append("the MCIS workflow still runs after its delete")
        left = self.inventory(namespace, name).live
        if left:
            outcome.leaked += len(left)
            outcome.problems.append(f"left after delete: {', '.join(vm['id'] for vm in left)}")

    async def replay(self, outcome: Outcome, namespace: str, name: str) -> None:
        """Every run of the MCIS workflow must replay on this code without nondeterminism (a
        worker restarted mid-run replays it; one that cannot is stuck)."""
        histories = await self.histories(namespace, name)
        replayer = Replayer(
            workflows=ALL_WORKFLOWS,
            workflow_runner=workflow_runner(),
            data_converter=pydantic_data_converter,
        )
        outcome.notes["histories replayed"] += len(histories)
        for history in histories:
            result = await replayer.replay_workflow(history, raise_on_replay_failure=False)
            if result.replay_failure is not None:
                outcome.exact = False
                saved = self.save_history(namespace, name, history)
                outcome.problems.append(
                    f"replay failed: {result.replay_failure}; history in {saved}"
                )

    # scenarios

    async def worker_create(self, outcome: Outcome, namespace: str, name: str) -> None:
        self.timings(boot_s=self.size.boot_s)
        create = asyncio.create_task(self.create(outcome, namespace, name, outcome.expected))
        await self.wait_started(namespace, name)

        async def done() -> bool:
            return create.done() or self.created(namespace, name)

        await self.kill_workers(outcome, namespace, name, done)
        created = await create
        self.check(outcome, namespace, name)
        counts_ok = await self.expect_counts(
            outcome, namespace, name, {"Running": outcome.expected}
        )
        outcome.exact = created and counts_ok and not outcome.problems

    async def worker_lifecycle(self, outcome: Outcome, namespace: str, name: str) -> None:
        self.timings(boot_s=0.5)
        if not await self.create(outcome, namespace, name, outcome.expected):
            return
        self.timings(stop_s=self.size.transition_s, start_s=self.size.transition_s)
        exact = True
        for action, status in (("suspend", "Suspended"), ("resume", "Running")):
            command = asyncio.create_task(self.operation(outcome, namespace, name, action))
            await self.kill_workers(outcome, namespace, name, self.finished(command))
            code = await command
            if code != 0:
                outcome.problems.append(f"mcis {action} exited {code}")
            self.check(outcome, namespace, name)
            counts_ok = await self.expect_counts(
                outcome, namespace, name, {status: outcome.expected}
            )
            exact = exact and code == 0 and counts_ok
        outcome.exact = exact and not outcome.problems

    async def server_create(self, outcome: Outcome, namespace: str, name: str) -> None:
        self.timings(boot_s=self.size.boot_s / 2)
        groups = self.groups(outcome.expected)
        code, err = await self.mcis("create", namespace, name, *groups, "--no-wait")
        if code != 0:
            outcome.problems.append(f"mcis create --no-wait exited {code}: {err}")
            return
        await asyncio.sleep(self.rng.uniform(0.2, 2.0))
        await self.kill_servers(outcome, namespace, name)
        await self.wait_created(namespace, name)
        self.check(outcome, namespace, name)
        counts_ok = await self.expect_counts(
            outcome, namespace, name, {"Running": outcome.expected}
        )
        outcome.exact = counts_ok and not outcome.problems

    async def cloud_faults(self, outcome: Outcome, namespace: str, name: str) -> None:
        self.timings(boot_s=1.0)
        rates = {
            "api_error_rate": 0.2,
            "boot_failure_rate": 0.05,
            "throttle_rate": 0.1,
            "retry_after_s": 0.5,
        }
        groups = self.groups(outcome.expected)
        # the second cloud's region holds half its group: the rest is refused for quota
        quota_provider, quota_region, _ = groups[3].split(",")[0].split("+", 2)
        quota = outcome.expected // len(PROVIDERS) // 2
        self.cli.cloud_put("/admin/faults", {"flavor": "*", "region": "*", **rates})
        self.cli.cloud_put(
            "/admin/faults",
            {"flavor": quota_provider, "region": quota_region, "quota": quota, **rates},
        )
        try:
            code, err = await self.mcis(
                "create", namespace, name, *groups, "--on-partial-failure", "refine"
            )
        finally:
            self.cli.cloud_delete("/admin/faults")
        inventory = self.check(outcome, namespace, name)
        view = await self.status(namespace, name)
        if view is None:
            outcome.problems.append(f"no status after the create (exit {code}: {err})")
            return
        running = [vm for vm in view.vms if vm.status is VmStatus.RUNNING]
        failed = [vm for vm in view.vms if vm.status is not VmStatus.RUNNING]
        unexplained = [vm.id for vm in failed if not vm.error]
        if unexplained:
            outcome.problems.append(f"failed without an error: {', '.join(unexplained)}")
        if len(running) + len(failed) != outcome.expected:
            outcome.problems.append(f"{len(running)} running + {len(failed)} failed listed")
        if sorted(vm.id for vm in failed) != sorted(view.failed_vms):
            outcome.problems.append("failed VMs and the status's failed list differ")
        live_running = [vm for vm in inventory.live if vm["id"] in {v.csp_id for v in running}]
        if len(live_running) != len(running):
            outcome.problems.append(f"{len(running)} Running listed, {len(live_running)} at cloud")
        over_quota = outcome.expected // len(PROVIDERS) - quota
        outcome.notes["VMs over the quota"] += over_quota
        outcome.notes["Running"] += len(running)
        outcome.notes.update(f"not Running: {error_code(vm.error)}" for vm in failed)
        self.say(f"  {len(running)} Running, {len(failed)} failed, exit {code}")
        outcome.exact = not outcome.problems

    async def scale_cycle(self, outcome: Outcome, namespace: str, name: str) -> None:
        """`size.cycles` cycles of scale-out 1 then scale-in 1 through the CLI (one group a
        cycle, in turn), the worker killed during `size.cycle_kills` random steps; the cloud
        checked after every step."""
        self.timings(boot_s=SHORT_BOOT_S)
        if not await self.create(outcome, namespace, name, outcome.expected):
            return
        groups = sorted(await self.group_places(namespace, name))
        steps = [
            (verb, groups[cycle % len(groups)])
            for cycle in range(self.size.cycles)
            for verb in ("scale-out", "scale-in")
        ]
        kill_at = set(self.rng.sample(range(len(steps)), min(self.size.cycle_kills, len(steps))))
        for step, (verb, group) in enumerate(steps):
            command = asyncio.create_task(
                self.operation(outcome, namespace, name, verb, "--group", group, "--count", "1")
            )
            if step in kill_at:
                await asyncio.sleep(self.rng.uniform(0.2, 2.0))
                await self.kill_worker(outcome, namespace, name)
            code = await command
            if code != 0:
                outcome.problems.append(f"step {step + 1}: mcis {verb} --group {group} exited")
            self.check(outcome, namespace, name)
        counts_ok = await self.expect_counts(
            outcome, namespace, name, {"Running": outcome.expected}
        )
        outcome.exact = counts_ok and not outcome.problems

    async def terminate_fault(self, outcome: Outcome, namespace: str, name: str) -> None:
        """Terminates refused at TERMINATE_REFUSAL_RATE during a scale-in of every group, a
        scale-out and the delete (and all of them in one region during the first delete)."""
        self.timings(boot_s=SHORT_BOOT_S)
        count = outcome.expected
        if not await self.create(outcome, namespace, name, count):
            return
        places = await self.group_places(namespace, name)
        refused_before = self.refused()
        self.refuse("terminate", TERMINATE_REFUSAL_RATE)
        kept = 0
        for group in sorted(places):
            code = await self.operation(
                outcome, namespace, name, "scale-in", "--group", group, "--count", "1"
            )
            view = await self.view(namespace, name)
            refused = [
                vm.id for vm in view.vms if vm.group == group and vm.status is VmStatus.FAILED
            ]
            kept += len(refused)
            if (code == 0) == bool(refused):
                outcome.problems.append(f"scale-in of {group} exited {code}, Failed: {refused}")
        # the MCIS stays operable: a scale-out works while terminates fail
        first = sorted(places)[0]
        if await self.operation(
            outcome, namespace, name, "scale-out", "--group", first, "--count", "1"
        ):
            outcome.problems.append("a scale-out after failed terminates exited non-zero")
        running = count - len(places) + 1
        outcome.expected = running + kept  # the VMs whose terminate was refused stay
        outcome.notes["terminates refused in scale-ins"] += kept
        self.check(outcome, namespace, name)
        view = await self.view(namespace, name)
        failed = self.expect_terminate_failures(outcome, view)
        counts = {"Running": running, **({"Failed": len(failed)} if failed else {})}
        counts_ok = await self.expect_counts(outcome, namespace, name, counts)
        # the delete: every terminate in one region refused as well, so it keeps the MCIS;
        # then delete again with that lifted (30 % still refused), the last try without any
        provider, region = places[first]
        self.refuse("terminate", 1.0, provider, region)
        for attempt in range(1, DELETE_TRIES + 1):
            if attempt == 2:
                self.refuse("terminate", 0.0, provider, region)
            if attempt == DELETE_TRIES:
                self.cli.cloud_delete("/admin/faults")
            code, err = await self.timed(outcome, "delete", namespace, name)
            outcome.notes["deletes"] += 1
            if code == 0:
                break
            await self.expect_kept(outcome, namespace, name, code, err)
        if outcome.notes["deletes that kept the MCIS"] == 0:
            outcome.problems.append("the delete with a region refusing terminates did not fail")
        outcome.notes["terminates refused"] += self.refused() - refused_before
        outcome.exact = code == 0 and counts_ok and not outcome.problems

    async def permanent_error(self, outcome: Outcome, namespace: str, name: str) -> None:
        """Every create in one group's region refused (a permanent error) during a scale-out
        of that group: it fails with the cloud's reason and the MCIS takes the next
        operations."""
        self.timings(boot_s=SHORT_BOOT_S)
        count = outcome.expected - 1  # one more VM comes with the last scale-out
        if not await self.create(outcome, namespace, name, count):
            return
        places = await self.group_places(namespace, name)
        group = sorted(places)[-1]
        self.refuse("create", 1.0, *places[group])
        try:
            code = await self.operation(
                outcome, namespace, name, "scale-out", "--group", group, "--count", "2"
            )
        finally:
            self.cli.cloud_delete("/admin/faults")
        if code == 0:
            outcome.problems.append("a scale-out whose creates were all refused exited 0")
        view = await self.view(namespace, name)
        record = last_operation(view, OperationKind.SCALE_OUT)
        failed = [vm for vm in view.vms if vm.status is VmStatus.FAILED]
        outcome.notes[f"refused scale-out recorded {record.state.value if record else None}"] += 1
        outcome.notes.update(f"Failed VM: {error_code(vm.error)}" for vm in failed)
        if len(failed) != 2 or any(REFUSED not in (vm.error or "") for vm in failed):
            outcome.problems.append(f"not 2 VMs Failed with the cloud's reason: {failed}")
        if not await self.running(namespace, name):
            outcome.problems.append("the MCIS workflow ended with the failed operation")
            return
        self.check(outcome, namespace, name)
        for args in (("refine",), ("scale-out", "--group", group, "--count", "1")):
            if await self.operation(outcome, namespace, name, *args):
                outcome.problems.append(f"mcis {' '.join(args)} after the failure exited non-zero")
        self.check(outcome, namespace, name)
        counts_ok = await self.expect_counts(
            outcome, namespace, name, {"Running": outcome.expected}
        )
        outcome.exact = counts_ok and not outcome.problems

    async def wait_started(self, namespace: str, name: str) -> None:
        deadline = time.monotonic() + DONE_TIMEOUT_S
        while self.store.get_mcis(namespace, name) is None:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{namespace}/{name} never started")
            await asyncio.sleep(0.1)

    @staticmethod
    def finished(task: asyncio.Task[Any]) -> Callable[[], Awaitable[bool]]:
        async def done() -> bool:
            return task.done()

        return done

    def expected(self, scenario: str) -> int:
        """VMs a scenario's MCIS is to hold at the cloud before its delete (terminate-fault
        creates this many and computes it again from what the cloud refused)."""
        few = self.size.few
        return {"scale-cycle": few, "terminate-fault": 2 * few, "permanent-error": few + 1}.get(
            scenario, self.size.vms
        )

    async def run(self, scenario: str, run: int) -> Outcome:
        namespace, name = scenario, f"run-{run}"
        if run == 1:
            await self.mcis("ns", "create", namespace)
        outcome = Outcome(scenario=scenario, run=run, expected=self.expected(scenario))
        body = {
            "worker-create": self.worker_create,
            "worker-lifecycle": self.worker_lifecycle,
            "server-create": self.server_create,
            "cloud-faults": self.cloud_faults,
            "scale-cycle": self.scale_cycle,
            "terminate-fault": self.terminate_fault,
            "permanent-error": self.permanent_error,
        }[scenario]
        started = time.monotonic()
        try:
            await body(outcome, namespace, name)
        except (TimeoutError, AssertionError) as exc:
            outcome.problems.append(str(exc))
        except BrokenWorkflow as exc:
            outcome.problems.append(f"{exc}; histories in {self.artifacts}")
            for history in await self.histories(namespace, name):
                self.save_history(namespace, name, history)
            return outcome  # it cannot be deleted: left for inspection
        finally:
            self.timings(boot_s=None, stop_s=None, start_s=None)
            self.cli.cloud_delete("/admin/faults")
            outcome.wall_s = time.monotonic() - started
        await self.finish(outcome, namespace, name)
        await self.replay(outcome, namespace, name)
        return outcome


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (0-100) of `values`, interpolated between the nearest ranks."""
    ordered = sorted(values)
    if len(ordered) == 1:
        return ordered[0]
    return statistics.quantiles(ordered, n=100, method="inclusive")[round(q) - 1]


def recovery_figures(recoveries: list[float]) -> tuple[str, str, str]:
    """Median, p90 and longest recovery as shown; "-" each without any kill."""
    if not recoveries:
        return "-", "-", "-"
    median, p90 = statistics.median(recoveries), percentile(recoveries, 90)
    return f"{median:.1f} s", f"{p90:.1f} s", f"{max(recoveries):.1f} s"


def duration_figures(durations: list[float]) -> str:
    return (
        f"{len(durations)} in {statistics.median(durations):.1f} s at the median, "
        f"{percentile(durations, 90):.1f} s at p90, {max(durations):.1f} s the longest"
    )


def span(values: list[int]) -> str:
    low, high = min(values), max(values)
    return str(low) if low == high else f"{low}-{high}"


def table(outcomes: list[Outcome]) -> str:
    """One row per scenario: runs, VMs expected and at the cloud (min-max over runs),
    duplicates, orphans and leaked VMs (summed), runs whose final state was exact, kills and
    recovery (median, p90, longest); then the recovery over every kill and each scenario's
    own figures (summed over its runs)."""
    header = (
        "scenario",
        "runs",
        "VMs expected",
        "VMs at cloud",
        "duplicates",
        "orphans",
        "leaked",
        "exact",
        "kills",
        "recovery median",
        "recovery p90",
        "longest recovery",
    )
    rows = [header]
    figures: list[str] = []
    for scenario in SCENARIOS:
        mine = [o for o in outcomes if o.scenario == scenario]
        if not mine:
            continue
        rows.append(
            (
                scenario,
                str(len(mine)),
                span([o.expected for o in mine]),
                span([o.at_cloud for o in mine]),
                str(sum(o.duplicates for o in mine)),
                str(sum(o.orphans for o in mine)),
                str(sum(o.leaked for o in mine)),
                f"{sum(o.exact for o in mine)}/{len(mine)}",
                str(sum(o.kills for o in mine)),
                *recovery_figures([r for o in mine for r in o.recoveries]),
            )
        )
        notes: Counter[str] = sum((o.notes for o in mine), Counter())
        figures.append(f"{scenario}: " + ", ".join(f"{k} {n}" for k, n in sorted(notes.items())))
        for verb in sorted({verb for o in mine for verb in o.durations}):
            durations = [d for o in mine for d in o.durations.get(verb, [])]
            figures.append(f"  mcis {verb}: {duration_figures(durations)}")
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) for row in rows]
    recoveries = [r for o in outcomes for r in o.recoveries]
    if recoveries:
        median, p90, longest = recovery_figures(recoveries)
        slow = sum(r > TASK_TIMEOUT_S for r in recoveries)
        lines.append(
            f"recovery over all {len(recoveries)} kills: median {median}, p90 {p90}, "
            f"longest {longest}; {slow} over {TASK_TIMEOUT_S:.0f} s (a workflow task timeout)"
        )
    return "\n".join(lines + figures)


@dataclass(frozen=True)
class Plan:
    """What a chaos session runs: each scenario `runs` times at `size`."""

    size: Size
    runs: int
    scenarios: tuple[str, ...]
    seed: int
    artifacts: Path  # where histories of broken workflows go


async def run_chaos(settings: Settings, plan: Plan, say: Callable[[str], None]) -> list[Outcome]:
    chaos = Chaos(settings, plan.size, random.Random(plan.seed), say, plan.artifacts)
    outcomes = []
    try:
        for run in range(1, plan.runs + 1):
            for scenario in plan.scenarios:
                say(f"{scenario} run {run}/{plan.runs}: {chaos.expected(scenario)} VMs")
                outcome = await chaos.run(scenario, run)
                verdict = "clean" if outcome.clean else "; ".join(outcome.problems) or "inexact"
                say(f"  {outcome.wall_s:.1f} s, {outcome.at_cloud} at cloud: {verdict}")
                outcomes.append(outcome)
    finally:
        await chaos.close()
    return outcomes


def chaos_in_private_stack(plan: Plan, say: Callable[[str], None]) -> list[Outcome]:
    with private_stack(time_scale=TIME_SCALE) as (settings, _home):
        return asyncio.run(run_chaos(settings, plan, say))


def main() -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.chaos", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--quick", action="store_true", help="each scenario once, small")
    parser.add_argument("--runs", type=int, default=None, help="runs of each scenario")
    parser.add_argument("--vms", type=int, default=None, help="VMs per MCIS (the first four)")
    parser.add_argument("--scenario", action="append", choices=SCENARIOS, help="repeatable")
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--json", action="store_true", help="every run's outcome as JSON")
    parser.add_argument(
        "--artifacts", type=Path, default=None, help="where histories of broken workflows go"
    )
    args = parser.parse_args()
    size = QUICK if args.quick else FULL
    if args.vms is not None:
        if args.vms < len(PROVIDERS):
            parser.error(f"--vms must be at least {len(PROVIDERS)}")
        size = dataclasses.replace(size, vms=args.vms)
    runs = args.runs if args.runs is not None else 1 if args.quick else 10
    if runs < 1:
        parser.error("--runs must be 1 or more")
    seed = args.seed if args.seed is not None else random.randrange(1_000_000)
    scenarios = tuple(args.scenario or SCENARIOS)

    def say(line: str) -> None:
        print(line, file=sys.stderr, flush=True)

    say(f"chaos: seed {seed}, {runs} run(s) of {', '.join(scenarios)}, {size}")
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # the private stack still stops
    artifacts = args.artifacts or Path(tempfile.gettempdir()) / f"mcis-chaos-{seed}"
    started = time.monotonic()
    outcomes = chaos_in_private_stack(Plan(size, runs, scenarios, seed, artifacts), say)
    if args.json:
        print(json.dumps([asdict(o) | {"clean": o.clean} for o in outcomes], indent=2))
    else:
        print(table(outcomes))
        print(f"seed {seed}, {time.monotonic() - started:.0f} s")
    return 0 if all(o.clean for o in outcomes) else 1


if __name__ == "__main__":
    sys.exit(main())
