"""Remote operations over HTTP (ASGI, temporary store, Temporal double): a command, a file put
and a deploy start the remote workflow on the VMs asked for and answer 202 with a status URL
that reports the run and then each VM's result with what it printed (or 200 at the end with
`?wait=true`); access shows how to reach the VMs, their private keys only when asked; bad
input is a 4xx JSON error and starts nothing."""

from __future__ import annotations

import base64
from pathlib import Path

import httpx
import pytest

from models.records import ResourceKind
from models.remote import RemoteResult, RemoteRun, VmOutput
from store.remote_outputs import RemoteOutputStore
from tests.api.native_fakes import (
    FakeContext,
    fake_app,
    http_client,
    refused_test,
    resource_record,
    seed_mcis,
)

MCIS = "/v1/ns/dev/mcis/web"
PRIVATE_KEY = "-----BEGIN OPENSSH PRIVATE KEY-----\nsecret\n-----END OPENSSH PRIVATE KEY-----\n"


@pytest.fixture
def ctx_app(tmp_path: Path) -> tuple[FakeContext, httpx.AsyncClient]:
    app, ctx = fake_app(tmp_path)
    seed_mcis(ctx, "dev", "web", 2, ssh_key="key1")
    return ctx, http_client(app)


def _summaries(*vms: str) -> list[RemoteResult]:
    return [RemoteResult(vm=vm, exit_code=0, duration_s=0.1, stdout_bytes=6) for vm in vms]


async def test_a_command_answers_202_and_its_status_url_reports_each_vm(
    http: httpx.AsyncClient, ctx: FakeContext
) -> None:
    started = await http.post(f"{MCIS}/cmd", json={"command": "hostname", "group": "g1"})
    assert started.status_code == 202, started.text
    workflow_id, url = started.json()["workflow_id"], started.json()["status_url"]
    assert started.headers["Location"] == url
    assert url == f"{MCIS}/remote/{workflow_id.rsplit('/', 1)[1]}"
    assert workflow_id.startswith("remote/dev/web/")
    sent = ctx.temporal.runs[workflow_id].input
    assert (sent.command, sent.query.group, sent.timeout_s) == ("hostname", "g1", 120.0)

    assert (await http.get(url)).json() == {
        "workflow_id": workflow_id,
        "state": "running",
        "result": None,
        "error": None,
        "progress": None,
    }
    ctx.temporal.finish(workflow_id, _summaries("g1-1", "g1-2"))
    outputs = RemoteOutputStore(ctx.settings.database_url)
    outputs.save(
        RemoteRun(workflow_id=workflow_id, run_id="run-1"),
        [VmOutput(vm="g1-1", stdout="host1\n"), VmOutput(vm="g1-2", stdout="host2\n")],
    )
    outputs.close()
    done = (await http.get(url)).json()
    assert done["state"] == "completed"
    assert [(r["vm"], r["exit_code"], r["stdout"]) for r in done["result"]] == [
        ("g1-1", 0, "host1\n"),
        ("g1-2", 0, "host2\n"),
    ]


async def test_a_failed_run_reports_why(http: httpx.AsyncClient, ctx: FakeContext) -> None:
    started = (await http.post(f"{MCIS}/cmd", json={"command": "true"})).json()
    ctx.temporal.fail(started["workflow_id"], "no VM is Running")
    failed = (await http.get(started["status_url"])).json()
    assert (failed["state"], failed["error"]) == ("failed", "no VM is Running")


async def test_wait_answers_once_the_command_has_ended(
    http: httpx.AsyncClient, ctx: FakeContext
) -> None:
    ctx.temporal.ends_with = _summaries("g1-1")
    answer = await http.post(f"{MCIS}/cmd?wait=true", json={"command": "uptime", "vm": "g1-1"})
    assert answer.status_code == 200, answer.text
    assert answer.json()["state"] == "completed"
    assert [r["vm"] for r in answer.json()["result"]] == ["g1-1"]


async def test_a_deploy_reports_each_vm_url(http: httpx.AsyncClient, ctx: FakeContext) -> None:
    ctx.temporal.ends_with = _summaries("g1-1", "g1-2")
    answer = await http.post(f"{MCIS}/deploy/nginx?wait=true")
    assert answer.status_code == 200, answer.text
    assert answer.json()["result"] == [
        {"vm": "g1-1", "ready": True, "url": "http://10.250.0.1", "error": None},
        {"vm": "g1-2", "ready": True, "url": "http://10.250.0.2", "error": None},
    ]
    ctx.temporal.ends_with = None
    started = (await http.post(f"{MCIS}/deploy/nginx", json={"group": "g1"})).json()
    assert "/deploy/nginx/" in started["status_url"]


async def test_a_file_is_put_through_the_encrypted_store(
    http: httpx.AsyncClient, ctx: FakeContext
) -> None:
    content = b"listen 80;\n"
    started = await http.post(
        f"{MCIS}/put",
        json={"destination": "/etc/app.conf", "content_base64": base64.b64encode(content).decode()},
    )
    assert started.status_code == 202, started.text
    sent = ctx.temporal.runs[started.json()["workflow_id"]].input
    assert sent.destination == "/etc/app.conf"
    assert base64.b64decode(ctx.store.get_secret(sent.file_ref)) == content


async def test_access_shows_the_private_key_only_when_asked(
    http: httpx.AsyncClient, ctx: FakeContext
) -> None:
    ctx.store.put_secret("ssh/dev/key1", PRIVATE_KEY)
    ctx.store.upsert_resource(
        resource_record(ResourceKind.SSH_KEY, "key1", csp_id="key1", secret_ref="ssh/dev/key1")
    )
    plain = await http.get(f"{MCIS}/access")
    assert plain.json()["private_keys"] is None
    assert PRIVATE_KEY not in plain.text
    assert plain.json()["vms"][0] == {
        "vm": "g1-1",
        "user": "root",
        "ip": "10.250.0.1",
        "port": 22,
        "status": "Running",
        "ssh_key": "key1",
    }
    asked = await http.get(f"{MCIS}/access?include_private_key=true")
    assert asked.json()["private_keys"] == {"key1": PRIVATE_KEY}


test_bad_input_is_a_4xx_json_error_and_starts_nothing = refused_test(
    [
        ("POST", "/v1/ns/dev/mcis/none/cmd", {"command": "x"}, 404, "MCIS 'none' not found"),
        ("POST", f"{MCIS}/cmd", {"command": "x", "group": "g9"}, 404, "group 'g9' not found"),
        ("POST", f"{MCIS}/cmd", {"command": "x", "vm": "g1-9"}, 404, "VM 'g1-9' not found"),
        ("POST", f"{MCIS}/cmd", {"command": ""}, 400, "at least 1 character"),
        ("POST", f"{MCIS}/cmd", {"command": "x", "timeout_s": 0}, 400, "timeout_s"),
        ("POST", f"{MCIS}/deploy/wordpress", None, 404, "unknown app 'wordpress'"),
        (
            "POST",
            f"{MCIS}/put",
            {"destination": "etc/x", "content_base64": "eA=="},
            400,
            "must be an absolute path",
        ),
        (
            "POST",
            f"{MCIS}/put",
            {"destination": "/etc/x", "content_base64": "not base64!"},
            400,
            "content_base64 is not valid base64",
        ),
        ("GET", f"{MCIS}/remote/nothex", None, 404, "remote run 'nothex' of MCIS 'web' not found"),
        ("GET", f"{MCIS}/remote/0123456789ab", None, 404, "not found"),
        ("GET", "/v1/ns/dev/mcis/none/access", None, 404, "MCIS 'none' not found"),
    ]
)
