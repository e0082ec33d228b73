"""Auto-control policies over HTTP (ASGI, temporary store, Temporal double): a policy registered
on a live MCIS starts its policy workflow with the MCIS's uid and answers its status; a
namespace lists the policies that exist; an MCIS without a policy, a stopped MCIS or a bad
policy are 4xx JSON errors with nothing started; CPU load is simulated on phantom VMs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
from temporalio.client import WorkflowExecutionStatus

from models.policy import Policy, PolicyState, PolicyView
from models.status import VmStatus
from tests.api.native_fakes import (
    FakeContext,
    FakeRun,
    fake_app,
    http_client,
    refused_test,
    seed_mcis,
)
from tests.starter.fakes import view

MCIS = "/v1/ns/dev/mcis/web"
POLICY: dict[str, Any] = {
    "sample_interval_s": 1,
    "min_vms": 2,
    "max_vms": 4,
    "rules": [
        {
            "condition": {"metric": "cpu", "operator": ">=", "operand": 80},
            "action": {"kind": "ScaleOut", "count": 1, "group": "g1"},
        }
    ],
}


@pytest.fixture
def ctx_app(tmp_path: Path) -> tuple[FakeContext, httpx.AsyncClient]:
    app, ctx = fake_app(tmp_path)
    seed_mcis(ctx, "dev", "web", 2)
    return ctx, http_client(app)


def _running_mcis(ctx: FakeContext) -> None:
    ctx.temporal.runs["mcis/dev/web"] = FakeRun(None, WorkflowExecutionStatus.RUNNING)
    ctx.temporal.answers["mcis/dev/web"] = view({VmStatus.RUNNING: 2})


def _policy_view() -> PolicyView:
    return PolicyView(
        namespace="dev",
        mcis="web",
        state=PolicyState.READY,
        paused=False,
        policy=Policy.model_validate(POLICY),
        samples={},
        last_sample=None,
        decisions=[],
        cooldown_until=None,
        checks=0,
        runs=1,
    )


async def test_a_policy_is_registered_on_a_live_mcis_and_shown(
    http: httpx.AsyncClient, ctx: FakeContext
) -> None:
    _running_mcis(ctx)
    ctx.temporal.answers["policy/dev/web"] = _policy_view()
    created = await http.post(f"{MCIS}/policy", json=POLICY)
    assert created.status_code == 201, created.text
    assert (created.json()["state"], created.json()["policy"]["max_vms"]) == ("Ready", 4)
    assert ctx.temporal.calls == ["start_workflow policy/dev/web"]
    sent = ctx.temporal.runs["policy/dev/web"].input
    assert (sent.mcis_uid, sent.policy.min_vms) == ("uid-1", 2)

    shown = await http.get(f"{MCIS}/policy")
    assert shown.json()["state"] == "Ready"
    assert [p["mcis"] for p in (await http.get("/v1/ns/dev/policies")).json()] == ["web"]


async def test_a_namespace_without_policies_lists_none(http: httpx.AsyncClient) -> None:
    assert (await http.get("/v1/ns/dev/policies")).json() == []


async def test_load_on_phantom_vms_is_simulated(
    http: httpx.AsyncClient, ctx: FakeContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    asked: list[tuple[dict[str, str], float]] = []

    async def health() -> dict[str, str]:
        return {"backend": "phantom"}

    async def simulate_load(tags: dict[str, str], cpu: float) -> int:
        asked.append((tags, cpu))
        return 1

    monkeypatch.setattr(ctx.admin, "health", health)
    monkeypatch.setattr(ctx.admin, "simulate_load", simulate_load)
    answer = await http.post(f"{MCIS}/load", json={"cpu": 85, "vm": "g1-2"})
    assert answer.json() == {"simulated": True, "vms": 1, "cpu_percent": 85}
    assert asked == [({"mcis-namespace": "dev", "mcis-name": "web", "mcis-vm": "g1-2"}, 85.0)]
    assert ctx.temporal.calls == []


test_bad_input_is_a_4xx_json_error_and_starts_nothing = refused_test(
    [
        ("GET", f"{MCIS}/policy", None, 404, "no policy runs for MCIS 'web'"),
        ("POST", f"{MCIS}/policy/pause", None, 404, "no policy runs"),
        ("DELETE", f"{MCIS}/policy", None, 404, "no policy runs"),
        ("POST", f"{MCIS}/policy", POLICY, 404, "MCIS 'web' not found"),
        ("POST", f"{MCIS}/policy", {**POLICY, "rules": []}, 400, "rules"),
        ("POST", f"{MCIS}/policy", {**POLICY, "min_vms": 9}, 400, "above max_vms"),
        ("GET", "/v1/ns/nowhere/policies", None, 404, "namespace 'nowhere'"),
        ("POST", f"{MCIS}/load", {"cpu": 0}, 400, "cpu"),
        ("POST", "/v1/ns/dev/mcis/none/load", {}, 404, "MCIS 'none' not found"),
    ]
)
