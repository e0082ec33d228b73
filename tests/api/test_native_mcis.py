"""End to end over the native API only (httpx, HTTP Basic): a namespace, then an MCIS over aws,
gcp and azure of the local cloud created, read, scaled out, suspended, resumed, given a group
and then rid of its VM, given a remote command and deleted, every long operation answered 202
at once and followed at its operation URL, while its event stream delivers each status change,
from the creating MCIS to the deleted one. The module's tests share one MCIS, in order."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import pairwise
from typing import Any

import httpx
import pytest
from temporalio.client import Client

from settings import Settings
from tests.api.conftest import Api, EventStream

pytestmark = pytest.mark.e2e

NS, NAME = "native", "web"
STATUS = f"/v1/ns/{NS}/mcis/{NAME}"
AWS = "aws+us-east-1+t3.small,aws+us-east-1+ubuntu-jammy-22.04-amd64-server,1"
GCP = "gcp+us-central1+e2-small,gcp+us-central1+ubuntu-2204-lts,1"
AZURE = {
    "name": "az",
    "spec": "azure+koreacentral+Standard_B1s",
    "image": "azure+koreacentral+Ubuntu2204",
    "count": 1,
}


@dataclass
class Mcis:
    api: Api
    created: httpx.Response
    events: EventStream


@pytest.fixture(scope="module")
def mcis(api: Api) -> Iterator[Mcis]:
    """The MCIS, created in the namespace `native` (groups g1 on aws, g2 on gcp, az on azure),
    with its event stream read from the moment it is accepted."""
    assert api.http.post("/v1/ns", json={"name": NS}).status_code == 201
    created = api.http.post(
        f"/v1/ns/{NS}/mcis",
        json={"name": NAME, "description": "over HTTP", "groups": [AWS, GCP, AZURE]},
    )
    assert created.status_code == 202, created.text
    with EventStream(api, created.json()["events_url"]) as events:
        yield Mcis(api, created, events)


def status(api: Api) -> dict[str, Any]:
    answer = api.http.get(STATUS)
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


def finished(api: Api, accepted: httpx.Response, timeout: float = 60) -> dict[str, Any]:
    """The record of an accepted operation once it has ended, read at its operation URL."""
    assert accepted.status_code == 202, accepted.text
    url = accepted.headers["Location"]
    assert url == accepted.json()["operation_url"]
    ended = api.wait_for(url, lambda a: a.json().get("state") not in ("queued", "running"), timeout)
    assert ended.status_code == 200, ended.text
    return dict(ended.json())


def test_create_answers_at_once_and_the_mcis_runs_on_three_clouds(mcis: Mcis) -> None:
    assert mcis.created.json() == {
        "workflow_id": f"mcis/{NS}/{NAME}",
        "operation_id": 1,
        "kind": "create",
        "scope": "mcis",
        "state": "running",
        "status_url": STATUS,
        "operation_url": f"{STATUS}/operations/1",
        "events_url": f"{STATUS}/events",
    }
    create = finished(mcis.api, mcis.created)
    assert create["kind"] == "create" and create["state"] == "done", create
    mcis.events.wait_for(lambda v: v["display"] == "Running (3/3)")
    view = status(mcis.api)
    assert (view["status"], view["phase"], view["total"]) == ("Running", "active", 3)
    assert {vm["provider"]: vm["group"] for vm in view["vms"]} == {
        "aws": "g1",
        "gcp": "g2",
        "azure": "az",
    }
    assert all(vm["public_ip"] for vm in view["vms"])
    listed = mcis.api.http.get(f"/v1/ns/{NS}/mcis").json()
    assert [(m["name"], m["status"], m["total"]) for m in listed] == [(NAME, "Running", 3)]


async def _ui_texts(settings: Settings) -> tuple[str | None, str]:
    """The MCIS's static summary (its first run's) and its current details (its latest run's),
    as the Temporal UI reads them."""
    client = await Client.connect(settings.temporal_address, namespace=settings.temporal_namespace)
    latest = client.get_workflow_handle(f"mcis/{NS}/{NAME}")
    metadata = await latest.query("__temporal_workflow_metadata")
    info = (await latest.describe()).raw_description.workflow_execution_info
    first = client.get_workflow_handle(latest.id, run_id=info.first_run_id)
    return await (await first.describe()).static_summary(), metadata.current_details


def test_the_temporal_ui_reads_the_mcis_without_opening_a_payload(mcis: Mcis) -> None:
    summary, details = asyncio.run(_ui_texts(mcis.api.stack.settings))
    assert summary == f"MCIS {NS}/{NAME} · 3 VMs · aws, azure, gcp"
    assert details.startswith("**Running (3/3)** · phase active · Running 3"), details


def test_scale_out_adds_vms_to_a_group(mcis: Mcis) -> None:
    accepted = mcis.api.http.post(f"{STATUS}/groups/g1/scale-out", json={"count": 2})
    assert accepted.json()["scope"] == "group g1"
    record = finished(mcis.api, accepted)
    assert record["state"] == "done", record
    mcis.events.wait_for(lambda v: v["display"] == "Running (5/5)")
    view = status(mcis.api)
    assert Counter(vm["group"] for vm in view["vms"]) == {"g1": 3, "g2": 1, "az": 1}
    assert view["status"] == "Running"


def test_suspend_then_resume_the_whole_mcis(mcis: Mcis) -> None:
    assert finished(mcis.api, mcis.api.http.post(f"{STATUS}/suspend"))["state"] == "done"
    assert status(mcis.api)["display"] == "Suspended (5/5)"
    mcis.events.wait_for(lambda v: v["display"] == "Suspended (5/5)")
    refused = mcis.api.http.post(f"{STATUS}/vms/g1-1/reboot")
    assert refused.status_code == 409, refused.text  # a suspended VM does not reboot
    assert finished(mcis.api, mcis.api.http.post(f"{STATUS}/resume"))["state"] == "done"
    assert status(mcis.api)["display"] == "Running (5/5)"
    mcis.events.wait_for(lambda v: "resume" in {op["kind"] for op in v["operations"]})


def test_a_group_added_then_its_vm_removed(mcis: Mcis) -> None:
    group = "gcp+europe-west1+e2-small,gcp+europe-west1+ubuntu-2204-lts,1"
    added = mcis.api.http.post(f"{STATUS}/groups", json={"name": "eu", "group": group})
    assert added.json()["kind"] == "add-group"
    assert finished(mcis.api, added)["state"] == "done"
    vms = {vm["id"]: vm for vm in status(mcis.api)["vms"]}
    assert (vms["eu-1"]["region"], vms["eu-1"]["status"]) == ("europe-west1", "Running")
    removed = mcis.api.http.delete(f"{STATUS}/vms/eu-1")
    assert (removed.json()["kind"], removed.json()["scope"]) == ("remove-vm", "vm eu-1")
    assert finished(mcis.api, removed)["state"] == "done"
    assert "eu-1" not in {vm["id"] for vm in status(mcis.api)["vms"]}
    again = mcis.api.http.delete(f"{STATUS}/vms/eu-1")
    assert (again.status_code, again.json()["error"]) == (404, "not_found"), again.text


def test_a_remote_command_reaches_every_vm(mcis: Mcis) -> None:
    if "/v1/ns/{ns}/mcis/{name}/cmd" not in _routes(mcis.api):
        pytest.skip("the native API has no remote command yet (api/native/remote.py)")
    started = mcis.api.http.post(f"{STATUS}/cmd", json={"command": "hostname", "timeout_s": 3})
    assert started.status_code == 202, started.text
    answer = mcis.api.wait_for(
        started.json()["status_url"],
        lambda a: a.status_code != 200 or a.json()["state"] != "running",
        timeout=60,
    )
    assert answer.status_code == 200, answer.text
    run = answer.json()
    assert run["state"] == "completed", run
    # phantom VMs take no SSH connection: each VM answers, with its error
    assert sorted(r["vm"] for r in run["result"]) == sorted(
        vm["id"] for vm in status(mcis.api)["vms"]
    )
    assert all(r["exit_code"] is not None or r["error"] for r in run["result"]), run


def test_delete_ends_the_mcis_and_its_event_stream(mcis: Mcis) -> None:
    record = mcis.api.http.delete(STATUS)
    assert record.status_code == 202, record.text
    assert record.json()["kind"] == "delete"
    mcis.api.wait_for(STATUS, lambda a: a.status_code == 404, timeout=60)
    assert mcis.api.http.get(f"/v1/ns/{NS}/mcis").json() == []
    mcis.events.wait_ended(30)

    sent = [e.data for e in mcis.events.events if e.event == "status"]
    assert mcis.events.status_code == 200
    assert [e.event for e in mcis.events.events] == ["status"] * len(sent)
    assert (sent[0]["phase"], sent[-1]["phase"]) == ("creating", "deleted")
    changes = [_change(s) for s in sent]
    assert all(a != b for a, b in pairwise(changes)), changes
    displays = [s["display"] for s in sent]
    for expected in ("Running (3/3)", "Running (5/5)", "Suspended (5/5)"):
        assert expected in displays, displays
    assert displays.index("Suspended (5/5)") < len(displays) - 1 - displays[::-1].index(
        "Running (5/5)"
    )  # resumed after the suspend
    kinds_done = {op["kind"] for s in sent for op in s["operations"] if op["state"] == "done"}
    assert {"create", "scale-out", "suspend", "resume", "delete"} <= kinds_done


def _change(view: dict[str, Any]) -> tuple[Any, ...]:
    """What an event reports a change of: status and counts, phase, target, operations."""
    operations = [*view["operations"], *([view["operation"]] if view["operation"] else [])]
    return (
        view["display"],
        sorted(view["counts"].items()),
        view["phase"],
        view["target_action"],
        [(op["id"], op["state"]) for op in operations],
    )


def _routes(api: Api) -> set[str]:
    return set(api.http.get("/openapi.json").json()["paths"])
