"""Distances between known cities, the RTT they imply, and the RTT matrices over every region
of the local cloud."""

from __future__ import annotations

import pytest

from catalog.geo import estimated_rtt_ms, haversine_km
from catalog.local_cloud import local_cloud_catalog
from catalog.sources import estimated_rtts
from localcloud.flavors import REGION_INDEX
from localcloud.netns.latency import LinkDelays

SEOUL, TOKYO, NEW_YORK, LONDON = (
    (37.5665, 126.978),
    (35.6762, 139.6503),
    (40.7128, -74.006),
    (
        51.5074,
        -0.1278,
    ),
)


@pytest.mark.parametrize(
    ("a", "b", "km"),
    [(SEOUL, TOKYO, 1152), (NEW_YORK, LONDON, 5570), (SEOUL, NEW_YORK, 11050), (SEOUL, SEOUL, 0)],
)
def test_known_city_pairs(a: tuple[float, float], b: tuple[float, float], km: float) -> None:
    assert haversine_km(*a, *b) == pytest.approx(km, rel=0.01, abs=1)
    assert haversine_km(*a, *b) == pytest.approx(haversine_km(*b, *a))


def test_rtt_grows_with_distance_from_a_floor() -> None:
    assert estimated_rtt_ms(0) == 2.0
    assert estimated_rtt_ms(5570) == pytest.approx(57.7)


def test_the_local_cloud_rtt_matrix_covers_every_region() -> None:
    matrix = LinkDelays.load()
    keys = [f"{flavor}/{region}" for flavor, region in REGION_INDEX]
    assert set(matrix.rtt_ms) == set(keys) and len(keys) >= 150
    for a in keys:
        assert matrix.rtt_ms[a][a] == 2.0
        assert all(2.0 <= matrix.rtt_ms[a][b] == matrix.rtt_ms[b][a] < 250 for b in keys)
    seoul, virginia = "aws/ap-northeast-2", "aws/us-east-1"
    assert 100 < matrix.rtt_ms[seoul][virginia] < 130  # 11,100 km
    assert matrix.rtt_ms["gcp/asia-northeast3"][seoul] == 2.0  # both in Seoul
    table = matrix.one_way_ms_by_index()
    assert len(table) == len(keys) + 1


async def test_catalog_rtts_cover_every_pair_of_the_local_cloud() -> None:
    regions, _ = await local_cloud_catalog()
    entries = estimated_rtts(regions)
    assert len(entries) == len(regions) * (len(regions) + 1) // 2
    assert max(e.rtt_ms for e in entries) < 250  # no pair is farther than half the globe
