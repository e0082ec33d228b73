"""The API's front door without a stack (httpx over ASGI): HTTP Basic on everything but
`/health`; bad input is a 400 JSON error naming what is wrong, with no workflow started; an
unknown namespace, route or VM is a 404, an operation the MCIS refuses a 409, Temporal out of
reach a 503, and an unexpected failure a 500 that shows no traceback; a port in use stops the
server before it starts, with one line."""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import socket
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from api.app import create_app
from api.native import mcis as mcis_routes
from api.server import serve
from models.lifecycle import OperationKind, OperationRecord
from models.records import NamespaceRecord
from settings import Settings, load_settings
from starter import processes
from starter.context import Context
from starter.errors import CliError
from starter.mcis_service import OperationRefusedError
from starter.stack import isolated_env
from tests.api.conftest import CREDENTIALS, PASSWORD, USERNAME

SPEC, IMAGE = "aws+us-east-1+t3.small", "aws+us-east-1+ubuntu-jammy-22.04-amd64-server"
GROUP = {"name": "g1", "spec": SPEC, "image": IMAGE, "count": 1}


class NoTemporal(Context):
    """A context whose Temporal client must not be asked for: nothing may start."""

    async def client(self) -> Any:
        raise AssertionError("the request reached Temporal")


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return load_settings({**isolated_env(tmp_path, "mcis-api-unit"), **CREDENTIALS})


@pytest.fixture
def app(settings: Settings) -> FastAPI:
    ctx = NoTemporal(settings)
    ctx.store.create_namespace(NamespaceRecord(name="dev"))
    return create_app(settings, ctx)


async def client_of(app: FastAPI, auth: tuple[str, str] | None) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    return httpx.AsyncClient(transport=transport, base_url="http://api", auth=auth)


