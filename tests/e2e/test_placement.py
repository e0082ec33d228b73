"""End to end: `mcis create --recommend` plans an MCIS within a latency bound and creates it
through the normal create path; the public catalog loads with `mcis catalog refresh`."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import E2E

pytestmark = pytest.mark.e2e


def test_create_with_recommend(e2e: E2E) -> None:
    e2e.ok("ns", "create", "placed")
    status = e2e.json(
        "create",
        "placed",
        "near",
        "--recommend",
        "--count",
        "3",
        "--vcpus",
        "2..4",
        "--memory",
        "4..16",
        "--priority",
        "cost=0.5,latency=0.5",
        "--latency-to",
        "aws/ap-northeast-2",
        "--latency-bound",
        "40",
        "--min-regions",
        "2",
        timeout=300,
    )
    assert status["status"] == "Running", status["display"]
    assert len(status["vms"]) == 3
    assert len({(vm["provider"], vm["region"]) for vm in status["vms"]}) == 2
    assert len(e2e.cloud_vms(status["uid"])) == 3
    e2e.ok("delete", "placed", "near", timeout=300)


def test_refresh_loads_public_clouds(e2e: E2E) -> None:
    report = e2e.json("catalog", "refresh")
    assert report["counts"]["specs"]["aws-public"] > 10_000
    assert report["seconds"] < 30
    best = e2e.json("recommend", "--vcpus", "2", "--memory", "2..8", "--provider", "gce-public")
    assert best and all(item["spec"]["provider"] == "gce-public" for item in best)
