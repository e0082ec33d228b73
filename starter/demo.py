"""`make demo`: the seed's scenario on the embedded default, narrated. Start the stack, create a
global MCIS (three clouds, three regions, 6 VMs), deploy nginx on every VM and print the URLs,
register the auto-control policy (average CPU >= 80 % over 3 samples -> scale out +1 with nginx;
<= 60 % -> scale in -1, floor 6), then run the seed's load cycle twice: load the VMs and watch the
scale-out, stop the load and watch the scale-in, again. Every VM must be Running after each
step. Clean up with `mcis delete` (which also ends the policy) and check that the cloud holds no
VM of the demo and no workflow of it runs (`--keep` leaves everything running to explore in the
Temporal UI). Where the machine cannot run real VMs it says so and the load is simulated.

`--fast` is the end-to-end test's pace (tests/e2e/test_demo.py runs `scenario` on its own stack):
the policy samples every second and the local cloud runs 50 times faster."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
from temporalio.client import Client

from models.policy import seed_demo_policy
from settings import Settings, load_settings
from starter.stack import Stack, ui_url

NAMESPACE = "demo"
MCIS = "global-web"
GROUPS = (
    "aws+ap-northeast-2+t3.small,aws+ap-northeast-2+ubuntu-jammy-22.04-amd64-server,2",
    "gcp+europe-west1+e2-small,gcp+europe-west1+ubuntu-2204-lts,2",
    "azure+eastus+Standard_B1ms,azure+eastus+Ubuntu2204,2",
)
FLOOR = 6
CYCLES = 2
GONE_NATIVE = ("terminated", "Deleted")  # native states of a VM the cloud no longer runs


@dataclass(frozen=True)
class Pace:
    """How often the policy samples and acts, and how the demo waits for it."""

    time_scale: float  # the local cloud's, when the environment does not set one
    sample_interval_s: float
    evaluation_period: int  # samples averaged by a condition
    cooldown_s: float
    poll_s: float  # how often the demo looks at the policy
    wait_s: float  # how long it waits for one decision


NORMAL = Pace(
    time_scale=0.1, sample_interval_s=5, evaluation_period=3, cooldown_s=10, poll_s=2, wait_s=300
)
FAST = Pace(
    time_scale=0.02, sample_interval_s=1, evaluation_period=2, cooldown_s=5, poll_s=0.5, wait_s=120
)


@dataclass
class Step:
    """What one step of the load cycle ended with."""

    name: str
    decision: str  # the policy's action kind, e.g. ScaleOut
    outcome: str
    display: str  # the MCIS's status line after it
    counts: dict[str, int]

    @property
    def all_running(self) -> bool:
        return list(self.counts) == ["Running"]


@dataclass
class Report:
    """What the demo saw: each step, the policy's end, and what was left after the clean-up."""

    backend: str = ""
    steps: list[Step] = field(default_factory=list)
    policy_ended: str | None = None
    left_at_cloud: list[str] = field(default_factory=list)  # live VMs of the namespace
    running_workflows: list[str] = field(default_factory=list)  # of the namespace
    seconds: float = 0.0

    def kinds(self) -> list[str]:
        return [s.decision for s in self.steps]

    def summary(self) -> str:
        outs, ins = self.kinds().count("ScaleOut"), self.kinds().count("ScaleIn")
        running = all(s.all_running for s in self.steps)
        return (
            f"demo report: {outs} scale-outs, {ins} scale-ins, every VM Running after each step: "
            f"{'yes' if running else 'no'}; policy ended: {self.policy_ended or 'no'}; "
            f"VMs left at the cloud: {len(self.left_at_cloud)}; "
            f"workflows running: {len(self.running_workflows)}"
        )


class DemoError(SystemExit):
    """A step of the demo failed; the message says which."""


def step(text: str) -> None:
    print(f"\n=== {text}", flush=True)


