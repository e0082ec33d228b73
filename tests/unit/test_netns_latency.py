"""The RTT matrix between regions (default from coordinates, YAML overrides, bad files), and
what the phantom backend serves of the real VMs' API: /v1/latency, zero metrics, VM keys."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from catalog.geo import estimated_rtt_ms, haversine_km
from localcloud.app import create_app
from localcloud.flavors import REGION_INDEX
from localcloud.netns.latency import LinkDelays
from localcloud.netns.layout import Layout, parse_key, veth_name

SEOUL, IOWA = "gcp/asia-northeast3", "gcp/us-central1"


def test_default_rtts_come_from_the_regions_coordinates() -> None:
    matrix = LinkDelays.load()
    expected = estimated_rtt_ms(haversine_km(37.56, 126.98, 41.26, -95.86))
    assert matrix.rtt_ms[SEOUL][IOWA] == matrix.rtt_ms[IOWA][SEOUL] == expected
    assert matrix.rtt_ms[SEOUL][SEOUL] == 2.0
    assert matrix.as_json()["regions"][0] == "aws/us-east-1"
    assert len(matrix.as_json()["regions"]) == len(REGION_INDEX)


def test_a_file_sets_pairs_both_ways_and_the_daemon_gets_half(tmp_path: Path) -> None:
    rtt_file = tmp_path / "rtt.yaml"
    rtt_file.write_text(f"{SEOUL}:\n  {IOWA}: 150\n")
    matrix = LinkDelays.load(rtt_file)
    assert matrix.rtt_ms[IOWA][SEOUL] == 150.0
    one_way = matrix.one_way_ms_by_index()
    seoul, iowa = REGION_INDEX[("gcp", "asia-northeast3")], REGION_INDEX[("gcp", "us-central1")]
    assert one_way[seoul][iowa] == one_way[iowa][seoul] == 75.0
    assert one_way[0] == [0.0] * len(one_way)  # the host (gateway) gets no delay


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("[1, 2]", "expected a mapping"),
        (f"{SEOUL}: 5", "expected a mapping of region"),
        (f"{SEOUL}:\n  mars/olympus: 5", "unknown region 'mars/olympus'"),
        (f"{SEOUL}:\n  {IOWA}: -1", "is not an RTT"),
        (f"{SEOUL}:\n  {IOWA}: [", "not YAML"),
    ],
)
def test_bad_files_are_refused(tmp_path: Path, text: str, error: str) -> None:
    rtt_file = tmp_path / "rtt.yaml"
    rtt_file.write_text(text)
    with pytest.raises(ValueError, match=error):
        LinkDelays.load(rtt_file)


def test_vm_keys_name_everything_of_a_vm() -> None:
    layout = Layout.of("/var/lib/cloud/state.db")
    key = layout.key("vm-0123456789abcdef")
    assert parse_key(key) == (layout.tag, "vm-0123456789abcdef")
    assert parse_key("lc-nothex!-vm-0123456789abcdef") is None
    assert len(veth_name(key)) <= 15
    assert layout.vm_dir("vm-0123456789abcdef") == Path("/var/lib/cloud/vms/vm-0123456789abcdef")


@pytest.fixture
async def phantom(tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(tmp_path / "cloud.db", time_scale=0.0)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://cloud") as client:
        yield client


async def test_phantom_cloud_serves_latency_and_zero_metrics(phantom: httpx.AsyncClient) -> None:
    assert (await phantom.get("/healthz")).json()["backend"] == "phantom"
    assert (await phantom.get("/v1/latency")).json()["rtt_ms"][SEOUL][IOWA] > 100
    base = "/v1/aws/regions/us-east-1"
    body = {"name": "n", "cidr": "10.0.0.0/16", "subnets": [{"name": "s", "cidr": "10.0.1.0/24"}]}
    vnet = (await phantom.post(f"{base}/vnets", json=body)).json()
    group = await phantom.post(f"{base}/security-groups", json={"name": "g", "vnet_id": vnet["id"]})
    (await phantom.post(f"{base}/keypairs", json={"name": "k"})).raise_for_status()
    answer = await phantom.post(
        f"{base}/vms",
        json={
            "name": "vm",
            "spec": "t3.micro",
            "image": "debian-12-amd64",
            "vnet_id": vnet["id"],
            "subnet_id": vnet["subnets"][0]["id"],
            "security_group_ids": [group.json()["id"]],
            "key_name": "k",
        },
    )
    metrics = (await phantom.get(f"{base}/vms/{answer.json()['id']}/metrics")).json()
    assert metrics["cpu_percent"] == metrics["memory_mib"] == metrics["net_rx_bytes"] == 0
    assert metrics["sampled_at"].startswith("20")
    assert (await phantom.get(f"{base}/vms/vm-0000000000000000/metrics")).status_code == 404
