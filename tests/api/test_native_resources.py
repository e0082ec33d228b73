"""`/v1/ns/NS/resources` over HTTP (ASGI, temporary store, Temporal double): a vNet created
through the resource workflow with the subnets asked for, resources listed and deleted; an SSH
key shown without its private key unless `?include_private_key=true`; bad input a 4xx JSON
error with no workflow started."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from temporalio.client import WorkflowExecutionStatus

from models.records import NamespaceRecord, ResourceKind
from tests.api.native_fakes import (
    FakeContext,
    FakeRun,
    fake_app,
    http_client,
    refused_test,
    resource_record,
)

PRIVATE_KEY = "-----BEGIN OPENSSH PRIVATE KEY-----\nsecret\n-----END OPENSSH PRIVATE KEY-----\n"


@pytest.fixture
def ctx_app(tmp_path: Path) -> tuple[FakeContext, httpx.AsyncClient]:
    app, ctx = fake_app(tmp_path)
    ctx.store.create_namespace(NamespaceRecord(name="dev"))
    ctx.__dict__["drivers"] = {"aws": object()}  # a cloud the namespace may use
    ctx.store.put_secret("ssh/dev/key1", PRIVATE_KEY)
    ctx.store.upsert_resource(
        resource_record(ResourceKind.SSH_KEY, "key1", secret_ref="ssh/dev/key1")
    )
    return ctx, http_client(app)


async def test_an_ssh_key_is_shown_without_its_private_key_unless_asked(
    http: httpx.AsyncClient,
) -> None:
    shown = (await http.get("/v1/ns/dev/resources/ssh-key/key1")).json()
    assert shown["name"] == "key1" and shown["private_key"] is None
    assert all(r["private_key"] is None for r in (await http.get("/v1/ns/dev/resources")).json())
    assert PRIVATE_KEY not in (await http.get("/v1/ns/dev/resources?kind=ssh-key")).text

    asked = await http.get("/v1/ns/dev/resources/ssh-key/key1?include_private_key=true")
    assert asked.json()["private_key"] == PRIVATE_KEY


async def test_a_vnet_is_created_by_the_resource_workflow(
    http: httpx.AsyncClient, ctx: FakeContext
) -> None:
    made = resource_record(ResourceKind.VNET, "net1", details={"cidr": "10.1.0.0/16"})
    workflow_id = f"mcir/dev/{ResourceKind.VNET.value}/net1"
    ctx.temporal.runs[workflow_id] = FakeRun(None, WorkflowExecutionStatus.COMPLETED, made)
    created = await http.post(
        "/v1/ns/dev/resources/vnet",
        json={
            "name": "net1",
            "provider": "aws",
            "region": "us-east-1",
            "cidr": "10.1.0.0/16",
            "subnets": ["main=10.1.0.0/24"],
        },
    )
    assert created.status_code == 201, created.text
    assert created.json()["csp_id"] == "csp-net1"
    assert ctx.temporal.calls == [f"execute_workflow {workflow_id}"]
    vnet = ctx.temporal.runs[workflow_id].input.vnet
    assert (vnet.cidr, [(s.name, s.cidr) for s in vnet.subnets]) == (
        "10.1.0.0/16",
        [("main", "10.1.0.0/24")],
    )


async def test_a_resource_is_deleted_by_the_resource_workflow(
    http: httpx.AsyncClient, ctx: FakeContext
) -> None:
    deleted = await http.delete("/v1/ns/dev/resources/ssh-key/key1")
    assert deleted.json() == {"deleted": "key1", "kind": "ssh-key"}
    assert ctx.temporal.calls == [f"execute_workflow mcir/dev/{ResourceKind.SSH_KEY.value}/key1"]


test_bad_input_is_a_4xx_json_error_and_starts_nothing = refused_test(
    [
        ("GET", "/v1/ns/nowhere/resources", None, 404, "namespace 'nowhere' does not exist"),
        ("GET", "/v1/ns/dev/resources?kind=disk", None, 400, "unknown resource kind 'disk'"),
        ("GET", "/v1/ns/dev/resources/vnet/none", None, 404, "vnet 'none' does not exist"),
        ("DELETE", "/v1/ns/dev/resources/vnet/none", None, 404, "does not exist"),
        (
            "POST",
            "/v1/ns/dev/resources/vnet",
            {"name": "n", "provider": "aws", "region": "r", "subnets": ["main"]},
            400,
            "subnets 'main': expected NAME=CIDR",
        ),
        (
            "POST",
            "/v1/ns/dev/resources/security-group",
            {"name": "sg", "provider": "aws", "region": "r", "vnet": "n", "rules": ["tcp:x"]},
            400,
            "rules 'tcp:x': ports must be numbers",
        ),
        (
            "POST",
            "/v1/ns/dev/resources/security-group",
            {"name": "sg", "provider": "aws", "region": "r"},
            400,
            'a security group needs its "vnet"',
        ),
        (
            "POST",
            "/v1/ns/dev/resources/vnet",
            {"name": "n", "provider": "nocloud", "region": "r"},
            400,
            "unknown cloud 'nocloud'",
        ),
        ("POST", "/v1/ns/dev/resources/vnet", {"provider": "aws"}, 400, "Field required"),
    ]
)