@dataclass
class Cli:
    """The `mcis` CLI with the stack's environment, shown (`run`) or quiet (`quietly`)."""

    env: dict[str, str]

    def _argv(self, args: tuple[str, ...]) -> list[str]:
        return [sys.executable, "-m", "starter", *args]

    def run(self, *args: str) -> None:
        print(f"$ mcis {' '.join(args)}", flush=True)
        code = subprocess.run(self._argv(args), env=self.env).returncode
        if code != 0:
            raise DemoError(f"demo: `mcis {' '.join(args)}` failed with exit code {code}")

    def quietly(self, *args: str) -> tuple[bool, Any]:
        """Run an mcis command without showing it: (succeeded, its --json output or None)."""
        done = subprocess.run(
            self._argv((*args, "--json")), env=self.env, capture_output=True, text=True
        )
        try:
            return done.returncode == 0, json.loads(done.stdout) if done.stdout.strip() else None
        except json.JSONDecodeError:
            return done.returncode == 0, None


def wait_for(what: str, check: Callable[[], str | None], pace: Pace) -> None:
    """Poll `check` (a progress line, or None when done) and show each new line."""
    deadline, last = time.monotonic() + pace.wait_s, ""
    while time.monotonic() < deadline:
        line = check()
        if line is None:
            return
        if line != last:
            print(f"    {line}", flush=True)
            last = line
        time.sleep(pace.poll_s)
    raise DemoError(f"demo: {what} did not happen within {pace.wait_s:.0f}s")


def finished_decisions(cli: Cli) -> tuple[list[dict[str, Any]], str]:
    """The policy's decisions that have an outcome, and a progress line."""
    ok, view = cli.quietly("policy", "status", NAMESPACE, MCIS)
    if not ok or view is None:
        return [], "policy: waiting"
    cpu = view["samples"].get("cpu", [])
    done = [d for d in view["decisions"] if d["outcome"]]
    return done, f"policy {view['state']}, CPU samples {[round(c) for c in cpu]}"


def await_decision(cli: Cli, name: str, decided: int, pace: Pace, report: Report) -> None:
    """Wait for the policy's decision number `decided + 1` to finish; record it in `report` with
    the MCIS's status after it."""
    found: list[dict[str, Any]] = []

    def check() -> str | None:
        done, line = finished_decisions(cli)
        if len(done) > decided:
            found.append(done[decided])
            return None
        return line

    wait_for(name, check, pace)
    decision = found[0]
    kind, outcome = decision["action"]["kind"], decision["outcome"]
    print(f"    decided: {decision['condition']} -> {kind}: {outcome}", flush=True)
    ok, status = cli.quietly("status", NAMESPACE, MCIS)
    if not ok or status is None:
        raise DemoError(f"demo: no status of {NAMESPACE}/{MCIS} after the {name}")
    report.steps.append(Step(name, kind, outcome, status["display"], dict(status["counts"])))
    cli.run("status", NAMESPACE, MCIS)


def live_vms_at_cloud(settings: Settings, namespace: str) -> list[str]:
    """The live VMs the local cloud holds for an mcis namespace."""
    url = f"{settings.localcloud_url}/admin/vms"
    answer = httpx.get(url, params={"tag:mcis-namespace": namespace}, timeout=30, trust_env=False)
    answer.raise_for_status()
    return [vm["id"] for vm in answer.json() if vm["native_status"] not in GONE_NATIVE]


async def _running_workflows(settings: Settings, namespace: str) -> list[str]:
    client = await Client.connect(settings.temporal_address, namespace=settings.temporal_namespace)
    return [
        w.id
        async for w in client.list_workflows('ExecutionStatus="Running"')
        if f"/{namespace}/" in w.id
    ]


def workflows_running(settings: Settings, namespace: str) -> list[str]:
    """Ids of the running Temporal workflows of an mcis namespace (mcis/, policy/, ...)."""
    return asyncio.run(_running_workflows(settings, namespace))


def policy_file(pace: Pace, real_vms: bool) -> str:
    """The seed's policy at `pace`; on phantom VMs without the nginx deploy (no SSH there)."""
    policy = seed_demo_policy("g1", FLOOR).model_copy(
        update={
            "sample_interval_s": pace.sample_interval_s,
            "cooldown_s": pace.cooldown_s,
            "max_vms": FLOOR + 2,
        }
    )
    for rule in policy.rules:
        rule.condition.evaluation_period = pace.evaluation_period
        if not real_vms:
            rule.action.deploy = None
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as file:
        file.write(policy.model_dump_json())
    return file.name


