"""`make demo`: the seed's scenario on the embedded default, narrated. Start the stack, create a
global MCIS (three clouds, three regions, 6 VMs), deploy nginx on every VM and print the URLs,
register the auto-control policy (average CPU >= 80 % over 3 samples -> scale out +1 with nginx;
<= 60 % -> scale in -1, floor 6), load the VMs and watch the scale-out, stop the load and watch
the scale-in, then clean up (`--keep` leaves everything running to explore in the Temporal UI).
Where the machine cannot run real VMs it says so and the load is simulated."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from typing import Any

from models.policy import seed_demo_policy
from settings import load_settings
from starter.stack import Stack, ui_url

NAMESPACE = "demo"
MCIS = "global-web"
GROUPS = (
    "aws+ap-northeast-2+t3.small,aws+ap-northeast-2+ubuntu-jammy-22.04-amd64-server,2",
    "gcp+europe-west1+e2-small,gcp+europe-west1+ubuntu-2204-lts,2",
    "azure+eastus+Standard_B1ms,azure+eastus+Ubuntu2204,2",
)
FLOOR = 6
WAIT_S = 300.0


def step(text: str) -> None:
    print(f"\n=== {text}", flush=True)


def mcis(*args: str) -> None:
    print(f"$ mcis {' '.join(args)}", flush=True)
    code = subprocess.run([sys.executable, "-m", "starter", *args]).returncode
    if code != 0:
        raise SystemExit(f"demo: `mcis {' '.join(args)}` failed with exit code {code}")


def quietly(*args: str) -> tuple[bool, Any]:
    """Run an mcis command without showing it: (succeeded, its --json output or None)."""
    done = subprocess.run(
        [sys.executable, "-m", "starter", *args, "--json"], capture_output=True, text=True
    )
    try:
        return done.returncode == 0, json.loads(done.stdout) if done.stdout.strip() else None
    except json.JSONDecodeError:
        return done.returncode == 0, None


def wait_for(what: str, check: Callable[[], str | None]) -> None:
    """Poll `check` (a progress line, or None when done) and show each new line."""
    deadline, last = time.monotonic() + WAIT_S, ""
    while time.monotonic() < deadline:
        line = check()
        if line is None:
            return
        if line != last:
            print(f"    {line}", flush=True)
            last = line
        time.sleep(2)
    raise SystemExit(f"demo: {what} did not happen within {WAIT_S:.0f}s")


def policy_line(decided: int) -> str | None:
    ok, view = quietly("policy", "status", NAMESPACE, MCIS)
    if not ok or view is None:
        return "policy: waiting"
    cpu = view["samples"].get("cpu", [])
    done = [d for d in view["decisions"] if d["outcome"]]
    if len(done) > decided:
        last = done[-1]
        print(f"    decided: {last['condition']} -> {last['action']['kind']}: {last['outcome']}")
        return None
    return f"policy {view['state']}, CPU samples {[round(c) for c in cpu]}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", action="store_true", help="leave the stack and MCIS running")
    args = parser.parse_args()
    os.environ.setdefault("MCIS_LOCALCLOUD_TIME_SCALE", "0.1")
    settings = load_settings()
    stack = Stack(settings)
    was_running = all(c.running for c in stack.status().components)
    started = time.monotonic()

    step("1. Start the stack: Temporal dev server (+UI), the local cloud, a worker")
    mcis("stack", "up")
    backend = stack.status().localcloud_backend
    if backend != "netns":
        print("    This machine cannot run real VMs (root, iproute2 and sshd are needed): VMs are")
        print("    records only, SSH steps are skipped and the CPU load is simulated.")
    step(
        "2. A namespace and a global MCIS: 6 VMs over aws (Seoul), gcp (Belgium), azure (Virginia)"
    )
    if quietly("status", NAMESPACE, MCIS)[0]:
        quietly("policy", "delete", NAMESPACE, MCIS)
        mcis("delete", NAMESPACE, MCIS)  # left over from an earlier --keep
    quietly("ns", "create", NAMESPACE)
    group_args = [a for g in GROUPS for a in ("--group", g)]
    mcis("create", NAMESPACE, MCIS, *group_args, "--description", "the seed's global web service")
    if backend == "netns":
        step("3. nginx on every VM")
        mcis("deploy", "nginx", NAMESPACE, MCIS)
    step(
        "4. The auto-control policy: CPU >= 80% over 3 samples -> +1 VM (with nginx); <= 60% -> -1"
    )
    policy = seed_demo_policy("g1", FLOOR).model_copy(
        update={"sample_interval_s": 5, "cooldown_s": 10, "max_vms": FLOOR + 2}
    )
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as file:
        file.write(policy.model_dump_json())
    mcis("policy", "create", NAMESPACE, MCIS, "-f", file.name)
    os.unlink(file.name)
    step("5. Load the VMs to 90% CPU; the policy scales out")
    mcis("load", NAMESPACE, MCIS, "--cpu", "90", "--duration", "600")
    wait_for("the scale-out", lambda: policy_line(0))
    mcis("status", NAMESPACE, MCIS)
    step("6. Stop the load; the policy scales back in to the floor of 6")
    mcis("load", NAMESPACE, MCIS, "--stop")
    wait_for("the scale-in", lambda: policy_line(1))
    mcis("status", NAMESPACE, MCIS)
    print(
        f"\nTemporal UI: {ui_url(settings)}  (workflows mcis/{NAMESPACE}/{MCIS} and "
        f"policy/{NAMESPACE}/{MCIS})"
    )
    if args.keep:
        step(
            "Kept running. Explore, then: mcis policy delete demo global-web; "
            "mcis delete demo global-web; mcis stack down"
        )
        return
    step("7. Clean up: the policy, the MCIS (VMs and shared vNet/SG/key), the namespace")
    mcis("policy", "delete", NAMESPACE, MCIS)
    mcis("delete", NAMESPACE, MCIS)
    mcis("ns", "delete", NAMESPACE)
    if not was_running:
        mcis("stack", "down")
    print(f"\ndemo finished in {time.monotonic() - started:.1f}s", flush=True)


if __name__ == "__main__":
    main()
