"""Reliability in numbers: chaos against a private embedded stack, with the invariants that
make mcis worth choosing checked after every run: exactly the VMs asked for at the cloud, no
duplicate (two cloud VMs for one MCIS VM), no orphan (a live cloud VM of the MCIS that its
records do not list, or anything left at the cloud after `mcis delete`), the final status exact,
and the MCIS workflow's history replaying on this code without nondeterminism.

Scenarios (each run uses a fresh MCIS, deleted at its end):
- worker-create: kill -9 the worker at random moments during a create (`mcis create` waiting
  in the background, as a user runs it), restarting it each time;
- worker-lifecycle: the same during a suspend and then a resume of a created MCIS;
- server-create: kill -9 the Temporal dev server (on its db file) and the local cloud process
  during a create (`--no-wait`), then restart both;
- cloud-faults: 20 % API errors, 5 % boot failures, 10 % throttling (429) and one region at its
  quota during a create with the `refine` partial-failure policy: every VM ends Running or
  listed as failed with its error, and the cloud holds no VM that is not listed.

`python -m bench.chaos [--quick] [--runs N] [--vms N] [--seed S] [--json]` prints a table and
exits 1 if any run found a duplicate, an orphan or an inexact final state. `--quick` runs each
scenario once at small size (the form tests/reliability runs in CI).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import signal
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from temporalio.client import WorkflowHandle, WorkflowQueryFailedError
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.service import RPCError
from temporalio.worker import Replayer

from bench.private_stack import private_stack
from bench.stack_cli import StackCli
from models.mcis import McisView
from models.naming import mcis_workflow_id
from models.records import McisPhase
from settings import Settings
from starter.context import Context
from starter.stack import Stack
from workflows.mcis import McisWorkflow
from workflows.registry import ALL_WORKFLOWS, workflow_runner

SCENARIOS = ("worker-create", "worker-lifecycle", "server-create", "cloud-faults")
PROVIDERS = ("aws", "gcp", "azure")
GONE = ("terminated", "Deleted")  # native states of a VM that no longer exists
QUERY_TIMEOUT = timedelta(seconds=2)
TIME_SCALE = 0.02  # every phase not set by a scenario is short
DONE_TIMEOUT_S = 600.0
COMMAND_TIMEOUT_S = 900.0


class BrokenWorkflow(Exception):
    """The MCIS workflow answers its status query with a failure (e.g. nondeterminism)."""


@dataclass(frozen=True)
class Size:
    vms: int
    kills: int  # worker kills per operation
    boot_s: float  # how long a VM boots (a create's window for chaos)
    transition_s: float  # how long a suspend or resume takes at the cloud


FULL = Size(vms=50, kills=5, boot_s=20.0, transition_s=12.0)
QUICK = Size(vms=12, kills=2, boot_s=6.0, transition_s=4.0)


@dataclass
class Outcome:
    """What one run of one scenario left behind."""

    scenario: str
    run: int
    expected: int
    at_cloud: int = 0
    duplicates: int = 0
    orphans: int = 0
    exact: bool = False
    kills: int = 0
    recovery_s: float = 0.0  # longest, from a kill to the MCIS answering again
    wall_s: float = 0.0
    problems: list[str] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        return self.duplicates == 0 and self.orphans == 0 and self.exact


@dataclass
class Inventory:
    """An MCIS as the cloud and the store see it."""

    live: list[dict[str, Any]]  # cloud VMs with the MCIS's tags that still exist
    listed: set[str]  # csp ids its records name

    @property
    def duplicates(self) -> int:
        per_vm = Counter(vm["tags"].get("mcis-vm") for vm in self.live)
        return sum(n - 1 for n in per_vm.values())

    @property
    def unlisted(self) -> list[str]:
        return sorted(vm["id"] for vm in self.live if vm["id"] not in self.listed)


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

    async def status(self, namespace: str, name: str) -> McisView | None:
        """The MCIS workflow's status query, or None while no worker answers it."""
        handle = await self.handle(namespace, name)
        try:
            return await handle.query(McisWorkflow.status, rpc_timeout=QUERY_TIMEOUT)
        except RPCError:
            return None
        except WorkflowQueryFailedError as exc:
            raise BrokenWorkflow(f"{namespace}/{name}: status query failed: {exc}") from None

    async def handle(self, namespace: str, name: str) -> WorkflowHandle[McisWorkflow, McisView]:
        client = await self.context.client()
        return client.get_workflow_handle_for(McisWorkflow.run, mcis_workflow_id(namespace, name))

    async def save_history(self, namespace: str, name: str) -> Path:
        """The MCIS workflow's history as JSON (replayable with temporalio's Replayer)."""
        history = await (await self.handle(namespace, name)).fetch_history()
        self.artifacts.mkdir(parents=True, exist_ok=True)
        path = self.artifacts / f"{namespace}-{name}-history.json"
        path.write_text(history.to_json())
        return path

    def groups(self) -> list[str]:
        """`--group` arguments spreading the VMs over three clouds (each its first region)."""
        if not self._groups:
            for provider in PROVIDERS:
                spec = self.cli.json("catalog", "specs", "--provider", provider)[0]
                region = spec["region"]
                image = self.cli.json(
                    "catalog", "images", "--provider", provider, "--region", region
                )
                self._groups.append(f"{spec['id']},{image[0]['id']}")
        counts = [self.size.vms // len(PROVIDERS)] * len(PROVIDERS)
        counts[0] += self.size.vms - sum(counts)
        return [
            a for g, n in zip(self._groups, counts, strict=True) for a in ("--group", f"{g},{n}")
        ]

    def timings(self, **phases: float | None) -> None:
        self.cli.cloud_put("/admin/timings", {"flavor": "*", **phases})

    # chaos

    async def recovered(self, namespace: str, name: str, since: float) -> float:
        """Seconds from `since` (a kill) until the MCIS answers its status query again."""
        deadline = time.monotonic() + DONE_TIMEOUT_S
        while await self.status(namespace, name) is None:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{namespace}/{name} never answered again")
            await asyncio.sleep(0.1)
        return time.monotonic() - since

    async def kill_workers(
        self, outcome: Outcome, namespace: str, name: str, done: Callable[[], Awaitable[bool]]
    ) -> None:
        """Kill -9 the worker at `size.kills` random moments while `done()` is false, restarting
        it each time."""
        for _ in range(self.size.kills):
            await asyncio.sleep(self.rng.uniform(0.2, 2.0))
            if await done():
                return
            since = time.monotonic()
            await asyncio.to_thread(self.stack.kill_component, "worker", signal.SIGKILL)
            outcome.kills += 1
            await asyncio.sleep(self.rng.uniform(0.1, 1.0))
            await asyncio.to_thread(self.stack.start_component, "worker")
            recovery = await self.recovered(namespace, name, since)
            outcome.recovery_s = max(outcome.recovery_s, recovery)
            self.say(f"  worker kill {outcome.kills}: answering again after {recovery:.1f} s")

    async def kill_servers(self, outcome: Outcome, namespace: str, name: str) -> None:
        """Kill -9 the Temporal dev server and the local cloud, then start both again."""
        since = time.monotonic()
        for component in ("temporal", "localcloud"):
            await asyncio.to_thread(self.stack.kill_component, component, signal.SIGKILL)
        outcome.kills += 2
        await asyncio.sleep(self.rng.uniform(0.5, 2.0))
        for component in ("temporal", "localcloud"):
            await asyncio.to_thread(self.stack.start_component, component)
        outcome.recovery_s = await self.recovered(namespace, name, since)
        self.say(f"  server kill: answering again after {outcome.recovery_s:.1f} s")

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

    def check(self, outcome: Outcome, namespace: str, name: str) -> Inventory:
        """Count VMs, duplicates and unlisted VMs at the cloud; records must match the cloud's
        state of each VM they list."""
        inventory = self.inventory(namespace, name)
        outcome.at_cloud = len(inventory.live)
        outcome.duplicates = max(outcome.duplicates, inventory.duplicates)
        outcome.orphans = max(outcome.orphans, len(inventory.unlisted))
        if inventory.unlisted:
            outcome.problems.append(f"unlisted at the cloud: {', '.join(inventory.unlisted)}")
        native = {vm["id"]: vm["native_status"] for vm in inventory.live}
        stale = [
            vm.name
            for vm in self.store.list_vms(namespace, name)
            if vm.csp_id in native and vm.native_status != native[vm.csp_id]
        ]
        if stale:
            outcome.problems.append(f"records differ from the cloud: {', '.join(stale)}")
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

    async def delete(self, outcome: Outcome, namespace: str, name: str) -> None:
        """Delete the MCIS; anything of it left alive at the cloud is an orphan."""
        code, err = await self.mcis("delete", namespace, name)
        if code != 0:
            outcome.problems.append(f"delete failed: {err}")
        left = self.inventory(namespace, name).live
        if left:
            outcome.orphans += len(left)
            outcome.problems.append(f"left after delete: {', '.join(vm['id'] for vm in left)}")

    # scenarios

    async def worker_create(self, outcome: Outcome, namespace: str, name: str) -> None:
        self.timings(boot_s=self.size.boot_s)
        create = asyncio.create_task(self.mcis("create", namespace, name, *self.groups()))
        await self.wait_started(namespace, name)

        async def done() -> bool:
            return create.done() or self.created(namespace, name)

        await self.kill_workers(outcome, namespace, name, done)
        code, err = await create
        if code != 0:
            outcome.problems.append(f"mcis create exited {code}: {err}")
        self.check(outcome, namespace, name)
        counts_ok = await self.expect_counts(
            outcome, namespace, name, {"Running": outcome.expected}
        )
        outcome.exact = code == 0 and counts_ok and not outcome.problems

    async def worker_lifecycle(self, outcome: Outcome, namespace: str, name: str) -> None:
        self.timings(boot_s=0.5)
        code, err = await self.mcis("create", namespace, name, *self.groups())
        if code != 0:
            outcome.problems.append(f"mcis create exited {code}: {err}")
            return
        self.timings(stop_s=self.size.transition_s, start_s=self.size.transition_s)
        exact = True
        for action, status in (("suspend", "Suspended"), ("resume", "Running")):
            command = asyncio.create_task(self.mcis(action, namespace, name))
            await self.kill_workers(outcome, namespace, name, self.finished(command))
            code, err = await command
            if code != 0:
                outcome.problems.append(f"mcis {action} exited {code}: {err}")
            self.check(outcome, namespace, name)
            counts_ok = await self.expect_counts(
                outcome, namespace, name, {status: outcome.expected}
            )
            exact = exact and code == 0 and counts_ok
        outcome.exact = exact and not outcome.problems

    async def server_create(self, outcome: Outcome, namespace: str, name: str) -> None:
        self.timings(boot_s=self.size.boot_s / 2)
        code, err = await self.mcis("create", namespace, name, *self.groups(), "--no-wait")
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
        groups = self.groups()
        # the second cloud's region holds half its group: the rest is refused for quota
        quota_provider, quota_region, _ = groups[3].split(",")[0].split("+", 2)
        quota = self.size.vms // len(PROVIDERS) // 2
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
        running = [vm for vm in view.vms if vm.status.value == "Running"]
        failed = [vm for vm in view.vms if vm.status.value != "Running"]
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
        reasons = Counter((vm.error or "")[:60] for vm in failed)
        self.say(
            f"  {len(running)} Running, {len(failed)} failed (quota alone refuses {over_quota})"
            f", exit {code}: " + "; ".join(f"{n} x {reason}" for reason, n in reasons.items())
        )
        outcome.exact = not outcome.problems

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

    async def run(self, scenario: str, run: int) -> Outcome:
        namespace, name = scenario, f"run-{run}"
        if run == 1:
            await self.mcis("ns", "create", namespace)
        outcome = Outcome(scenario=scenario, run=run, expected=self.size.vms)
        body = {
            "worker-create": self.worker_create,
            "worker-lifecycle": self.worker_lifecycle,
            "server-create": self.server_create,
            "cloud-faults": self.cloud_faults,
        }[scenario]
        started = time.monotonic()
        try:
            await body(outcome, namespace, name)
        except (TimeoutError, AssertionError) as exc:
            outcome.problems.append(str(exc))
        except BrokenWorkflow as exc:
            saved = await self.save_history(namespace, name)
            outcome.problems.append(f"{exc}; history in {saved}")
            return outcome  # it cannot be deleted: left for inspection
        finally:
            self.timings(boot_s=None, stop_s=None, start_s=None)
            outcome.wall_s = time.monotonic() - started
        await self.delete(outcome, namespace, name)
        await self.replay(outcome, namespace, name)
        return outcome

    async def replay(self, outcome: Outcome, namespace: str, name: str) -> None:
        """The MCIS workflow's history must replay on this code without nondeterminism (a
        worker restarted mid-run replays it; one that cannot is stuck)."""
        history = await (await self.handle(namespace, name)).fetch_history()
        replayer = Replayer(
            workflows=ALL_WORKFLOWS,
            workflow_runner=workflow_runner(),
            data_converter=pydantic_data_converter,
        )
        result = await replayer.replay_workflow(history, raise_on_replay_failure=False)
        if result.replay_failure is not None:
            outcome.exact = False
            saved = await self.save_history(namespace, name)
            outcome.problems.append(f"replay failed: {result.replay_failure}; history in {saved}")


def table(outcomes: list[Outcome]) -> str:
    """One row per scenario: runs, VMs expected, VMs at the cloud (min-max over runs),
    duplicates and orphans (summed), runs whose final state was exact, longest recovery."""
    header = (
        "scenario",
        "runs",
        "VMs expected",
        "VMs at cloud",
        "duplicates",
        "orphans",
        "exact",
        "kills",
        "longest recovery",
    )
    rows = [header]
    for scenario in SCENARIOS:
        mine = [o for o in outcomes if o.scenario == scenario]
        if not mine:
            continue
        low, high = min(o.at_cloud for o in mine), max(o.at_cloud for o in mine)
        rows.append(
            (
                scenario,
                str(len(mine)),
                str(mine[0].expected),
                str(low) if low == high else f"{low}-{high}",
                str(sum(o.duplicates for o in mine)),
                str(sum(o.orphans for o in mine)),
                f"{sum(o.exact for o in mine)}/{len(mine)}",
                str(sum(o.kills for o in mine)),
                f"{max(o.recovery_s for o in mine):.1f} s",
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    return "\n".join(
        "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) for row in rows
    )


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
                say(f"{scenario} run {run}/{plan.runs}: {plan.size.vms} VMs")
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
    parser.add_argument("--vms", type=int, default=None, help="VMs per MCIS")
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
        size = Size(args.vms, size.kills, size.boot_s, size.transition_s)
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
    outcomes = chaos_in_private_stack(Plan(size, runs, scenarios, seed, artifacts), say)
    if args.json:
        print(json.dumps([asdict(o) | {"clean": o.clean} for o in outcomes], indent=2))
    else:
        print(table(outcomes))
    return 0 if all(o.clean for o in outcomes) else 1


if __name__ == "__main__":
    sys.exit(main())
