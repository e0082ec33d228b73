"""Orphan sweep end to end (`mcis reconcile --all [--delete-orphans]`) on a private stack: a VM
made at the cloud's API with the tags of an MCIS that never existed, and the VM of an MCIS whose
record was deleted behind its back, are exactly the orphans found; deleting them leaves the
live MCIS's VMs running, and a second sweep finds nothing."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from models.naming import vm_tags
from store.repository import Store
from tests.e2e.conftest import E2E
from tests.e2e.test_create_delete import groups_for
from tests.reliability.private_cli import InProcessCli, private_stack

pytestmark = pytest.mark.e2e

NS = "sweep"


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[InProcessCli]:
    with private_stack(tmp_path_factory.mktemp("mcis-sweep"), "mcis-sweep") as running:
        yield running


def ghost_vm(stack: E2E, like: dict[str, Any]) -> str:
    """A VM made directly at the local cloud's API, in the network of `like`, with the tags of
    an MCIS that never existed; its id."""
    body = {
        "name": "sweep-ghost-g1-1",
        "spec": like["spec"],
        "image": like["image"],
        "vnet_id": like["vnet_id"],
        "subnet_id": like["subnet_id"],
        "security_group_ids": like["security_group_ids"],
        "key_name": like["key_name"],
        "client_token": "ghost-token",
        "tags": vm_tags(NS, "ghost", "uid-of-no-mcis", "g1", "g1-1"),
    }
    url = f"{stack.settings.localcloud_url}/v1/{like['provider']}/regions/{like['region']}/vms"
    answer = httpx.post(url, json=body, timeout=10, trust_env=False)
    answer.raise_for_status()
    return str(answer.json()["id"])


def native(stack: E2E, csp_id: str) -> str:
    return str(next(vm for vm in stack.cloud("/admin/vms") if vm["id"] == csp_id)["native_status"])


def test_reconcile_all_reports_exactly_the_orphans_and_deletes_only_them(stack: E2E) -> None:
    stack.ok("ns", "create", NS)
    keep = stack.json("create", NS, "keep", *groups_for(stack, {"aws": 2, "gcp": 1}))
    doomed = stack.json("create", NS, "doomed", *groups_for(stack, {"aws": 1}))
    like = next(vm for vm in stack.cloud_vms(keep["uid"]) if vm["provider"] == "aws")
    ghost = ghost_vm(stack, like)
    Store.from_settings(stack.settings).delete_mcis(NS, "doomed")  # behind its back
    doomed_id = doomed["vms"][0]["csp_id"]

    report = stack.json("reconcile", "--all")
    assert {o["csp_id"]: o["mcis"] for o in report["orphans"]} == {
        ghost: "ghost",
        doomed_id: "doomed",
    }
    assert {o["action"] for o in report["orphans"]} == {"none"}
    assert report["unrecorded"] == [] and report["drift"] == [] and report["errors"] == []
    assert report["tagged"] == 5 and report["regions"] >= 20  # every region of every flavor
    table = stack.ok("reconcile", "--all")
    assert ghost in table and doomed_id in table and "no MCIS sweep/ghost" in table

    deleted = stack.json("reconcile", "--all", "--delete-orphans")
    assert {o["csp_id"]: o["action"] for o in deleted["orphans"]} == {
        ghost: "terminated",
        doomed_id: "terminated",
    }
    assert {native(stack, ghost), native(stack, doomed_id)} <= {"shutting-down", "terminated"}
    kept = stack.json("status", NS, "keep", "--refresh")
    assert kept["counts"] == {"Running": 3}
    assert all(vm["native_status"] in ("running", "RUNNING") for vm in stack.cloud_vms(keep["uid"]))
    assert stack.json("reconcile", "--all")["orphans"] == []
    assert stack.json("reconcile", NS, "keep")["counts"] == {"Running": 3}  # one MCIS, as before


MIX_UPS = [
    (["reconcile"], "give NS NAME of one MCIS, or --all"),
    (["reconcile", NS], "give NS NAME of one MCIS, or --all"),
    (["reconcile", NS, "keep", "--all"], "give either NS NAME or --all, not both"),
    (["reconcile", NS, "keep", "--delete-orphans"], "--delete-orphans goes with --all"),
    (["reconcile", "--all", "--force"], "--force applies to one MCIS"),
    (["reconcile", "Bad_NS", "keep"], "namespace 'Bad_NS' is invalid"),
]


def test_reconcile_mix_ups_are_one_clear_line(stack: InProcessCli) -> None:
    for index, (args, expected) in enumerate(MIX_UPS):
        # the first as the real command in a subprocess, the others in this process
        done = E2E.run(stack, *args) if index == 0 else stack.run(*args)
        assert done.returncode == 2, done
        assert done.stderr.startswith("mcis: ") and done.stderr.count("\n") == 1, done.stderr
        assert expected in done.stderr
