"""Benchmarks on real VMs end to end through the CLI: a 6-VM MCIS over 3 regions, two specs
with a 0.5-core CPU cap (2 vCPUs) and one with 0.25 (1 vCPU); `mcis bench` gives all ten
measures of every VM and stores them; the catalog learns a performance score per spec and the
RTT of every region pair, within 20 % of the local cloud's matrix; the tighter-capped spec
scores lower and ranks last on performance. Bad input starts no workflow."""

from __future__ import annotations

import re
from typing import Any

import pytest

from catalog.records import CatalogSpec, RttSource
from catalog.store import CatalogStore
from localcloud.netns.choose import missing_requirements
from models.benchmark import BenchAction
from models.records import ResourceKind
from store.repository import Store
from tests.e2e.conftest import E2E
from tests.e2e.test_create_delete import decoded_history, temporal_cli

MISSING = missing_requirements()
pytestmark = [
    pytest.mark.e2e,
    pytest.mark.realvm,
    pytest.mark.skipif(MISSING is not None, reason=f"real VMs need root and tools: {MISSING}"),
]

LOOSE = ("aws", "us-east-1", "t3.micro")  # 2 vCPUs: half a core
ALSO_LOOSE = ("gcp", "europe-west1", "e2-micro")  # 2 vCPUs
TIGHT = ("azure", "koreacentral", "Standard_B1s")  # 1 vCPU: a quarter of a core
SPECS = [LOOSE, ALSO_LOOSE, TIGHT]


def spec_id(spec: tuple[str, str, str]) -> str:
    return "+".join(spec)


@pytest.fixture(scope="module")
def mcis(real: E2E) -> dict[str, Any]:
    groups = []
    for provider, region, name in SPECS:
        image = real.json("catalog", "images", "--provider", provider, "--region", region)[0]
        groups += ["--group", f"{provider}+{region}+{name},{image['id']},2"]
    status = real.json("create", "real", "perf", *groups)
    assert status["counts"] == {"Running": 6}
    return dict(status)


@pytest.fixture(scope="module")
def rows(real: E2E, mcis: dict[str, Any]) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = real.json("bench", "real", "perf", "--seconds", "1", timeout=300)
    return found


def test_bad_input_starts_no_workflow(real: E2E) -> None:
    for args, message in (
        (("--action", "cpus,disk"), "unknown benchmark action 'disk'"),
        (("--target", "example.com"), "target 'example.com' is not an IP address"),
        (("--seconds", "0"), "bench: argument --seconds: invalid whole number 1..60"),
    ):
        done = real.run("bench", "real", "perf", *args)
        assert done.returncode == 2 and done.stdout == "", done
        assert done.stderr.startswith(f"mcis: {message}") and done.stderr.count("\n") == 1
    missing = real.run("bench", "real", "nothing")
    assert (missing.returncode, missing.stderr) == (
        2,
        "mcis: MCIS 'nothing' not found in namespace 'real'\n",
    )
    listed = temporal_cli(real, "workflow", "list", "--query", "WorkflowType='BenchmarkWorkflow'")
    assert "bench/" not in listed


def test_every_vm_has_all_ten_measures(mcis: dict[str, Any], rows: list[dict[str, Any]]) -> None:
    assert [r for r in rows if r["error"]] == []
    names = {vm["id"] for vm in mcis["vms"]}
    for name in names:
        mine = [r for r in rows if r["vm"] == name]
        assert {r["action"] for r in mine} == {a.value for a in BenchAction}
        assert all(r["value"] > 0 and r["measured_at"] for r in mine)
        peers = {r["target"] for r in mine if r["action"] == "mrtt"}
        assert peers == names - {name}


def test_results_are_stored(real: E2E, rows: list[dict[str, Any]]) -> None:
    stored = real.json("bench", "real", "perf", "--show")
    assert stored == rows
    table = real.ok("bench", "real", "perf", "--show")
    assert re.search(
        r"^g3-1\s+Standard_B1s\s+azure/koreacentral\s+cpus\s+-\s+[\d.]+\s+events/s$",
        table,
        re.MULTILINE,
    ), table


def test_mrtt_matches_the_matrix(real: E2E, rows: list[dict[str, Any]]) -> None:
    matrix = real.cloud("/v1/latency")["rtt_ms"]
    measured = {
        (e.a, e.b): e.rtt_ms
        for e in CatalogStore(real.settings.database_url).rtt_entries()
        if e.source is RttSource.MEASURED
    }
    keys = sorted(f"{p}/{r}" for p, r, _ in SPECS)
    assert set(measured) == {(a, b) for a in keys for b in keys if a <= b}
    for (a, b), rtt_ms in measured.items():
        assert abs(rtt_ms - matrix[a][b]) <= 0.2 * matrix[a][b], (a, b, rtt_ms, matrix[a][b])


def test_the_tighter_cap_measures_slower_and_ranks_lower(
    real: E2E, rows: list[dict[str, Any]]
) -> None:
    specs: dict[str, CatalogSpec] = {
        s.id: s for s in CatalogStore(real.settings.database_url).specs()
    }
    scores = {spec_id(s): specs[spec_id(s)].performance for s in SPECS}
    assert all(score is not None for score in scores.values()), scores
    tight, loose = scores[spec_id(TIGHT)], scores[spec_id(LOOSE)]
    assert tight is not None and loose is not None
    assert tight < 0.7 * loose and tight < 0.7 * (scores[spec_id(ALSO_LOOSE)] or 0), scores
    cpus = {(r["vm"], r["spec"]): r["value"] for r in rows if r["action"] == "cpus"}
    assert max(v for (_, s), v in cpus.items() if s == spec_id(TIGHT)) < min(
        v for (_, s), v in cpus.items() if s != spec_id(TIGHT)
    ), cpus

    regions = [arg for p, r, _ in SPECS for arg in ("--region", f"{p}/{r}")]
    ranked = real.json("recommend", "--priority", "performance=1", "--memory", "1..1", *regions)
    assert [item["spec"]["id"] for item in ranked][-1] == spec_id(TIGHT)
    assert {item["spec"]["id"] for item in ranked} == {spec_id(s) for s in SPECS}
    assert ranked[-1]["scores"]["performance"] == 0


def test_no_private_key_in_the_benchmark_histories(real: E2E, rows: list[dict[str, Any]]) -> None:
    listed = temporal_cli(real, "workflow", "list", "--query", "WorkflowType='BenchmarkWorkflow'")
    [run_id] = re.findall(r"bench/real/perf/[0-9a-f]+", listed)
    store = Store.from_settings(real.settings)
    bodies = [
        store.get_secret(key.secret_ref or "").splitlines()[1]
        for key in store.list_resources("real", ResourceKind.SSH_KEY)
    ]
    assert len(bodies) == 3
    for workflow_id in (run_id, f"{run_id}/tools", f"{run_id}/cpum-1", f"{run_id}/mrtt"):
        raw = temporal_cli(
            real, "workflow", "show", "--workflow-id", workflow_id, "--output", "json"
        )
        history = decoded_history(raw)
        assert "PRIVATE KEY" not in history
        assert not any(body in history for body in bodies)
