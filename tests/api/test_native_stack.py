"""The native API's nouns besides MCIS end to end over HTTP (the e2e stack's API server: real
Temporal, local cloud with phantom VMs, worker): a vNet and an SSH key made at the cloud through
the resource workflow, the key shown without its private key unless asked; the catalog and a
recommendation; on a 2-VM MCIS a command waited for, access, a deploy, a benchmark and a policy
registered, shown and deleted; the orphan sweep's report at its status URL; then everything
deleted. The tests share one namespace and MCIS, in order."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.api.conftest import Api

pytestmark = pytest.mark.e2e

NS, NAME = "nouns", "web"
MCIS = f"/v1/ns/{NS}/mcis/{NAME}"
GROUP = "aws+us-east-1+t3.small,aws+us-east-1+ubuntu-jammy-22.04-amd64-server,2"
POLICY: dict[str, Any] = {
    "sample_interval_s": 1,
    "min_vms": 2,
    "max_vms": 3,
    "rules": [
        {
            "condition": {"metric": "cpu", "operator": ">=", "operand": 99},
            "action": {"kind": "ScaleOut", "count": 1, "group": "g1"},
        }
    ],
}


def _ended(api: Api, url: str, timeout: float = 90) -> dict[str, Any]:
    """The run at a status URL once it has ended."""
    answer = api.wait_for(url, lambda a: a.json().get("state") != "running", timeout)
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


@pytest.fixture(scope="module")
def mcis(api: Api) -> Iterator[Api]:
    """The namespace and a 2-VM MCIS, Running; deleted with the namespace at the end."""
    assert api.http.post("/v1/ns", json={"name": NS}).status_code == 201
    created = api.http.post(f"/v1/ns/{NS}/mcis", json={"name": NAME, "groups": [GROUP]})
    assert created.status_code == 202, created.text
    api.wait_for(MCIS, lambda a: a.json().get("display") == "Running (2/2)", timeout=90)
    yield api
    assert api.http.delete(MCIS).status_code == 202
    api.wait_for(MCIS, lambda a: a.status_code == 404, timeout=90)
    api.wait_for(f"/v1/ns/{NS}", lambda a: api.http.delete(f"/v1/ns/{NS}").status_code == 200)


def test_resources_are_made_at_the_cloud_and_a_key_stays_private(mcis: Api) -> None:
    base = f"/v1/ns/{NS}/resources"
    place = {"provider": "gcp", "region": "us-central1"}
    vnet = mcis.http.post(
        f"{base}/vnet",
        json={"name": "net1", **place, "cidr": "10.9.0.0/16", "subnets": ["main=10.9.0.0/24"]},
    )
    assert vnet.status_code == 201, vnet.text
    assert vnet.json()["csp_id"]
    key = mcis.http.post(f"{base}/ssh-key", json={"name": "key1", **place})
    assert key.status_code == 201, key.text
    assert key.json()["private_key"] is None

    shown = mcis.http.get(f"{base}/ssh-key/key1").json()
    assert shown["private_key"] is None
    private = mcis.http.get(f"{base}/ssh-key/key1?include_private_key=true").json()
    assert "PRIVATE KEY" in private["private_key"]
    names = {(r["kind"], r["name"]) for r in mcis.http.get(base).json()}
    assert {("vnet", "net1"), ("ssh_key", "key1")} <= names

    for kind, name in (("ssh-key", "key1"), ("vnet", "net1")):
        assert mcis.http.delete(f"{base}/{kind}/{name}").json()["deleted"] == name
    assert mcis.http.get(f"{base}/vnet/net1").status_code == 404


def test_the_catalog_and_a_recommendation(mcis: Api) -> None:
    specs = mcis.http.get("/v1/catalog/specs", params={"provider": "aws", "vcpus": "2", "limit": 3})
    assert specs.status_code == 200, specs.text
    assert len(specs.json()) == 3 and all(s["vcpus"] == 2 for s in specs.json())
    images = mcis.http.get("/v1/catalog/images", params={"provider": "aws", "region": "us-east-1"})
    assert any(i["id"].startswith("aws+us-east-1+") for i in images.json())
    best = mcis.http.get("/v1/recommend", params={"vcpus": "2..4", "limit": 2}).json()
    assert len(best) == 2 and best[0]["total"] >= best[1]["total"]


def test_a_command_waited_for_answers_for_every_vm(mcis: Api) -> None:
    answer = mcis.http.post(f"{MCIS}/cmd?wait=true", json={"command": "hostname", "timeout_s": 3})
    assert answer.status_code == 200, answer.text
    assert answer.json()["state"] == "completed"
    # phantom VMs take no SSH connection: each VM answers, with its error
    assert sorted(r["vm"] for r in answer.json()["result"]) == ["g1-1", "g1-2"]


def test_access_and_a_deploy(mcis: Api) -> None:
    access = mcis.http.get(f"{MCIS}/access").json()
    assert [vm["vm"] for vm in access["vms"]] == ["g1-1", "g1-2"]
    assert access["private_keys"] is None
    keys = mcis.http.get(f"{MCIS}/access?include_private_key=true").json()["private_keys"]
    assert all("PRIVATE KEY" in key for key in keys.values()) and keys

    started = mcis.http.post(f"{MCIS}/deploy/nginx", json={"vm": "g1-1", "timeout_s": 3})
    assert started.status_code == 202, started.text
    rows = _ended(mcis, started.json()["status_url"])["result"]
    assert [(r["vm"], set(r)) for r in rows] == [("g1-1", {"vm", "ready", "url", "error"})]


def test_a_benchmark_runs_to_its_report(mcis: Api) -> None:
    started = mcis.http.post(f"{MCIS}/benchmarks", json={"action": "cpus", "seconds": 1})
    assert started.status_code == 202, started.text
    run = _ended(mcis, started.json()["status_url"], timeout=120)
    assert run["state"] in ("completed", "failed"), run
    if run["state"] == "completed":
        assert {row["vm"] for row in run["result"]["rows"]} <= {"g1-1", "g1-2"}
    assert mcis.http.get(f"{MCIS}/benchmarks").status_code == 200


def test_a_policy_is_registered_shown_and_deleted(mcis: Api) -> None:
    created = mcis.http.post(f"{MCIS}/policy", json=POLICY)
    assert created.status_code == 201, created.text
    again = mcis.http.post(f"{MCIS}/policy", json=POLICY)
    assert again.status_code == 409, again.text
    shown = mcis.http.get(f"{MCIS}/policy").json()
    assert (shown["mcis"], shown["policy"]["max_vms"]) == (NAME, 3)
    assert [p["mcis"] for p in mcis.http.get(f"/v1/ns/{NS}/policies").json()] == [NAME]
    assert mcis.http.post(f"{MCIS}/policy/pause").json()["paused"] is True
    ended = mcis.http.delete(f"{MCIS}/policy")
    assert (ended.status_code, ended.json()["state"]) == (200, "Ended"), ended.text


def test_the_sweep_reports_at_its_status_url(mcis: Api) -> None:
    started = mcis.http.post("/v1/sweep")
    assert started.status_code == 202, started.text
    report = _ended(mcis, started.json()["status_url"], timeout=120)
    assert report["state"] == "completed", report
    assert report["result"]["regions"] > 0
    assert report["result"]["orphans"] == []
