"""Distances and round-trip times between places (pure): haversine great-circle distance, and
the RTT a region pair is expected to have when no one measured it."""

from __future__ import annotations

import math

EARTH_RADIUS_KM = 6371.0
FIBER_KM_PER_MS = 100.0
"""Light in fiber covers ~200 km/ms; a round trip over distance d takes d/100 ms."""
BASE_RTT_MS = 2.0
"""What two hosts in one region see (switching, stacks)."""


def haversine_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance in km (R = 6371 km, as the reference)."""
    phi1, phi2 = math.radians(lat1), math.radians(lat2)
    dphi, dlmb = phi2 - phi1, math.radians(lon2 - lon1)
    a = math.sin(dphi / 2) ** 2 + math.cos(phi1) * math.cos(phi2) * math.sin(dlmb / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(a)))


def estimated_rtt_ms(distance_km: float) -> float:
    """RTT of a path over `distance_km` of fiber, from BASE_RTT_MS upwards (rounded to 0.1)."""
    return round(BASE_RTT_MS + distance_km / FIBER_KM_PER_MS, 1)
