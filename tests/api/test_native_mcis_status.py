"""`GET /v1/ns/NS/mcis/NAME` is `mcis status --json`: for an MCIS too large for its status
query to list the VMs, every VM is read from the store a page at a time; an operation is read
by its id among the recent ones (httpx over ASGI, the workflow's answers scripted)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from api.app import create_app
from api.native.status_reads import StatusReads
from models.lifecycle import OperationKind, OperationRecord, OperationState
from models.mcis import McisView
from models.records import NamespaceRecord
from settings import load_settings
from starter.stack import isolated_env
from tests.api.conftest import CREDENTIALS, PASSWORD, USERNAME
from tests.api.test_auth_errors import NoTemporal
from tests.starter.test_status_command import VMS, large_view, pages_read, store_vms

DONE = OperationRecord(id=4, kind=OperationKind.REBOOT, scope="group g", state=OperationState.DONE)


@pytest.fixture
async def http(tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    settings = load_settings({**isolated_env(tmp_path, "mcis-api-unit"), **CREDENTIALS})
    ctx = NoTemporal(settings)
    ctx.store.create_namespace(NamespaceRecord(name="dev"))
    store_vms(ctx.store)
    app = create_app(settings, ctx)

    async def workflow(namespace: str, name: str) -> McisView | None:
        assert (namespace, name) == ("dev", "web")
        return large_view(DONE)

    app.state.status_reads = StatusReads(workflow)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(
        transport=transport, base_url="http://api", auth=(USERNAME, PASSWORD)
    ) as client:
        yield client


async def test_every_vm_of_a_large_mcis_is_read_from_the_store(
    http: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    pages = pages_read(monkeypatch)
    answer = await http.get("/v1/ns/dev/mcis/web")
    assert answer.status_code == 200
    shown = answer.json()
    assert (shown["total"], shown["vms_listed"], shown["status"]) == (
        VMS,
        True,
        "Partial-Running",
    )
    assert [vm["id"] for vm in shown["vms"]] == [f"g-{i}" for i in range(1, VMS + 1)]
    assert [vm["id"] for vm in shown["vms"] if vm["status"] == "Failed"] == shown["failed_vms"]
    assert pages == [1000, 234]


async def test_an_operation_is_read_by_its_id(http: httpx.AsyncClient) -> None:
    answer = await http.get("/v1/ns/dev/mcis/web/operations/4")
    assert answer.status_code == 200
    assert (answer.json()["kind"], answer.json()["state"]) == ("reboot", "done")
    missing = await http.get("/v1/ns/dev/mcis/web/operations/9")
    assert missing.status_code == 404
    assert missing.json() == {
        "error": "not_found",
        "message": "operation 9 is not among MCIS 'web''s recent operations (known: 4)",
    }
