"""Round-trip times between the local cloud's regions, keyed "flavor/region" (pure).

By default the RTT of two regions is `estimated_rtt_ms` of the great-circle distance between
their coordinates; a YAML file can set pairs (`{"aws/us-east-1": {"gcp/us-central1": 25.0}}`),
each for both directions. Served at GET /v1/latency; real VMs get half of the RTT to the
destination's region added to every packet they send to another VM (nfqueue.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from catalog.geo import estimated_rtt_ms, haversine_km
from localcloud.flavors import FLAVORS, REGION_INDEX


def region_key(flavor: str, region: str) -> str:
    return f"{flavor}/{region}"


_COORDINATES = {
    region_key(flavor.name, r.name): (r.latitude, r.longitude)
    for flavor in FLAVORS.values()
    for r in flavor.regions
}
_INDEX = {region_key(*pair): index for pair, index in REGION_INDEX.items()}


@dataclass(frozen=True)
class LinkDelays:
    """The RTTs the local cloud serves and puts on the links between its regions (what mcis's
    catalog measures or estimates is `catalog.ranking.RttMatrix`)."""

    rtt_ms: Mapping[str, Mapping[str, float]]
    """Symmetric: every region to every region (itself included)."""

    @classmethod
    def load(cls, path: Path | None = None) -> LinkDelays:
        """The default matrix, with the pairs of the YAML file at `path` (if any) set.
        ValueError for a file that names unknown regions or has no valid RTT."""
        rtt = {a: {b: _estimate(a, b) for b in _INDEX} for a in _INDEX}
        if path is not None:
            try:
                data = yaml.safe_load(path.read_text())
            except yaml.YAMLError as exc:
                raise ValueError(f"{path}: not YAML: {exc}") from exc
            for a, b, ms in _overrides(data, path):
                rtt[a][b] = rtt[b][a] = ms
        return cls(rtt)

    def as_json(self) -> dict[str, Any]:
        return {"regions": list(_INDEX), "rtt_ms": {a: dict(row) for a, row in self.rtt_ms.items()}}

    def one_way_ms_by_index(self) -> list[list[float]]:
        """Half the RTT between regions by their global index; index 0 (the host) has none."""
        size = max(_INDEX.values()) + 1
        table = [[0.0] * size for _ in range(size)]
        for a, row in self.rtt_ms.items():
            for b, ms in row.items():
                table[_INDEX[a]][_INDEX[b]] = ms / 2
        return table


def _estimate(a: str, b: str) -> float:
    return estimated_rtt_ms(haversine_km(*_COORDINATES[a], *_COORDINATES[b]))


def _overrides(data: Any, path: Path) -> list[tuple[str, str, float]]:
    if data is None:
        return []
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a mapping of region to {{region: rtt_ms}}")
    found = []
    for a, row in data.items():
        if not isinstance(row, dict):
            raise ValueError(f"{path}: {a}: expected a mapping of region to rtt_ms")
        for b, ms in row.items():
            unknown = [k for k in (a, b) if k not in _INDEX]
            if unknown:
                raise ValueError(f"{path}: unknown region {unknown[0]!r} (use flavor/region)")
            if isinstance(ms, bool) or not isinstance(ms, int | float) or ms < 0:
                raise ValueError(f"{path}: {a} -> {b}: {ms!r} is not an RTT in ms")
            found.append((str(a), str(b), float(ms)))
    return found