@pytest.fixture
async def http(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with await client_of(app, (USERNAME, PASSWORD)) as client:
        yield client


async def test_health_is_open(app: FastAPI) -> None:
    async with await client_of(app, None) as anonymous:
        answer = await anonymous.get("/health")
    assert (answer.status_code, answer.json()) == (200, {"status": "ok"})


@pytest.mark.parametrize(
    "authorization",
    [
        None,
        "Basic " + base64.b64encode(f"{USERNAME}:wrong".encode()).decode(),
        "Basic " + base64.b64encode(f"{USERNAME}:{PASSWORD}x".encode()).decode(),
        "Basic !!not-base64!!",
        f"Bearer {PASSWORD}",
    ],
)
async def test_requests_without_the_credentials_get_401(
    app: FastAPI, authorization: str | None
) -> None:
    headers = {"Authorization": authorization} if authorization else {}
    async with await client_of(app, None) as anonymous:
        for method, path in (
            ("GET", "/v1/ns/dev/mcis"),
            ("GET", "/v1/ns/dev/mcis/web"),
            ("POST", "/v1/ns/dev/mcis"),
            ("GET", "/v1/ns/dev/mcis/web/events"),
            ("DELETE", "/v1/ns/dev/mcis/web"),
        ):
            answer = await anonymous.request(method, path, headers=headers, json={})
            assert answer.status_code == 401, (method, path)
            assert answer.json() == {
                "error": "unauthorized",
                "message": "credentials required (HTTP Basic)",
            }
            assert answer.headers["WWW-Authenticate"] == 'Basic realm="mcis"'


@pytest.mark.parametrize(
    ("body", "says"),
    [
        ({}, "body.name: Field required"),
        ({"name": "web", "groups": []}, "body.groups: List should have at least 1 item"),
        ({"name": "Web Tier!", "groups": [GROUP]}, "MCIS name"),
        ({"name": "web", "groups": [{**GROUP, "count": 0}]}, "greater than or equal to 1"),
        ({"name": "web", "groups": [f"{SPEC},{IMAGE}"]}, "expected SPEC_ID,IMAGE_ID,COUNT"),
        ({"name": "web", "groups": [f"{SPEC},{IMAGE},many"]}, "COUNT must be a whole number"),
        ({"name": "web", "groups": [GROUP, GROUP]}, "group names must be unique"),
        ({"name": "web", "groups": [GROUP], "colour": "red"}, "Extra inputs are not permitted"),
        ({"name": "web", "groups": [GROUP], "on_partial_failure": "pray"}, "on_partial_failure"),
        ({"name": "web", "groups": [{**GROUP, "spec": "gcp+us-central1+e2-small"}]}, "different"),
    ],
)
async def test_a_bad_create_is_a_400_naming_the_problem_and_starts_nothing(
    http: httpx.AsyncClient, body: dict[str, Any], says: str
) -> None:
    answer = await http.post("/v1/ns/dev/mcis", json=body)
    assert answer.status_code == 400, answer.text
    assert answer.json()["error"] == "bad_request"
    assert says in answer.json()["message"]


async def test_a_body_that_is_not_json_is_a_400(http: httpx.AsyncClient) -> None:
    answer = await http.post(
        "/v1/ns/dev/mcis", content=b"name: web", headers={"Content-Type": "application/json"}
    )
    assert answer.status_code == 400
    assert answer.json()["error"] == "bad_request"


@pytest.mark.parametrize(
    ("method", "path", "body", "says"),
    [
        ("GET", "/v1/ns/Dev!/mcis/web", None, "namespace"),
        ("GET", "/v1/ns/dev/mcis/WEB%20TIER", None, "MCIS name"),
        ("POST", "/v1/ns/dev/mcis/web/vms/No_Such!/suspend", None, "vm"),
        ("POST", "/v1/ns/dev/mcis/web/groups/g1/scale-out", {"count": 0}, "count"),
        ("POST", "/v1/ns/dev/mcis/web/groups/g1/scale-in", {}, "body.count: Field required"),
        ("POST", "/v1/ns/dev/mcis/web/groups/g1/scale-out", {"count": "two"}, "count"),
        ("POST", "/v1/ns/dev/mcis/web/suspend", {"force": "maybe"}, "force"),
        ("POST", "/v1/ns/dev/mcis/web/reboot", {"request_id": "x" * 201}, "request_id"),
        ("POST", "/v1/ns/dev/mcis/web/groups", {"group": f"{SPEC},{IMAGE},1"}, "`name`"),
        ("DELETE", "/v1/ns/dev/mcis/web?force=perhaps", None, "force"),
    ],
)
async def test_bad_paths_and_operation_bodies_are_400(
    http: httpx.AsyncClient, method: str, path: str, body: Any, says: str
) -> None:
    answer = await http.request(method, path, json=body)
    assert answer.status_code == 400, answer.text
    assert answer.json()["error"] == "bad_request"
    assert says in answer.json()["message"]


async def test_an_mcis_in_an_unknown_namespace_is_404(http: httpx.AsyncClient) -> None:
    answer = await http.post("/v1/ns/nope/mcis", json={"name": "web", "groups": [GROUP]})
    assert answer.status_code == 404
    assert answer.json() == {
        "error": "not_found",
        "message": "namespace 'nope' does not exist (create it with `mcis ns create nope`)",
    }
    listed = await http.get("/v1/ns/nope/mcis")
    assert (listed.status_code, listed.json()["error"]) == (404, "not_found")


async def test_an_empty_namespace_lists_no_mcis(http: httpx.AsyncClient) -> None:
    answer = await http.get("/v1/ns/dev/mcis")
    assert (answer.status_code, answer.json()) == (200, [])


async def test_unknown_routes_and_methods_are_json(http: httpx.AsyncClient) -> None:
    missing = await http.get("/v1/ns/dev/mcis/web/fly")
    assert (missing.status_code, missing.json()["error"]) == (404, "not_found")
    wrong = await http.put("/v1/ns/dev/mcis")
    assert (wrong.status_code, wrong.json()["error"]) == (405, "method_not_allowed")


@pytest.fixture
def accepting(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """The MCIS `dev/web` runs, and its workflow accepts every operation as number 7."""
    sent: list[Any] = []

    class Handle:
        id = "mcis/dev/web"

    async def running_handle(_ctx: Context, namespace: str, name: str) -> Any:
        assert (namespace, name) == ("dev", "web")
        return Handle()

    async def accept(_handle: Any, request: Any) -> OperationRecord:
        sent.append(request)
        return OperationRecord(id=7, kind=request.kind, scope=request.scope)

    monkeypatch.setattr(mcis_routes, "running_handle", running_handle)
    monkeypatch.setattr(mcis_routes, "accept_operation", accept)
    return sent


async def test_an_accepted_operation_is_a_202_saying_where_to_follow_it(
    http: httpx.AsyncClient, accepting: list[Any]
) -> None:
    answer = await http.post(
        "/v1/ns/dev/mcis/web/groups/g1/scale-out",
        json={"count": 3, "force": True, "request_id": "r-1"},
    )
    assert answer.status_code == 202, answer.text
    assert answer.json() == {
        "workflow_id": "mcis/dev/web",
        "operation_id": 7,
        "kind": "scale-out",
        "scope": "group g1",
        "state": "queued",
        "status_url": "/v1/ns/dev/mcis/web",
        "operation_url": "/v1/ns/dev/mcis/web/operations/7",
        "events_url": "/v1/ns/dev/mcis/web/events",
    }
    assert answer.headers["Location"] == "/v1/ns/dev/mcis/web/operations/7"
    [sent] = accepting
    assert (sent.kind, sent.group, sent.count, sent.force, sent.request_id) == (
        OperationKind.SCALE_OUT,
        "g1",
        3,
        True,
        "r-1",
    )


@pytest.mark.parametrize(
    ("path", "kind", "scope"),
    [
        ("/v1/ns/dev/mcis/web/suspend", OperationKind.SUSPEND, "mcis"),
        ("/v1/ns/dev/mcis/web/refresh", OperationKind.REFRESH, "mcis"),
        ("/v1/ns/dev/mcis/web/reconcile", OperationKind.RECONCILE, "mcis"),
        ("/v1/ns/dev/mcis/web/groups/g2/reboot", OperationKind.REBOOT, "group g2"),
        ("/v1/ns/dev/mcis/web/vms/g2-1/resume", OperationKind.RESUME, "vm g2-1"),
        ("/v1/ns/dev/mcis/web/vms/g2-1/terminate", OperationKind.TERMINATE, "vm g2-1"),
    ],
)
async def test_each_action_is_sent_with_its_scope(
    http: httpx.AsyncClient, accepting: list[Any], path: str, kind: OperationKind, scope: str
) -> None:
    answer = await http.post(path)
    assert answer.status_code == 202, answer.text
    assert (answer.json()["kind"], answer.json()["scope"]) == (kind.value, scope)
    assert [(r.kind, r.scope, r.force) for r in accepting] == [(kind, scope, False)]


async def test_remove_vm_is_a_delete_of_the_vm(
    http: httpx.AsyncClient, accepting: list[Any]
) -> None:
    answer = await http.delete("/v1/ns/dev/mcis/web/vms/g1-2?force=true")
    assert answer.status_code == 202, answer.text
    assert [(r.kind, r.vm, r.force) for r in accepting] == [(OperationKind.REMOVE_VM, "g1-2", True)]


@pytest.mark.parametrize(
    ("refusal", "failure_type", "status", "error"),
    [
        ("MCIS 'web' is busy: suspend in flight; wait for it", "Busy", 409, "conflict"),
        ("MCIS 'web' is being deleted", "Refused", 409, "conflict"),
        ("cannot resume mcis of MCIS 'web': status Running (2/2)", "Refused", 409, "conflict"),
        ("VM 'g9-1' not found in MCIS 'web' (VMs: g1-1, g1-2)", "Refused", 404, "not_found"),
    ],
)
async def test_operations_the_mcis_refuses_are_409_or_404(
    http: httpx.AsyncClient,
    accepting: list[Any],
    monkeypatch: pytest.MonkeyPatch,
    refusal: str,
    failure_type: str,
    status: int,
    error: str,
) -> None:
    async def refuse(_handle: Any, _request: Any) -> OperationRecord:
        raise OperationRefusedError(refusal, failure_type)

    monkeypatch.setattr(mcis_routes, "accept_operation", refuse)
    answer = await http.post("/v1/ns/dev/mcis/web/resume")
    assert answer.status_code == status
    assert answer.json() == {"error": error, "message": refusal}


async def test_an_unexpected_failure_is_a_500_without_a_traceback(
    http: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def broken(*_: Any) -> Any:
        raise RuntimeError("secret internals at /srv/x.py line 3")

    monkeypatch.setattr(mcis_routes, "running_handle", broken)
    answer = await http.post("/v1/ns/dev/mcis/web/suspend")
    assert answer.status_code == 500
    assert answer.json() == {"error": "internal", "message": "internal error: RuntimeError"}


async def test_temporal_out_of_reach_is_a_503(settings: Settings) -> None:
    address = f"127.0.0.1:{processes.free_port()}"  # nothing listens there
    unreachable = load_settings({**isolated_env(settings.home, "x"), "TEMPORAL_ADDRESS": address})
    app = create_app(unreachable)
    async with await client_of(app, ("default", "default")) as client:
        answer = await client.get("/v1/ns/dev/mcis/web")
    assert answer.status_code == 503
    assert answer.json() == {
        "error": "unavailable",
        "message": f"cannot reach Temporal at {address}: is it running? (`mcis stack up`)",
    }


def test_a_port_in_use_is_one_clear_line_before_the_server_starts(settings: Settings) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        busy = dataclasses.replace(settings, spider_port=port)
        with pytest.raises(CliError) as refused:
            asyncio.run(serve(busy))
    assert refused.value.message == (
        f"cannot serve the CB-Spider endpoints at 127.0.0.1:{port}: the port is in use "
        "(set MCIS_SPIDER_PORT)"
    )
