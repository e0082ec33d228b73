"""Real VMs end to end through the CLI: a 12-VM MCIS over 3 regions of network-namespace VMs;
each answers `hostname` with its own name, serves its own nginx page to the host, sees the
configured RTT to another region, shows CPU load in its own utilisation only; deleting the MCIS
leaves nothing behind; no private key in the histories of the create and command workflows."""

from __future__ import annotations

import os
import re
import time
from typing import Any

import httpx
import pytest

from localcloud.netns.choose import missing_requirements
from models.records import ResourceKind
from store.repository import Store
from tests.e2e.conftest import E2E
from tests.e2e.test_create_delete import decoded_history, groups_for, temporal_cli

MISSING = missing_requirements()
pytestmark = [
    pytest.mark.e2e,
    pytest.mark.realvm,
    pytest.mark.skipif(MISSING is not None, reason=f"real VMs need root and tools: {MISSING}"),
]


@pytest.fixture(scope="module")
def mcis(real: E2E) -> dict[str, Any]:
    status = real.json("create", "real", "web", *groups_for(real, {"aws": 4, "gcp": 4, "azure": 4}))
    assert status["counts"] == {"Running": 12}
    return dict(status)


def by_vm(results: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {r["vm"]: r for r in results}


def test_each_vm_answers_with_its_own_hostname(real: E2E, mcis: dict[str, Any]) -> None:
    results = by_vm(real.json("cmd", "real", "web", "--", "hostname"))
    assert len(results) == 12
    for vm in mcis["vms"]:
        result = results[vm["id"]]
        assert result["exit_code"] == 0 and result["duration_s"] > 0
        assert result["stdout"].strip() == f"real-web-{vm['id']}"


def test_nginx_on_every_vm_serves_its_own_page(real: E2E, mcis: dict[str, Any]) -> None:
    deployed = real.json("deploy", "nginx", "real", "web")
    assert all(row["ready"] for row in deployed), deployed
    for vm in mcis["vms"]:
        page = httpx.get(f"http://{vm['public_ip']}/", timeout=10, trust_env=False)
        assert page.status_code == 200
        assert vm["id"] in page.text and vm["region"] in page.text


def test_rtt_between_regions_matches_the_matrix(real: E2E, mcis: dict[str, Any]) -> None:
    matrix = real.cloud("/v1/latency")["rtt_ms"]
    first = {vm["provider"]: vm for vm in mcis["vms"]}
    for a, b in (("aws", "gcp"), ("gcp", "azure")):
        source, target = first[a], first[b]
        ping = real.json(
            "cmd",
            "real",
            "web",
            "--vm",
            source["id"],
            "--",
            f"ping -c 5 -i 0.2 -q {target['public_ip']}",
        )
        # min/avg/max: the link's delay is a floor, which the minimum shows; the average also
        # carries the host's scheduling delays (17.6 ms for 12.9 on a busy 2-core machine)
        summary = re.search(r"= ([\d.]+)/[\d.]+/", ping[0]["stdout"])
        assert summary is not None, ping
        expected = matrix[f"{a}/{source['region']}"][f"{b}/{target['region']}"]
        assert abs(float(summary.group(1)) - expected) <= 0.2 * expected


def test_cpu_load_shows_only_on_the_loaded_vms(real: E2E, mcis: dict[str, Any]) -> None:
    loaded = [vm["id"] for vm in mcis["vms"][:3]]
    for vm in loaded:
        real.json("load", "real", "web", "--vm", vm, "--cpu", "100", "--duration", "30")
    time.sleep(3.5)
    cpu = {}
    for vm in mcis["vms"]:
        path = f"/v1/{vm['provider']}/regions/{vm['region']}/vms/{vm['csp_id']}/metrics"
        cpu[vm["id"]] = real.cloud(path)["cpu_percent"]
    real.json("load", "real", "web", "--stop")
    # three VMs asking 100 % each share two cores with the host: about 65 % each when idle
    # otherwise, 45 % seen on a busy machine; unloaded VMs stay near 0
    assert all(cpu[vm] > 30 for vm in loaded), cpu
    assert all(value < 20 for vm, value in cpu.items() if vm not in loaded), cpu


def test_no_private_key_in_create_or_command_histories(real: E2E, mcis: dict[str, Any]) -> None:
    listed = temporal_cli(real, "workflow", "list", "--query", "WorkflowType='RemoteWorkflow'")
    command_ids = re.findall(r"remote/real/web/[0-9a-f]+", listed)
    assert command_ids
    store = Store.from_settings(real.settings)
    bodies = [
        store.get_secret(key.secret_ref or "").splitlines()[1]
        for key in store.list_resources("real", ResourceKind.SSH_KEY)
    ]
    assert len(bodies) == 3
    for workflow_id in ["mcis/real/web", *command_ids[:3]]:
        raw = temporal_cli(
            real, "workflow", "show", "--workflow-id", workflow_id, "--output", "json"
        )
        history = decoded_history(raw)
        assert "PRIVATE KEY" not in history
        assert not any(body in history for body in bodies)


def test_delete_leaves_nothing_behind(real: E2E, mcis: dict[str, Any]) -> None:
    real.ok("delete", "real", "web")
    doctor = real.cloud("/admin/doctor")
    assert doctor["leaks"] == [] and doctor["summary"]["live_vms"] == 0
    namespaces = os.popen("ip netns list").read()
    assert not any(vm["csp_id"] in namespaces for vm in mcis["vms"])