def scenario(env: dict[str, str], pace: Pace = NORMAL, keep: bool = False) -> Report:
    """The demo on the stack `env` describes (started if it is not running, stopped again after
    the clean-up then): what it saw, for the caller to check."""
    settings = load_settings(env)
    stack = Stack(settings)
    cli = Cli(env)
    report = Report()
    was_running = all(c.running for c in stack.status().components)
    started = time.monotonic()

    step("1. Start the stack: Temporal dev server (+UI), the local cloud, a worker")
    cli.run("stack", "up")
    report.backend = stack.status().localcloud_backend or "unknown"
    if report.backend != "netns":
        print("    This machine cannot run real VMs (root, iproute2 and sshd are needed): VMs are")
        print("    records only, SSH steps are skipped and the CPU load is simulated.")
    step(
        "2. A namespace and a global MCIS: 6 VMs over aws (Seoul), gcp (Belgium), azure (Virginia)"
    )
    if cli.quietly("status", NAMESPACE, MCIS)[0]:
        cli.run("delete", NAMESPACE, MCIS)  # left over from an earlier --keep (ends its policy)
    cli.quietly("ns", "create", NAMESPACE)
    group_args = [a for g in GROUPS for a in ("--group", g)]
    cli.run(
        "create", NAMESPACE, MCIS, *group_args, "--description", "the seed's global web service"
    )
    if report.backend == "netns":
        step("3. nginx on every VM")
        cli.run("deploy", "nginx", NAMESPACE, MCIS)
    step(
        f"4. The auto-control policy: CPU >= 80% over {pace.evaluation_period} samples -> +1 VM "
        f"({'with nginx' if report.backend == 'netns' else 'phantom: no nginx'}); <= 60% -> -1"
    )
    path = policy_file(pace, real_vms=report.backend == "netns")
    try:
        cli.run("policy", "create", NAMESPACE, MCIS, "-f", path)
    finally:
        os.unlink(path)
    for cycle in range(1, CYCLES + 1):
        step(f"5.{cycle} Load the VMs to 90% CPU; the policy scales out (cycle {cycle}/{CYCLES})")
        cli.run("load", NAMESPACE, MCIS, "--cpu", "90", "--duration", "600")
        await_decision(cli, f"scale-out {cycle}", len(report.steps), pace, report)
        step(f"6.{cycle} Stop the load; the policy scales back in to the floor of {FLOOR}")
        cli.run("load", NAMESPACE, MCIS, "--stop")
        await_decision(cli, f"scale-in {cycle}", len(report.steps), pace, report)
    print(
        f"\nTemporal UI: {ui_url(settings)}  (workflows mcis/{NAMESPACE}/{MCIS} and "
        f"policy/{NAMESPACE}/{MCIS})"
    )
    if keep:
        step(
            f"Kept running. Explore, then: mcis delete {NAMESPACE} {MCIS}; "
            f"mcis ns delete {NAMESPACE}; mcis stack down"
        )
        return report
    step("7. Clean up: the MCIS (VMs, shared vNet/SG/key, its policy), the namespace")
    cli.run("delete", NAMESPACE, MCIS)
    ok, view = cli.quietly("policy", "status", NAMESPACE, MCIS)
    report.policy_ended = view.get("ended") if ok and view else None
    print(f"    policy: {report.policy_ended or 'still running'}", flush=True)
    cli.run("ns", "delete", NAMESPACE)
    report.left_at_cloud = live_vms_at_cloud(settings, NAMESPACE)
    report.running_workflows = workflows_running(settings, NAMESPACE)
    if not was_running:
        cli.run("stack", "down")
    report.seconds = time.monotonic() - started
    print(f"\n{report.summary()}", flush=True)
    print(f"demo finished in {report.seconds:.1f}s", flush=True)
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", action="store_true", help="leave the stack and MCIS running")
    parser.add_argument(
        "--fast", action="store_true", help="the tests' pace: 1 s samples, a 50x faster cloud"
    )
    args = parser.parse_args()
    pace = FAST if args.fast else NORMAL
    env = dict(os.environ)
    env.setdefault("MCIS_LOCALCLOUD_TIME_SCALE", str(pace.time_scale))
    report = scenario(env, pace, keep=args.keep)
    if not args.keep:
        expected = ["ScaleOut", "ScaleIn"] * CYCLES
        if (
            report.kinds() != expected
            or not all(s.all_running for s in report.steps)
            or report.left_at_cloud
            or report.running_workflows
        ):
            raise DemoError(f"demo: not what the seed promises: {report.summary()}")


if __name__ == "__main__":
    main()
