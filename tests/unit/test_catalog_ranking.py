"""The vectorised ranking (`catalog.ranking.recommend`, numpy columns) ranks exactly as the naive
one (bench.recommend.naive_recommend: one object per spec, a full sort) on seeded random
catalogs of thousands of specs: the same specs in the same order with the same totals, under
every mix of priorities, with filters, price ties, measured and unmeasured performance, regions
without coordinates and configured RTTs; and plans use the same best spec per region."""

from __future__ import annotations

import random

import pytest

from bench.recommend import naive_recommend
from catalog.ranking import (
    Criterion,
    Preferences,
    Range,
    RttMatrix,
    Scoring,
    SpecFilter,
    SpecTable,
    recommend,
)
from catalog.records import CatalogSource, CatalogSpec
from models.placement_plan import plan_mcis

PROVIDERS = ("aws", "gcp", "azure")
SEOUL = (37.56, 126.97)


def random_catalog(
    seed: int, size: int
) -> tuple[list[CatalogSpec], dict[str, tuple[float, float]], RttMatrix]:
    """`size` specs over 3 providers x 12 regions (one without coordinates), prices from a
    short list (many ties), a measured score on 1 in 5, a few configured RTTs."""
    rng = random.Random(seed)
    regions = [(p, f"r{n}") for p in PROVIDERS for n in range(12)]
    coordinates = {
        f"{p}/{r}": (rng.uniform(-60, 60), rng.uniform(-180, 180)) for p, r in regions[1:]
    }
    specs = [
        CatalogSpec(
            provider=provider,
            region=region,
            name=f"s{i}",
            vcpus=rng.choice((1, 2, 4, 8, 16)),
            memory_gib=rng.choice((1.0, 2.0, 4.0, 8.0, 32.0)),
            price_per_hour=rng.choice((0.01, 0.02, 0.05, 0.1, 0.2, 0.4)) * rng.choice((1, 1.1)),
            source=CatalogSource.SYNTHETIC,
            performance=round(rng.uniform(100, 5000), 1) if rng.random() < 0.2 else None,
        )
        for i, (provider, region) in enumerate(rng.choice(regions) for _ in range(size))
    ]
    keys = sorted(coordinates)
    configured = {(rng.choice(keys), rng.choice(keys)): rng.uniform(1, 300) for _ in range(20)}
    return specs, coordinates, RttMatrix(coordinates, configured)


PREFERENCES = [
    Preferences(
        {
            Criterion.COST: 0.4,
            Criterion.PERFORMANCE: 0.2,
            Criterion.LOCATION: 0.2,
            Criterion.LATENCY: 0.2,
        },
        near=SEOUL,
        latency_to=("aws/r3", "gcp/r5", "azure/r0"),
    ),
    Preferences({Criterion.COST: 1}),
    Preferences({Criterion.PERFORMANCE: 1}),
    Preferences({Criterion.PERFORMANCE: 2, Criterion.COST: 1, Criterion.LOCATION: 0}, SEOUL),
    Preferences({Criterion.LOCATION: 1}, near=SEOUL),
    Preferences({Criterion.LATENCY: 1, Criterion.COST: 3}, latency_to=("gcp/r1",)),
]
FILTERS = [
    SpecFilter(),
    SpecFilter(vcpus=Range(2, 8), memory=Range(2, 8)),
    SpecFilter(price=Range(None, 0.05), providers=frozenset({"aws", "azure"})),
    SpecFilter(regions=frozenset({"r1", "gcp/r2", "aws/r0"})),
    SpecFilter(vcpus=Range(64, None)),  # nothing
]


@pytest.mark.parametrize("seed", [1, 2, 3])
@pytest.mark.parametrize("prefs", PREFERENCES, ids=lambda p: ",".join(p.weights))
def test_fast_and_naive_rankings_agree(seed: int, prefs: Preferences) -> None:
    specs, coordinates, rtt = random_catalog(seed, 3000)
    table = SpecTable.from_specs(specs, coordinates)
    for spec_filter in FILTERS:
        fast = recommend(table, spec_filter, prefs, rtt, 25)
        slow = naive_recommend(specs, coordinates, spec_filter, prefs, rtt, 25)
        assert [r.spec for r in fast] == [r.spec for r in slow], spec_filter.describe()
        assert [r.total for r in fast] == pytest.approx([r.total for r in slow], abs=1e-12)
        assert [r.scores for r in fast] == [pytest.approx(r.scores, abs=1e-12) for r in slow]


@pytest.mark.parametrize("seed", [4, 5])
def test_plans_take_each_regions_best_spec(seed: int) -> None:
    specs, coordinates, rtt = random_catalog(seed, 2000)
    table = SpecTable.from_specs(specs, coordinates)
    prefs = PREFERENCES[0]
    plan = plan_mcis(Scoring(table, SpecFilter(), prefs, rtt), rtt, 5, 400.0, min_regions=3)
    ranked = naive_recommend(specs, coordinates, SpecFilter(), prefs, rtt, len(specs))
    best: dict[tuple[str, str], CatalogSpec] = {}
    for r in ranked:
        best.setdefault((r.spec.provider, r.spec.region), r.spec)
    assert len(plan.groups) >= 3
    assert all(g.spec == best[g.spec.provider, g.spec.region] for g in plan.groups)
