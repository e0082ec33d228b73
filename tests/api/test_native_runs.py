"""The native API's long runs other than remote commands, over HTTP (ASGI, temporary store,
Temporal double): the orphan sweep and benchmarks answer 202 with their workflow and a status
URL that reports the run, then its report; stored benchmark results are read back; bad input
is a 4xx JSON error and starts nothing."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from models.benchmark import BenchmarkProgress
from models.sweep import SweepReport
from tests.api.native_fakes import FakeContext, fake_app, http_client, refused_test, seed_mcis

MCIS = "/v1/ns/dev/mcis/web"


@pytest.fixture
def ctx_app(tmp_path: Path) -> tuple[FakeContext, httpx.AsyncClient]:
    app, ctx = fake_app(tmp_path)
    seed_mcis(ctx, "dev", "web", 2)
    return ctx, http_client(app)


async def test_a_sweep_answers_202_then_its_report(
    http: httpx.AsyncClient, ctx: FakeContext
) -> None:
    started = await http.post("/v1/sweep", json={"delete_orphans": True})
    assert started.status_code == 202, started.text
    workflow_id, url = started.json()["workflow_id"], started.json()["status_url"]
    assert workflow_id.startswith("sweep/") and started.headers["Location"] == url
    assert ctx.temporal.runs[workflow_id].input.delete_orphans is True
    assert (await http.get(url)).json()["state"] == "running"

    ctx.temporal.finish(workflow_id, SweepReport(regions=164, tagged=3))
    done = (await http.get(url)).json()
    assert done["state"] == "completed"
    assert (done["result"]["regions"], done["result"]["orphans"]) == (164, [])


async def test_a_sweep_without_a_body_only_lists(http: httpx.AsyncClient, ctx: FakeContext) -> None:
    started = (await http.post("/v1/sweep")).json()
    assert ctx.temporal.runs[started["workflow_id"]].input.delete_orphans is False


async def test_a_benchmark_answers_202_and_reports_its_progress(
    http: httpx.AsyncClient, ctx: FakeContext
) -> None:
    started = await http.post(f"{MCIS}/benchmarks", json={"action": "cpus,mrtt", "pings": 3})
    assert started.status_code == 202, started.text
    workflow_id, url = started.json()["workflow_id"], started.json()["status_url"]
    assert workflow_id.startswith("bench/dev/web/")
    assert url == f"{MCIS}/benchmarks/{workflow_id.rsplit('/', 1)[1]}"
    sent = ctx.temporal.runs[workflow_id].input
    assert ([a.value for a in sent.actions], sent.pings) == (["cpus", "mrtt"], 3)
    running = (await http.get(url)).json()
    assert (running["state"], running["progress"]) == ("running", None)  # no worker yet
    ctx.temporal.answers[workflow_id] = BenchmarkProgress(
        step="mrtt", index=2, total=2, vms_done=1, vms=2
    )
    assert (await http.get(url)).json()["progress"] == "web: mrtt (2/2), 1/2 VMs"
    ctx.temporal.fail(workflow_id, "sysbench is missing")
    assert (await http.get(url)).json()["error"] == "sysbench is missing"


async def test_stored_benchmark_results_are_read_back(http: httpx.AsyncClient) -> None:
    assert (await http.get(f"{MCIS}/benchmarks")).json() == []


test_bad_input_is_a_4xx_json_error_and_starts_nothing = refused_test(
    [
        ("POST", "/v1/sweep", {"delete_orphans": "please"}, 400, "delete_orphans"),
        ("GET", "/v1/sweep/xyz", None, 404, "sweep 'xyz' not found"),
        ("GET", "/v1/sweep/0123456789ab", None, 404, "not found"),
        ("POST", "/v1/ns/dev/mcis/none/benchmarks", None, 404, "MCIS 'none' not found"),
        ("POST", f"{MCIS}/benchmarks", {"action": "gpu"}, 400, "gpu"),
        ("POST", f"{MCIS}/benchmarks", {"seconds": 0}, 400, "seconds"),
        ("POST", f"{MCIS}/benchmarks", {"target": "not an ip"}, 400, "target"),
        ("GET", "/v1/ns/nowhere/mcis/web/benchmarks", None, 404, "namespace 'nowhere'"),
        ("GET", f"{MCIS}/benchmarks/zzz", None, 404, "not found"),
    ]
)
