"""Lifecycle end to end through the CLI on the real stack: a 20-VM MCIS over three clouds is
suspended (each cloud's own native state), resumed, rebooted, scaled out and in, terminated and
deleted; a second action in flight is refused; the worker killed mid-suspend recovers exactly;
a boot failure is refined away; reconcile adopts and reports."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import E2E
from tests.e2e.test_create_delete import groups_for, live
from tests.e2e.test_worker_crash import wait_until

pytestmark = pytest.mark.e2e

SUSPENDED_NATIVE = {"aws": {"stopped"}, "gcp": {"TERMINATED"}, "azure": {"deallocated", "stopped"}}


@pytest.fixture(scope="module")
def ns(e2e: E2E) -> str:
    e2e.ok("ns", "create", "life")
    return "life"


def counts(status: dict[str, Any]) -> dict[str, int]:
    return dict(status["counts"])


def test_lifecycle_of_a_20_vm_mcis_over_three_clouds(e2e: E2E, ns: str) -> None:
    e2e.json("create", ns, "web", *groups_for(e2e, {"aws": 7, "gcp": 7, "azure": 6}))

    status = e2e.json("suspend", ns, "web")
    assert counts(status) == {"Suspended": 20} and status["target_action"] == "None"
    for vm in status["vms"]:
        assert vm["native_status"] in SUSPENDED_NATIVE[vm["provider"]], vm
    at_cloud = e2e.cloud_vms(status["uid"])
    assert {(vm["provider"], vm["native_status"]) for vm in at_cloud} <= {
        (p, n) for p, natives in SUSPENDED_NATIVE.items() for n in natives
    }

    assert counts(e2e.json("resume", ns, "web")) == {"Running": 20}
    assert counts(e2e.json("reboot", ns, "web")) == {"Running": 20}
    status = e2e.json("scale-out", ns, "web", "--group", "g1", "--count", "5")
    assert counts(status) == {"Running": 25}
    assert len(live(e2e.cloud_vms(status["uid"]))) == 25
    status = e2e.json("scale-in", ns, "web", "--group", "g1", "--count", "3")
    assert counts(status) == {"Running": 22}
    assert sorted(vm["id"] for vm in status["vms"] if vm["group"] == "g1")[-1] == "g1-9"
    assert len(live(e2e.cloud_vms(status["uid"]))) == 22
    assert counts(e2e.json("terminate", ns, "web")) == {"Terminated": 22}
    assert live(e2e.cloud_vms(status["uid"])) == []
    e2e.ok("delete", ns, "web")
    assert e2e.json("list", ns) == []


def test_a_suspend_while_a_resume_is_in_flight_is_refused(e2e: E2E, ns: str) -> None:
    e2e.json("create", ns, "race", *groups_for(e2e, {"aws": 2}))
    e2e.json("suspend", ns, "race")
    e2e.cloud_put("/admin/timings", {"flavor": "*", "start_s": 4.0})
    try:
        resume = subprocess.Popen(
            [sys.executable, "-m", "starter", "resume", ns, "race", "--json"],
            env=e2e.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        wait_until(lambda: e2e.json("status", ns, "race")["status"] == "Resuming", 30, "resuming")
        refused = e2e.run("suspend", ns, "race")
        assert refused.returncode == 2
        assert "busy: resume in flight (status Resuming (2/2))" in refused.stderr
        out, _ = resume.communicate(timeout=60)
        assert resume.returncode == 0 and '"Running": 2' in out
    finally:
        e2e.cloud_put("/admin/timings", {"flavor": "*", "start_s": None})
    e2e.ok("delete", ns, "race")


def test_worker_killed_mid_suspend_completes_exactly(e2e: E2E, ns: str) -> None:
    status = e2e.json("create", ns, "calm", *groups_for(e2e, {"aws": 7, "gcp": 7, "azure": 6}))
    e2e.cloud_put("/admin/timings", {"flavor": "*", "stop_s": 3.0})
    try:
        suspend = subprocess.Popen(
            [sys.executable, "-m", "starter", "suspend", ns, "calm", "--json"],
            env=e2e.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        wait_until(
            lambda: "Suspending" in e2e.json("status", ns, "calm")["counts"], 30, "suspending"
        )
        e2e.stack.kill_component("worker", signal.SIGKILL)
        time.sleep(1.0)
        e2e.stack.start_component("worker")
        _, err = suspend.communicate(timeout=120)
        assert suspend.returncode == 0, err
    finally:
        e2e.cloud_put("/admin/timings", {"flavor": "*", "stop_s": None})
    final = e2e.json("status", ns, "calm", "--refresh")
    assert counts(final) == {"Suspended": 20} and final["target_action"] == "None"
    natives = {vm["id"]: vm["native_status"] for vm in e2e.cloud_vms(status["uid"])}
    assert all(vm["native_status"] == natives[vm["csp_id"]] for vm in final["vms"])
    assert len(natives) == 20
    e2e.ok("delete", ns, "calm")


def local_cloud_vm(e2e: E2E, provider: str, region: str, tags: dict[str, str]) -> str:
    """Create a VM at the local cloud behind mcis's back, in the namespace's shared network."""
    base = f"{e2e.settings.localcloud_url}/v1/{provider}/regions/{region}"
    vnet = httpx.get(f"{base}/vnets", trust_env=False).json()[0]
    group = httpx.get(f"{base}/security-groups", trust_env=False).json()[0]
    key = httpx.get(f"{base}/keypairs", trust_env=False).json()[0]
    spec = httpx.get(
        f"{e2e.settings.localcloud_url}/v1/{provider}/specs?region={region}", trust_env=False
    ).json()[0]
    image = httpx.get(
        f"{e2e.settings.localcloud_url}/v1/{provider}/images?region={region}", trust_env=False
    ).json()[0]
    body = {
        "name": "by-hand",
        "spec": spec["name"],
        "image": image["name"],
        "vnet_id": vnet["id"],
        "subnet_id": vnet["subnets"][0]["id"],
        "security_group_ids": [group["id"]],
        "key_name": key["name"],
        "client_token": "by-hand-1",
        "tags": tags,
    }
    answer = httpx.post(f"{base}/vms", json=body, trust_env=False)
    answer.raise_for_status()
    return str(answer.json()["id"])


def test_boot_failure_refine_and_reconcile(e2e: E2E, ns: str) -> None:
    groups = groups_for(e2e, {"gcp": 3})
    gcp_region = groups[1].split("+")[1]
    e2e.json("create", ns, "shaky", *groups)
    fault = {"flavor": "gcp", "region": gcp_region, "boot_failure_rate": 1.0}
    e2e.cloud_put("/admin/faults", fault)
    try:
        done = e2e.run("scale-out", ns, "shaky", "--group", "g1", "--count", "1", "--json")
    finally:
        e2e.cloud_put("/admin/faults", {**fault, "boot_failure_rate": 0.0})
    assert done.returncode == 1  # the operation ran, one VM failed
    status = e2e.json("status", ns, "shaky")
    assert status["display"] == "Partial-Running (3/4), Failed: g1-4"
    failed_vm = next(vm for vm in status["vms"] if vm["id"] == "g1-4")
    assert failed_vm["status"] == "Failed" and failed_vm["error"]

    status = e2e.json("refine", ns, "shaky")
    assert status["failed_vms"] == [] and status["display"] == "Running (3/3)"

    stray = local_cloud_vm(
        e2e, "gcp", gcp_region, {"mcis-namespace": ns, "mcis-name": "shaky", "mcis-group": "g1"}
    )
    victim = status["vms"][0]
    base = f"{e2e.settings.localcloud_url}/v1/gcp/regions/{gcp_region}"
    httpx.post(f"{base}/vms/{victim['csp_id']}/terminate", trust_env=False).raise_for_status()
    wait_until(
        lambda: httpx.get(f"{base}/vms/{victim['csp_id']}", trust_env=False).status_code == 404,
        30,
        "the VM to be gone",
    )

    status = e2e.json("reconcile", ns, "shaky")
    by_id = {vm["id"]: vm for vm in status["vms"]}
    adopted = [vm for vm in status["vms"] if vm["csp_id"] == stray]
    assert len(adopted) == 1 and adopted[0]["group"] == "g1"
    assert by_id[victim["id"]]["status"] == "Undefined"
    report = status["operations"][-1]["report"]
    assert report["adopted"] == [adopted[0]["id"]] and report["missing"] == [victim["id"]]
    e2e.ok("delete", ns, "shaky")
    assert live(e2e.cloud_vms(status["uid"])) == []
