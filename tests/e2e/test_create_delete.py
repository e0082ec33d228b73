"""End to end through the `mcis` CLI on the real stack: a 20-VM dynamic MCIS over three clouds,
exactly 20 VMs at the cloud (also under 30 % injected API errors), and a delete that leaves
neither VMs nor shared resources behind."""

from __future__ import annotations

import base64
import json
import subprocess
from typing import Any

import pytest

from models.records import ResourceKind
from store.repository import Store
from tests.conftest import venv_binary
from tests.e2e.conftest import E2E

pytestmark = pytest.mark.e2e

CLOUDS = ("aws", "gcp", "azure")


def groups_for(e2e: E2E, counts: dict[str, int]) -> list[str]:
    """`--group` arguments with the cheapest spec and first image of each cloud's first region."""
    args = []
    for provider, count in counts.items():
        specs = e2e.json("catalog", "specs", "--provider", provider)
        region = specs[0]["region"]
        images = e2e.json("catalog", "images", "--provider", provider, "--region", region)
        args += ["--group", f"{specs[0]['id']},{images[0]['id']},{count}"]
    return args


def live(vms: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [vm for vm in vms if vm["native_status"] not in ("terminated", "Deleted")]


def shared_resources(e2e: E2E) -> int:
    stats = e2e.cloud("/admin/stats")
    return int(stats["vnets"]) + int(stats["security_groups"]) + int(stats["key_pairs"])


@pytest.fixture(scope="module")
def namespace(e2e: E2E) -> str:
    e2e.ok("ns", "create", "e2e")
    return "e2e"


def create_and_check(e2e: E2E, namespace: str, name: str, counts: dict[str, int]) -> str:
    total = sum(counts.values())
    status = e2e.json("create", namespace, name, *groups_for(e2e, counts), timeout=300)
    assert status["status"] == "Running", status["display"]
    assert status["counts"] == {"Running": total}
    assert (status["target_action"], status["target_status"]) == ("None", "None")
    assert len(status["vms"]) == total
    assert {vm["provider"] for vm in status["vms"]} == set(counts)
    for vm in status["vms"]:
        assert vm["status"] == "Running" and vm["public_ip"] and vm["native_status"]
    at_cloud = e2e.cloud_vms(status["uid"])
    assert len(at_cloud) == total
    assert sorted(vm["id"] for vm in at_cloud) == sorted(vm["csp_id"] for vm in status["vms"])
    assert all(vm["native_status"] in ("running", "RUNNING") for vm in at_cloud)
    return str(status["uid"])


def temporal_cli(e2e: E2E, *args: str) -> str:
    done = subprocess.run(
        [venv_binary("temporal"), *args, "--address", e2e.settings.temporal_address],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return done.stdout


def all_runs_history(e2e: E2E, workflow_id: str) -> str:
    """The decoded histories of every run of a workflow (an MCIS continues as new after its
    create and after every operation), one after the other."""
    runs = json.loads(
        temporal_cli(
            e2e, "workflow", "list", "--query", f'WorkflowId="{workflow_id}"', "--output", "json"
        )
    )
    return "\n".join(
        decoded_history(
            temporal_cli(
                e2e,
                "workflow",
                "show",
                "--workflow-id",
                workflow_id,
                "--run-id",
                run["execution"]["runId"],
                "--output",
                "json",
            )
        )
        for run in runs
    )


def decoded_history(raw: str) -> str:
    """The history JSON with every payload's base64 data decoded, so a scan sees plain text."""
    texts: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "data" and isinstance(value, str):
                    texts.append(base64.b64decode(value).decode(errors="replace"))
                else:
                    walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(json.loads(raw))
    return raw + "\n".join(texts)


def test_20_vm_dynamic_mcis_runs_and_delete_leaves_nothing(e2e: E2E, namespace: str) -> None:
    uid = create_and_check(e2e, namespace, "web", {"aws": 7, "gcp": 7, "azure": 6})
    listed = e2e.json("list", namespace)
    assert [(m["name"], m["status"], m["total"]) for m in listed] == [("web", "Running", 20)]
    assert shared_resources(e2e) == 9  # vNet, security group, key per cloud region

    found = temporal_cli(
        e2e, "workflow", "list", "--query", 'McisNamespace="e2e" AND McisStatus="Running"'
    )
    assert "mcis/e2e/web" in found
    history = all_runs_history(e2e, "mcis/e2e/web")
    assert '"ssh_key":"shared-aws-' in history  # payloads were decoded
    store = Store.from_settings(e2e.settings)
    for key in store.list_resources("e2e", ResourceKind.SSH_KEY):
        private_key = store.get_secret(key.secret_ref or "")
        body = private_key.splitlines()[1]
        assert body not in history and "PRIVATE KEY" not in history

    e2e.ok("delete", namespace, "web", timeout=300)
    assert live(e2e.cloud_vms(uid)) == []
    assert shared_resources(e2e) == 0
    assert e2e.json("list", namespace) == []
    gone = e2e.run("status", namespace, "web")
    assert gone.returncode == 2 and "not found" in gone.stderr


def test_30_percent_api_errors_still_give_exactly_20_vms(e2e: E2E, namespace: str) -> None:
    e2e.cloud_put("/admin/faults", {"flavor": "*", "region": "*", "api_error_rate": 0.3})
    try:
        uid = create_and_check(e2e, namespace, "flaky", {"aws": 7, "gcp": 7, "azure": 6})
    finally:
        e2e.cloud_put("/admin/faults", {"flavor": "*", "region": "*", "api_error_rate": 0.0})
    e2e.ok("delete", namespace, "flaky", timeout=300)
    assert live(e2e.cloud_vms(uid)) == []
