"""`mcis recommend`, `mcis catalog specs` and `mcis create --recommend --dry-run` through the
CLI (in process) on a catalog the CLI loads from a real local cloud process."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from catalog.local_cloud import local_cloud_catalog
from catalog.ranking import (
    Criterion,
    Preferences,
    Range,
    RttMatrix,
    SpecFilter,
    SpecTable,
    recommend,
)
from localcloud.flavors import FLAVORS
from starter.cli import run
from starter.errors import CliError
from tests.unit.test_localcloud_api import LocalCloudProcess

TARGETS = "aws/ap-northeast-2,gcp/asia-northeast3"


@pytest.fixture(scope="module")
def cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCloudProcess]:
    process = LocalCloudProcess(tmp_path_factory.mktemp("placement-cloud") / "cloud.db")
    process.start()
    yield process
    process.stop()


@pytest.fixture
def home(cloud: LocalCloudProcess, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("MCIS_HOME", str(tmp_path))
    monkeypatch.setenv("MCIS_LOCALCLOUD_URL", cloud.url)
    monkeypatch.delenv("MCIS_DATABASE_URL", raising=False)
    return tmp_path


async def mcis_json(capsys: pytest.CaptureFixture[str], *args: str) -> Any:
    capsys.readouterr()
    assert await run([*args, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


async def test_recommend_json(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    found = await mcis_json(
        capsys,
        "recommend",
        "--vcpus",
        "2..4",
        "--memory",
        "4..16",
        "--priority",
        "cost=0.6,latency=0.4",
        "--latency-to",
        TARGETS,
        "--limit",
        "7",
    )
    assert len(found) == 7
    for item in found:
        spec = item["spec"]
        assert {"id", "provider", "region", "vcpus", "memory_gib", "price_per_hour"} <= set(spec)
        assert spec["provider"] in FLAVORS  # the public clouds load with `catalog refresh` only
        assert 2 <= spec["vcpus"] <= 4 and 4 <= spec["memory_gib"] <= 16
        assert set(item["scores"]) == {"cost", "latency"}
        expected = 0.6 * item["scores"]["cost"] + 0.4 * item["scores"]["latency"]
        assert item["total"] == pytest.approx(expected, abs=1e-5)
    totals = [item["total"] for item in found]
    assert totals == sorted(totals, reverse=True)
    # the same ranking as the pure function over the local cloud's catalog
    regions, specs = await local_cloud_catalog()
    coordinates = {r.key: (r.latitude, r.longitude) for r in regions}
    prefs = Preferences(
        {Criterion.COST: 0.6, Criterion.LATENCY: 0.4}, latency_to=tuple(TARGETS.split(","))
    )
    shape = SpecFilter(vcpus=Range(2, 4), memory=Range(4, 16))
    direct = recommend(
        SpecTable.from_specs(specs, coordinates), shape, prefs, RttMatrix(coordinates), 7
    )
    assert [item["spec"]["id"] for item in found] == [r.spec.id for r in direct]


async def test_weights_reorder_through_the_cli(
    home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cheap = await mcis_json(capsys, "recommend", "--priority", "cost", "--limit", "1")
    near = await mcis_json(
        capsys, "recommend", "--priority", "cost=0.01,location=1", "--near", "51.5,-0.13"
    )
    assert cheap[0]["spec"]["id"] == "openstack+RegionOne+m1.tiny"
    assert near[0]["spec"]["region"] in ("eu-west-2", "uksouth", "europe-west2", "eu-west-1")
    assert near[0]["measures"]["distance_km"] < 10  # a region in London


async def test_catalog_specs_reads_the_store(
    home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    found = await mcis_json(capsys, "catalog", "specs", "--provider", "aws", "--vcpus", "2..4")
    assert found and {s["provider"] for s in found} == {"aws"}
    prices = [s["price_per_hour"] for s in found]
    assert prices == sorted(prices)
    same = await mcis_json(
        capsys, "catalog", "specs", "--provider", "aws", "--min-vcpus", "2", "--max-vcpus", "4"
    )
    assert same == found
    with pytest.raises(CliError, match="unknown cloud 'nope'"):
        await run(["catalog", "specs", "--provider", "nope"])


async def test_create_recommend_dry_run(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert await run(["ns", "create", "place"]) == 0
    answer = await mcis_json(
        capsys,
        "create",
        "place",
        "web",
        "--recommend",
        "--count",
        "4",
        "--vcpus",
        "2..4",
        "--memory",
        "4..16",
        "--latency-bound",
        "40",
        "--min-regions",
        "2",
        "--dry-run",
    )
    plan, request = answer["plan"], answer["request"]
    assert plan["vm_count"] == 4 and len(plan["regions"]) == 2
    assert plan["max_rtt_ms"] < 40
    assert sum(g["count"] for g in request["groups"]) == 4
    for group in request["groups"]:
        assert group["spec"].split("+")[:2] == group["image"].split("+")[:2]
    assert plan["hourly_cost"] == pytest.approx(
        sum(g["spec"]["price_per_hour"] * g["count"] for g in plan["groups"])
    )
    with pytest.raises(CliError, match="no placement: no 2 regions are within 1 ms"):
        await run(
            [
                "create",
                "place",
                "web",
                "--recommend",
                "--count",
                "2",
                "--min-regions",
                "2",
                "--latency-bound",
                "1",
                "--dry-run",
            ]
        )
    with pytest.raises(CliError, match="needs --count"):
        await run(["create", "place", "web", "--recommend", "--dry-run"])
