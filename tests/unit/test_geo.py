"""Distances between known cities and the RTT they imply."""

from __future__ import annotations

import pytest

from models.geo import estimated_rtt_ms, haversine_km

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
