"""Benchmark: spec recommendation over a catalog of 200,000 specs (Libcloud's real public data,
the local cloud's catalog read through its drivers, and seeded synthetic specs beyond them),
four weighted priorities (cost, performance, location, latency), many repetitions. Prints p50/p99
of `catalog.ranking.recommend` and, in the same run, of a naive implementation (one object per
spec, every criterion computed per spec, a full sort): the baseline; checks both rank the same,
and says whether the target (p50 <= 20 ms, p99 <= 50 ms) is met.

    python -m bench.recommend
    python -m bench.recommend --specs 50000 --reps 200 --json
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import random
import statistics
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from catalog.geo import haversine_km
from catalog.local_cloud import local_cloud_catalog
from catalog.public import load_public_catalog
from catalog.ranking import (
    Criterion,
    Preferences,
    Range,
    Recommendation,
    RttMatrix,
    SpecFilter,
    estimated_performance,
    recommend,
)
from catalog.records import CatalogRegion, CatalogSource, CatalogSpec, RttSource
from catalog.sources import estimated_rtts
from catalog.store import CatalogStore

WEIGHTS = {
    Criterion.COST: 0.4,
    Criterion.PERFORMANCE: 0.2,
    Criterion.LOCATION: 0.2,
    Criterion.LATENCY: 0.2,
}
SEOUL = (37.56, 126.97)
TARGETS = ("aws-public/ap-northeast-2", "gce-public/asia-northeast3", "azure/koreacentral")
TARGET_P50_MS = 20.0
TARGET_P99_MS = 50.0


def naive_recommend(
    specs: Sequence[CatalogSpec],
    coordinates: dict[str, tuple[float, float]],
    spec_filter: SpecFilter,
    prefs: Preferences,
    rtt: RttMatrix,
    limit: int = 10,
) -> list[Recommendation]:
    """The same ranking as `recommend`, computed the obvious way: filter spec objects, compute
    every raw value per spec, normalise each criterion, sum, sort everything."""
    weights = prefs.active()
    found = [
        s
        for s in specs
        if spec_filter.vcpus.contains(s.vcpus)
        and spec_filter.memory.contains(s.memory_gib)
        and spec_filter.price.contains(s.price_per_hour)
        and spec_filter.allows_region(s.provider, s.region)
    ]
    raw: dict[Criterion, list[float]] = {}
    measured = [x.performance for x in found if x.performance is not None]
    median = statistics.median(measured) if measured else None
    for criterion in weights:
        values = []
        for s in found:
            at = coordinates.get(f"{s.provider}/{s.region}")
            if criterion is Criterion.COST:
                values.append(s.price_per_hour)
            elif criterion is Criterion.PERFORMANCE:
                if s.performance is not None:
                    values.append(s.performance)
                elif median is not None:
                    values.append(median)
                else:
                    values.append(estimated_performance(s.vcpus, s.memory_gib))
            elif criterion is Criterion.LOCATION:
                assert prefs.near is not None
                values.append(math.inf if at is None else haversine_km(*prefs.near, *at))
            else:
                key = f"{s.provider}/{s.region}"
                values.append(
                    sum(rtt.rtt(key, t) for t in prefs.latency_to) / len(prefs.latency_to)
                )
        raw[criterion] = values
    bounds = {}
    for criterion, values in raw.items():
        finite = [v for v in values if math.isfinite(v)]
        bounds[criterion] = (min(finite, default=0.0), max(finite, default=0.0))
    scored = []
    for n, s in enumerate(found):
        scores = {}
        for criterion, values in raw.items():
            (lo, hi), v = bounds[criterion], values[n]
            if not math.isfinite(v):
                scores[criterion.value] = 0.0
            elif hi == lo:
                scores[criterion.value] = 1.0
            elif criterion is Criterion.PERFORMANCE:
                scores[criterion.value] = (v - lo) / (hi - lo)
            else:
                scores[criterion.value] = (hi - v) / (hi - lo)
        total = sum(weights[c] * scores[c.value] for c in weights) / sum(weights.values())
        scored.append(
            Recommendation(
                spec=s,
                scores=scores,
                total=total,
                measures={"price_per_hour": s.price_per_hour},
            )
        )
    scored.sort(
        key=lambda r: (-r.total, r.spec.price_per_hour, r.spec.provider, r.spec.region, r.spec.name)
    )
    return scored[:limit]


def catalog(size: int, seed: int) -> tuple[list[CatalogRegion], list[CatalogSpec]]:
    """Real public specs + the local cloud's, then synthetic variants of them (same regions,
    price within +-25 %, a measured performance score on 1 in 10) up to `size` specs."""
    public = load_public_catalog()
    local_regions, local_specs = asyncio.run(local_cloud_catalog())
    regions = public.regions + local_regions
    specs: list[CatalogSpec] = [*public.specs, *local_specs]
    rng = random.Random(seed)
    real = len(specs)
    n = 0
    while len(specs) < size:
        base = specs[rng.randrange(real)]
        n += 1
        specs.append(
            CatalogSpec(
                provider=base.provider,
                region=base.region,
                name=f"{base.name}-syn{n}",
                vcpus=base.vcpus,
                memory_gib=base.memory_gib,
                price_per_hour=round(base.price_per_hour * rng.uniform(0.75, 1.25), 6),
                source=CatalogSource.SYNTHETIC,
                performance=round(base.vcpus * rng.uniform(800, 1200), 1)
                if rng.random() < 0.1
                else None,
            )
        )
    return regions, specs


def percentile(samples: Sequence[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]


def timed(call: object, reps: int) -> list[float]:
    assert callable(call)
    samples = []
    for _ in range(reps):
        started = time.perf_counter()
        call()
        samples.append((time.perf_counter() - started) * 1000)
    return samples


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--specs", type=int, default=200_000)
    parser.add_argument("--reps", type=int, default=200)
    parser.add_argument("--baseline-reps", type=int, default=5)
    parser.add_argument("--limit", type=int, default=10)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    regions, specs = catalog(args.specs, args.seed)
    coordinates = {r.key: (r.latitude, r.longitude) for r in regions}
    with tempfile.TemporaryDirectory() as home:
        store = CatalogStore(f"sqlite:///{Path(home) / 'catalog.db'}")
        started = time.perf_counter()
        store.replace_source(CatalogSource.LIBCLOUD, regions, specs, origin="bench")
        load_s = time.perf_counter() - started
        started = time.perf_counter()
        store.replace_rtt(RttSource.ESTIMATED, estimated_rtts(regions), "bench")
        rtt_load_s = time.perf_counter() - started
        started = time.perf_counter()
        table = store.spec_table()
        read_s = time.perf_counter() - started
        rtt = store.rtt_matrix()
        store.close()
    prefs = Preferences(WEIGHTS, near=SEOUL, latency_to=TARGETS)
    cases = {"all": SpecFilter(), "filtered": SpecFilter(vcpus=Range(2, 8), memory=Range(4, 32))}
    figures: dict[str, object] = {
        "specs": len(table),
        "real_specs": sum(1 for s in specs if s.source is not CatalogSource.SYNTHETIC),
        "regions": len(regions),
        "priorities": {c.value: w for c, w in WEIGHTS.items()},
        "store_load_s": round(load_s, 3),
        "rtt_load_s": round(rtt_load_s, 3),
        "store_read_s": round(read_s, 3),
    }
    for name, spec_filter in cases.items():
        fast = recommend(table, spec_filter, prefs, rtt, args.limit)
        slow = naive_recommend(specs, coordinates, spec_filter, prefs, rtt, args.limit)
        if [(r.spec.id, r.total) for r in fast] != [(r.spec.id, r.total) for r in slow]:
            raise SystemExit(f"{name}: recommend and the naive baseline rank differently")
        samples = timed(
            lambda f=spec_filter: recommend(table, f, prefs, rtt, args.limit), args.reps
        )
        baseline = timed(
            lambda f=spec_filter: naive_recommend(specs, coordinates, f, prefs, rtt, args.limit),
            args.baseline_reps,
        )
        prefix = "" if name == "all" else f"{name}_"
        figures[f"{prefix}p50_ms"] = round(statistics.median(samples), 2)
        figures[f"{prefix}p99_ms"] = round(percentile(samples, 0.99), 2)
        figures[f"{prefix}baseline_p50_ms"] = round(statistics.median(baseline), 1)
        figures[f"{prefix}baseline_p99_ms"] = round(percentile(baseline, 0.99), 1)
        figures[f"{prefix}target_met"] = (
            statistics.median(samples) <= TARGET_P50_MS
            and percentile(samples, 0.99) <= TARGET_P99_MS
        )
    if args.json:
        print(json.dumps(figures))
        return
    print(
        f"catalog: {figures['specs']} specs ({figures['real_specs']} real) in "
        f"{figures['regions']} regions; store load {load_s:.2f} s (+ RTT {rtt_load_s:.2f} s), "
        f"read {read_s:.2f} s"
    )
    print("priorities: " + ", ".join(f"{c.value}={w:g}" for c, w in WEIGHTS.items()))
    for name in cases:
        prefix = "" if name == "all" else f"{name}_"
        print(
            f"{name:>8}: recommend p50 {figures[prefix + 'p50_ms']} ms, p99 "
            f"{figures[prefix + 'p99_ms']} ms ({args.reps} runs); naive baseline p50 "
            f"{figures[prefix + 'baseline_p50_ms']} ms, p99 {figures[prefix + 'baseline_p99_ms']}"
            f" ms ({args.baseline_reps} runs); same top {args.limit}"
        )
    met = all(figures[("" if name == "all" else f"{name}_") + "target_met"] for name in cases)
    print(
        f"target p50 <= {TARGET_P50_MS:g} ms and p99 <= {TARGET_P99_MS:g} ms at "
        f"{figures['specs']} specs: {'met' if met else 'NOT met'}"
    )


if __name__ == "__main__":
    main()
