"""Chaos, short form (the full form is `python -m bench.chaos`): each scenario once at small
size against a private stack; no run may leave a duplicate, an orphan, a leaked VM or an
inexact status. Also the pieces it counts with: the inventory, the table's figures, and the
local cloud's refusals (a permanent error for a rate of one action's requests)."""

from __future__ import annotations

import random
from collections import Counter
from pathlib import Path

import httpx
import pytest

from bench.chaos import (
    QUICK,
    SCENARIOS,
    Inventory,
    Outcome,
    Plan,
    chaos_in_private_stack,
    percentile,
    table,
)
from drivers.localcloud import error_from_response
from localcloud.errors import ApiError
from localcloud.faults import Faults, RefusalBody
from localcloud.state import CloudState


def cloud_vm(csp_id: str, vm: str, token: str = "") -> dict[str, object]:
    return {
        "id": csp_id,
        "tags": {"mcis-vm": vm},
        "native_status": "running",
        "client_token": token or f"token-{csp_id}",
    }


def test_inventory_counts_a_second_cloud_vm_for_one_mcis_vm_as_a_duplicate() -> None:
    live = [cloud_vm("i-1", "g-1"), cloud_vm("i-2", "g-1"), cloud_vm("i-3", "g-2")]
    inventory = Inventory(live=live, listed={"i-1", "i-3"})
    assert inventory.duplicates == 1
    assert inventory.unlisted == ["i-2"]


def test_inventory_counts_two_cloud_vms_of_one_client_token_as_a_duplicate() -> None:
    live = [cloud_vm("i-1", "g-1", "t"), cloud_vm("i-2", "g-2", "t")]
    assert Inventory(live=live, listed={"i-1", "i-2"}).duplicates == 1


def test_a_run_with_an_orphan_or_a_leak_is_not_clean_and_the_table_shows_it() -> None:
    clean = Outcome(
        "worker-create", 1, expected=3, at_cloud=3, exact=True, kills=2, recoveries=[2.5, 1.5]
    )
    orphaned = Outcome("worker-create", 2, expected=3, at_cloud=4, orphans=1, exact=True)
    leaked = Outcome("cloud-faults", 1, expected=3, at_cloud=3, leaked=2, exact=True)
    assert clean.clean and not orphaned.clean and not leaked.clean
    lines = table([clean, orphaned, leaked]).splitlines()
    assert lines[1].split() == [
        *("worker-create", "2", "3", "3-4", "0", "1", "0", "2/2", "2"),
        *("2.0", "s", "2.4", "s", "2.5", "s"),
    ]
    assert (
        lines[2].split() == ["cloud-faults", "1", "3", "3", "0", "0", "2", "1/1", "0"] + ["-"] * 3
    )
    assert lines[3].startswith("recovery over all 2 kills: median 2.0 s, p90 2.4 s")


def test_the_table_prints_each_scenarios_figures_summed_over_its_runs() -> None:
    runs = [
        Outcome("terminate-fault", n, expected=9, notes=Counter({"terminates refused": n}))
        for n in (1, 2)
    ]
    assert table(runs).splitlines()[-1] == "terminate-fault: terminates refused 3"


def test_percentiles_interpolate_between_ranks() -> None:
    values = [float(v) for v in range(1, 11)]
    assert percentile(values, 90) == pytest.approx(9.1)
    assert percentile([4.0], 90) == 4.0


def test_a_refusal_answers_its_rate_of_one_actions_requests_with_a_permanent_error(
    tmp_path: Path,
) -> None:
    faults = Faults(CloudState(tmp_path / "cloud.db"), random.Random(1))
    faults.put_refusal(RefusalBody(action="terminate", rate=0.3, seed=5))
    faults.put_refusal(RefusalBody(action="create", flavor="aws", region="us-east-1"))

    def refused(action: str, flavor: str, region: str, times: int) -> int:
        count = 0
        for _ in range(times):
            try:
                faults.refuse(action, flavor, region)
            except ApiError as exc:
                assert (exc.status, exc.code) == (400, "OperationNotPermitted")
                count += 1
        return count

    assert 240 <= refused("terminate", "gcp", "us-central1", 1000) <= 360
    assert refused("create", "aws", "us-east-1", 10) == 10
    assert refused("create", "aws", "us-west-2", 10) == 0  # another region
    assert refused("suspend", "aws", "us-east-1", 10) == 0  # another action
    assert faults.injected["refused"] > 250
    faults.put_refusal(RefusalBody(action="create", flavor="aws", region="us-east-1", rate=0))
    assert [r["action"] for r in faults.refusals()] == ["terminate"]
    faults.clear_refusals()
    assert refused("terminate", "gcp", "us-central1", 10) == 0


def test_the_same_seed_refuses_the_same_requests(tmp_path: Path) -> None:
    fates = []
    for _ in range(2):
        faults = Faults(CloudState(tmp_path / "cloud.db"), random.Random())
        faults.put_refusal(RefusalBody(action="terminate", rate=0.5, seed=11))
        fates.append([_refuses(faults) for _ in range(50)])
    assert fates[0] == fates[1]


def _refuses(faults: Faults) -> bool:
    try:
        faults.refuse("terminate", "aws", "us-east-1")
    except ApiError:
        return True
    return False


def test_drivers_take_a_refusal_for_an_error_not_worth_retrying() -> None:
    body = {"error": {"code": "OperationNotPermitted", "message": "terminate not permitted"}}
    error = error_from_response(httpx.Response(400, json=body))
    assert not error.retryable and error.code == "OperationNotPermitted"


@pytest.mark.e2e
def test_every_chaos_scenario_once_leaves_no_duplicate_no_orphan_and_an_exact_status(
    tmp_path: Path,
) -> None:
    seed = random.randrange(1_000_000)
    lines: list[str] = []
    outcomes = chaos_in_private_stack(Plan(QUICK, 1, SCENARIOS, seed, tmp_path), lines.append)
    report = f"seed {seed}\n" + "\n".join(lines) + "\n" + table(outcomes)
    assert [o.scenario for o in outcomes] == list(SCENARIOS), report
    assert all(o.clean for o in outcomes), report
    assert sum(o.kills for o in outcomes) >= QUICK.kills + QUICK.cycle_kills, report
    assert all(o.notes["histories replayed"] >= 1 for o in outcomes), report
