"""`make demo`: the seed's scenario on the embedded default, narrated. Starts the stack, creates
a global MCIS over three clouds, shows its status and what the cloud holds, then deletes it and
stops what it started (`--keep` leaves everything running to explore in the Temporal UI)."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time

from settings import load_settings
from starter.stack import Stack, ui_url

DEMO_NAMESPACE = "demo"
DEMO_MCIS = "global-web"
GROUPS = (
    "aws+ap-northeast-2+t3.small,aws+ap-northeast-2+ubuntu-jammy-22.04-amd64-server,2",
    "gcp+europe-west1+e2-small,gcp+europe-west1+ubuntu-2204-lts,2",
    "azure+eastus+Standard_B1ms,azure+eastus+Ubuntu2204,2",
)


def step(text: str) -> None:
    print(f"\n=== {text}", flush=True)


def mcis(*args: str) -> None:
    print(f"$ mcis {' '.join(args)}", flush=True)
    code = subprocess.run([sys.executable, "-m", "starter", *args]).returncode
    if code != 0:
        raise SystemExit(f"demo: `mcis {' '.join(args)}` failed with exit code {code}")


def quietly(*args: str) -> bool:
    """Run an mcis command without showing it; True if it succeeded."""
    done = subprocess.run([sys.executable, "-m", "starter", *args], capture_output=True)
    return done.returncode == 0


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
    step("2. The catalog: specs and prices of six cloud flavors (cheapest 2-vCPU ones)")
    mcis("catalog", "specs", "--min-vcpus", "2", "--max-vcpus", "2", "--max-price", "0.02")
    step("3. A namespace, then a global MCIS of 6 VMs over aws, gcp and azure")
    if quietly("status", DEMO_NAMESPACE, DEMO_MCIS):
        mcis("delete", DEMO_NAMESPACE, DEMO_MCIS)  # left over from an earlier --keep
    if not quietly("ns", "create", DEMO_NAMESPACE):
        print(f"(namespace {DEMO_NAMESPACE} exists)")
    group_args = [a for g in GROUPS for a in ("--group", g)]
    mcis("create", DEMO_NAMESPACE, DEMO_MCIS, *group_args, "--description", "seed demo")
    step("4. What the local cloud really holds (native states per cloud)")
    mcis("localcloud", "vms", "--tag", f"mcis-name={DEMO_MCIS}")
    print(f"\nTemporal UI: {ui_url(settings)}  (workflow mcis/{DEMO_NAMESPACE}/{DEMO_MCIS})")
    if args.keep:
        step("Kept running. Explore, then: mcis delete demo global-web; mcis stack down")
        return
    step("5. Delete the MCIS: every VM terminated, shared vNet/SG/key released")
    mcis("delete", DEMO_NAMESPACE, DEMO_MCIS)
    mcis("localcloud", "vms", "--tag", f"mcis-name={DEMO_MCIS}")
    mcis("ns", "delete", DEMO_NAMESPACE)
    if not was_running:
        step("6. Stop the stack")
        mcis("stack", "down")
    print(f"\ndemo finished in {time.monotonic() - started:.1f}s", flush=True)


if __name__ == "__main__":
    main()
