"""A large MCIS end to end through the `mcis` CLI on the real stack (phantom VMs): 5,000 VMs
created, suspended, resumed and deleted with the cloud's inventory checked after each step; a
10,000-VM create whose every workflow run stays within stated bounds of history and payload
(issue #13)."""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

import pytest
from temporalio.client import Client

from bench.history_stats import HistoryStats
from models.naming import mcis_workflow_id
from tests.e2e.conftest import E2E
from tests.e2e.test_create_delete import live
from tests.history_bounds import assert_history_within

pytestmark = pytest.mark.e2e

CLOUDS = ("aws", "gcp", "azure")
MAX_EVENTS_PER_RUN = 5_000  # Temporal refuses a run past 51,200
MAX_PAYLOAD_BYTES = 512 * 1024  # Temporal refuses a payload past 2 MiB
MAX_HISTORY_BYTES_PER_RUN = 32 * 1024 * 1024  # Temporal refuses a run past 50 MiB
TIMEOUT_S = 600


@pytest.fixture(scope="module")
def ns(e2e: E2E) -> str:
    e2e.ok("ns", "create", "large")
    return "large"


def spread(e2e: E2E, regions: int, total: int) -> list[str]:
    """`--group` arguments for `total` VMs over `regions` regions of three clouds, in turn."""
    specs: dict[str, list[dict[str, Any]]] = {}
    for provider in CLOUDS:
        by_region: dict[str, dict[str, Any]] = {}
        for spec in e2e.json("catalog", "specs", "--provider", provider):
            by_region.setdefault(spec["region"], spec)
        specs[provider] = list(by_region.values())
    chosen = [specs[CLOUDS[i % 3]][i // 3] for i in range(regions)]
    args = []
    for i, spec in enumerate(chosen):
        provider, region = spec["provider"], spec["region"]
        images = e2e.json("catalog", "images", "--provider", provider, "--region", region)
        count = total // regions + (1 if i < total % regions else 0)
        args += ["--group", f"{spec['id']},{images[0]['id']},{count}"]
    return args


def natives(e2e: E2E, uid: str) -> Counter[str]:
    return Counter(vm["native_status"] for vm in live(e2e.cloud_vms(uid)))


def test_a_5000_vm_mcis_is_created_suspended_resumed_and_deleted(e2e: E2E, ns: str) -> None:
    status = e2e.json("create", ns, "big", *spread(e2e, 20, 5000), timeout=TIMEOUT_S)
    assert status["counts"] == {"Running": 5000}, status["display"]
    assert len(status["vms"]) == 5000  # every VM listed, read from the store a page at a time
    uid = status["uid"]
    assert sum(natives(e2e, uid).values()) == 5000
    assert set(natives(e2e, uid)) <= {"running", "RUNNING", "Running"}

    status = e2e.json("suspend", ns, "big", timeout=TIMEOUT_S)
    assert status["counts"] == {"Suspended": 5000}, status["display"]
    assert sum(natives(e2e, uid).values()) == 5000
    assert not set(natives(e2e, uid)) & {"running", "RUNNING", "Running"}

    status = e2e.json("resume", ns, "big", timeout=TIMEOUT_S)
    assert status["counts"] == {"Running": 5000}, status["display"]
    assert set(natives(e2e, uid)) <= {"running", "RUNNING", "Running"}

    e2e.ok("delete", ns, "big", timeout=TIMEOUT_S)
    assert live(e2e.cloud_vms(uid)) == []
    assert e2e.json("list", ns) == []


async def history_of(e2e: E2E, workflow_id: str) -> HistoryStats:
    settings = e2e.settings
    client = await Client.connect(settings.temporal_address, namespace=settings.temporal_namespace)
    return await assert_history_within(
        client,
        workflow_id,
        MAX_EVENTS_PER_RUN,
        MAX_PAYLOAD_BYTES,
        max_bytes_per_run=MAX_HISTORY_BYTES_PER_RUN,
    )


def test_a_10000_vm_create_keeps_every_run_within_the_history_bounds(e2e: E2E, ns: str) -> None:
    status = e2e.json("create", ns, "huge", *spread(e2e, 50, 10_000), timeout=TIMEOUT_S)
    assert status["counts"] == {"Running": 10_000}, status["display"]
    e2e.ok("delete", ns, "huge", timeout=TIMEOUT_S)
    stats = asyncio.run(history_of(e2e, mcis_workflow_id(ns, "huge")))
    assert len(stats.runs) >= 2  # the create's run, continued as new, then the delete's
