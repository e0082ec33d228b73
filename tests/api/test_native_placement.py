"""End to end over the native API: an MCIS planned from filters and priorities (`mcis create
--recommend` over HTTP), first as a dry run that starts nothing, then created and deleted."""

from __future__ import annotations

import pytest

from tests.api.conftest import Api

pytestmark = pytest.mark.e2e

NS = "planned"
PLAN = f"/v1/ns/{NS}/mcis/plan"
WISH = {"name": "near", "count": 3, "latency_bound_ms": 40, "priority": "cost=1"}


def test_a_dry_run_answers_the_plan_and_starts_nothing(api: Api) -> None:
    assert api.http.post("/v1/ns", json={"name": NS}).status_code == 201
    answer = api.http.post(
        PLAN, params={"provider": ["gcp", "aws"]}, json={**WISH, "dry_run": True}
    )
    assert answer.status_code == 200, answer.text
    plan, request = answer.json()["plan"], answer.json()["request"]
    assert plan["vm_count"] == 3 and plan["max_rtt_ms"] <= 40
    assert sum(g["count"] for g in request["groups"]) == 3
    assert {g["spec"].split("+")[0] for g in request["groups"]} <= {"gcp", "aws"}
    assert api.http.get(f"/v1/ns/{NS}/mcis").json() == []


def test_the_planned_mcis_is_created_then_deleted(api: Api) -> None:
    answer = api.http.post(PLAN, params={"provider": "azure"}, json=WISH)
    assert answer.status_code == 202, answer.text
    status_url = answer.json()["status_url"]
    view = api.wait_for(status_url, lambda a: a.json().get("phase") == "active").json()
    assert (view["status"], view["total"]) == ("Running", 3)
    assert {vm["provider"] for vm in view["vms"]} == {"azure"}
    deleted = api.http.delete(status_url)
    assert deleted.status_code == 202, deleted.text
    api.wait_for(status_url, lambda a: a.status_code == 404)


def test_an_impossible_plan_is_a_clear_400(api: Api) -> None:
    answer = api.http.post(PLAN, params={"provider": "nowhere"}, json=WISH)
    assert answer.status_code == 400, answer.text
    assert answer.json() == {
        "error": "bad_request",
        "message": "unknown cloud 'nowhere' (known: alibaba, aws, azure, cloudit, gcp, openstack; "
        "public clouds appear after `mcis catalog refresh`)",
    }
    answer = api.http.post(PLAN, json={**WISH, "count": 0})
    assert answer.status_code == 400 and "count" in answer.json()["message"]
