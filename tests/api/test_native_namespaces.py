"""`/v1/ns` over HTTP (ASGI, temporary store): namespaces created, listed, shown and deleted as
`mcis ns` does, with the CLI seeing what the API made; bad and unknown names are 4xx JSON."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from models.records import ResourceKind
from starter.cli import run
from tests.api.native_fakes import FakeContext, fake_app, http_client, refused, resource_record


@pytest.fixture
def ctx_app(tmp_path: Path) -> tuple[FakeContext, httpx.AsyncClient]:
    app, ctx = fake_app(tmp_path)
    return ctx, http_client(app)


async def test_a_namespace_is_created_listed_shown_and_deleted(http: httpx.AsyncClient) -> None:
    created = await http.post("/v1/ns", json={"name": "dev", "description": "team dev"})
    assert created.status_code == 201, created.text
    assert (created.json()["name"], created.json()["description"]) == ("dev", "team dev")
    assert [n["name"] for n in (await http.get("/v1/ns")).json()] == ["dev"]
    assert (await http.get("/v1/ns/dev")).json()["description"] == "team dev"

    deleted = await http.delete("/v1/ns/dev")
    assert (deleted.status_code, deleted.json()["deleted"]) == (200, "dev")
    assert (await http.get("/v1/ns")).json() == []


async def test_the_cli_lists_what_the_api_created(
    http: httpx.AsyncClient,
    ctx: FakeContext,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    await http.post("/v1/ns", json={"name": "shared"})
    monkeypatch.setenv("MCIS_HOME", str(ctx.settings.home))
    monkeypatch.setenv("MCIS_DATABASE_URL", ctx.settings.database_url)
    assert await run(["ns", "list", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert listed == (await http.get("/v1/ns")).json()


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "says"),
    [
        ("POST", "/v1/ns", {"name": "Dev Team"}, 400, "namespace"),
        ("POST", "/v1/ns", {}, 400, "body.name: Field required"),
        ("POST", "/v1/ns", {"name": "dev", "descripton": "typo"}, 400, "Extra inputs"),
        ("GET", "/v1/ns/nowhere", None, 404, "namespace 'nowhere' does not exist"),
        ("DELETE", "/v1/ns/nowhere", None, 404, "namespace 'nowhere' not found"),
        ("GET", "/v1/ns/BAD_NAME", None, 400, "namespace"),
    ],
)
async def test_bad_or_unknown_names_are_4xx_json(
    http: httpx.AsyncClient, method: str, path: str, body: object, status: int, says: str
) -> None:
    answer = await refused(http, method, path, body, status, says)
    assert answer.json()["error"]


async def test_a_second_namespace_of_a_name_is_a_conflict(http: httpx.AsyncClient) -> None:
    await http.post("/v1/ns", json={"name": "dev"})
    again = await http.post("/v1/ns", json={"name": "dev"})
    assert (again.status_code, again.json()["error"]) == (409, "conflict")


async def test_a_namespace_holding_resources_is_not_deleted(
    http: httpx.AsyncClient, ctx: FakeContext
) -> None:
    await http.post("/v1/ns", json={"name": "dev"})
    ctx.store.upsert_resource(resource_record(ResourceKind.VNET, "net1", csp_id="vpc-1"))
    refusal = await http.delete("/v1/ns/dev")
    assert (refusal.status_code, refusal.json()["error"]) == (409, "conflict")
    assert refusal.json()["message"] == "namespace 'dev' still holds 1 resource"
    assert (await http.get("/v1/ns/dev")).status_code == 200
