"""Durability: the worker killed with -9 in the middle of a 30-VM create and started again; the
MCIS completes with exactly 30 VMs at the cloud (no duplicate from a retried create)."""

from __future__ import annotations

import signal
import time

import pytest

from tests.e2e.conftest import E2E
from tests.e2e.test_create_delete import groups_for, live

pytestmark = pytest.mark.e2e


def wait_until(check: object, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if callable(check) and check():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def test_worker_killed_mid_create_gives_exactly_30_vms(e2e: E2E) -> None:
    e2e.ok("ns", "create", "crash")
    e2e.cloud_put("/admin/timings", {"flavor": "*", "boot_s": 4.0})
    try:
        group_args = groups_for(e2e, {"aws": 10, "gcp": 10, "azure": 10})
        e2e.ok("create", "crash", "big", *group_args, "--no-wait")
        wait_until(lambda: len(e2e.cloud("/admin/vms?tag:mcis-name=big")) >= 5, 60, "first VMs")
        e2e.stack.kill_component("worker", signal.SIGKILL)
        time.sleep(1.0)
        e2e.stack.start_component("worker")

        def created() -> bool:
            status = e2e.json("status", "crash", "big")
            return bool(status["phase"] != "creating")

        wait_until(created, 180, "creation to end after the restart")
    finally:
        e2e.cloud_put("/admin/timings", {"flavor": "*", "boot_s": None})
    status = e2e.json("status", "crash", "big")
    assert status["status"] == "Running" and status["counts"] == {"Running": 30}
    at_cloud = e2e.cloud_vms(status["uid"])
    assert len(at_cloud) == 30
    assert len({vm["client_token"] for vm in at_cloud}) == 30
    e2e.ok("delete", "crash", "big", timeout=300)
    assert live(e2e.cloud_vms(status["uid"])) == []
