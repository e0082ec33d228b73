"""Chaos, short form (the full form is `python -m bench.chaos`): each scenario once at small
size against a private stack; no run may leave a duplicate, an orphan or an inexact status."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from bench.chaos import (
    QUICK,
    SCENARIOS,
    Inventory,
    Outcome,
    Plan,
    chaos_in_private_stack,
    table,
)


def cloud_vm(csp_id: str, vm: str) -> dict[str, object]:
    return {"id": csp_id, "tags": {"mcis-vm": vm}, "native_status": "running"}


def test_inventory_counts_a_second_cloud_vm_for_one_mcis_vm_as_a_duplicate() -> None:
    live = [cloud_vm("i-1", "g-1"), cloud_vm("i-2", "g-1"), cloud_vm("i-3", "g-2")]
    inventory = Inventory(live=live, listed={"i-1", "i-3"})
    assert inventory.duplicates == 1
    assert inventory.unlisted == ["i-2"]


def test_a_run_with_an_orphan_is_not_clean_and_the_table_shows_it() -> None:
    clean = Outcome("worker-create", 1, expected=3, at_cloud=3, exact=True, recovery_s=2.5)
    orphaned = Outcome("worker-create", 2, expected=3, at_cloud=4, orphans=1, exact=True)
    assert clean.clean and not orphaned.clean
    row = table([clean, orphaned]).splitlines()[1].split()
    assert row == ["worker-create", "2", "3", "3-4", "0", "1", "2/2", "0", "2.5", "s"]


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
    assert sum(o.kills for o in outcomes) >= QUICK.kills, report  # the chaos happened
