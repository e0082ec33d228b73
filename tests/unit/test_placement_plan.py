"""MCIS placement under a VM-to-VM latency bound on hand-made RTT matrices: the best feasible
plan, spreading over regions and providers, exact reasons when nothing fits, and (property)
every plan meets the bound and no better plan exists, by brute force on small inputs."""

from __future__ import annotations

import itertools
import math
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from catalog.ranking import (
    Criterion,
    Preferences,
    Range,
    RttMatrix,
    Scoring,
    SpecFilter,
    SpecTable,
)
from catalog.records import CatalogSource, CatalogSpec
from models.placement_plan import PlacementError, PlacementPlan, plan_mcis

# four regions; a-b and b-c close, a-c medium, d far from all
KEYS = ["p/a", "p/b", "q/c", "r/d"]
MATRIX = {
    ("p/a", "p/b"): 10.0,
    ("p/b", "q/c"): 12.0,
    ("p/a", "q/c"): 35.0,
    ("p/a", "r/d"): 120.0,
    ("p/b", "r/d"): 110.0,
    ("q/c", "r/d"): 52.1,
}


def spec(key: str, name: str, price: float, vcpus: int = 2) -> CatalogSpec:
    provider, region = key.split("/")
    return CatalogSpec(
        provider=provider,
        region=region,
        name=name,
        vcpus=vcpus,
        memory_gib=4,
        price_per_hour=price,
        source=CatalogSource.SYNTHETIC,
    )


SPECS = [
    spec("p/a", "a1", 0.10),
    spec("p/a", "a2", 0.30),
    spec("p/b", "b1", 0.20),
    spec("q/c", "c1", 0.15),
    spec("r/d", "d1", 0.01),  # cheapest, but far from everything
    spec("r/d", "d-big", 0.50, vcpus=16),
]


def scoring(
    specs: list[CatalogSpec] = SPECS,
    matrix: dict[tuple[str, str], float] = MATRIX,
    spec_filter: SpecFilter | None = None,
) -> tuple[Scoring, RttMatrix]:
    rtt = RttMatrix({}, matrix)
    table = SpecTable.from_specs(specs, {})
    prefs = Preferences({Criterion.COST: 1.0})
    return Scoring(table, spec_filter or SpecFilter(), prefs, rtt), rtt


def plan(count: int, bound: float, **kwargs: int) -> PlacementPlan:
    found, rtt = scoring()
    return plan_mcis(found, rtt, count, bound, **kwargs)


def layout(result: PlacementPlan) -> dict[str, int]:
    return {g.spec.id: g.count for g in result.groups}


def test_all_vms_go_to_the_best_region_without_a_spread() -> None:
    result = plan(5, 40)
    assert layout(result) == {"r+d+d1": 5}
    assert result.max_rtt_ms == 2.0  # the region's own RTT
    assert result.hourly_cost == pytest.approx(0.05)
    assert result.exact and result.score == pytest.approx(1.0)


def test_spreading_picks_the_best_regions_within_the_bound() -> None:
    result = plan(4, 40, min_regions=2)
    # d is too far from everything: the best pair within 40 ms is a (0.10) and c (0.15)
    assert layout(result) == {"p+a+a1": 3, "q+c+c1": 1}
    assert result.regions == ["p/a", "q/c"]
    assert result.max_rtt_ms == 35.0
    # a tighter bound leaves only a-b and b-c: a (the cheapest of them) holds the other VMs
    result = plan(4, 20, min_regions=2)
    assert layout(result) == {"p+a+a1": 3, "p+b+b1": 1}
    assert result.max_rtt_ms == 10.0


def test_a_bound_above_every_rtt_changes_nothing_but_the_spread() -> None:
    result = plan(3, 1000, min_regions=3)
    assert layout(result) == {"r+d+d1": 1, "p+a+a1": 1, "q+c+c1": 1}
    assert result.regions == ["r/d", "p/a", "q/c"]
    assert result.max_rtt_ms == 120.0


def test_spreading_over_providers() -> None:
    result = plan(3, 40, min_providers=2)
    assert {g.spec.provider for g in result.groups} == {"p", "q"}
    assert layout(result) == {"p+a+a1": 2, "q+c+c1": 1}


def test_infeasible_names_the_closest_pair() -> None:
    filtered = SpecFilter(vcpus=Range(16, None))
    extra = [spec("q/c", "c-big", 0.4, vcpus=16), *SPECS]
    found, rtt = scoring(extra, spec_filter=filtered)
    with pytest.raises(PlacementError) as caught:
        plan_mcis(found, rtt, 2, 40, min_regions=2)
    assert str(caught.value) == (
        "no 2 regions are within 40 ms of each other among the 2 regions that have a spec "
        "matching vcpus 16..; closest pair: q/c - r/d 52.1 ms"
    )


def test_infeasible_names_the_largest_group() -> None:
    with pytest.raises(PlacementError, match=r"no 3 regions are within 30 ms .*among the 4") as e:
        plan(3, 30, min_regions=3)
    assert str(e.value).endswith(
        "closest pair: p/a - p/b 10.0 ms; largest group within 30 ms: 2 regions (p/a, p/b)"
    )


def test_infeasible_reasons() -> None:
    with pytest.raises(PlacementError, match="cannot spread 2 VMs over 3 regions"):
        plan(2, 40, min_regions=3)
    with pytest.raises(PlacementError, match=re.escape("no spec matches vcpus 64.. among 6")):
        found, rtt = scoring(spec_filter=SpecFilter(vcpus=Range(64, None)))
        plan_mcis(found, rtt, 1, 40)
    with pytest.raises(PlacementError, match="span 3 providers"):
        plan(3, 40, min_providers=3)
    # below the regions' own RTT (2 ms) no region can hold two VMs, and no pair is that close
    with pytest.raises(PlacementError, match="the lowest own RTT is 2 ms"):
        plan(2, 1.5)


def test_one_vm_needs_no_bound() -> None:
    assert layout(plan(1, 0.5)) == {"r+d+d1": 1}


def test_one_vm_per_region_when_no_region_can_hold_two() -> None:
    matrix = {**MATRIX, **{(k, k): 20.0 for k in KEYS}}  # every own RTT above the bound
    found, rtt = scoring(matrix=matrix)
    result = plan_mcis(found, rtt, 2, 15)
    assert layout(result) == {"p+a+a1": 1, "p+b+b1": 1}
    with pytest.raises(PlacementError, match="the lowest own RTT is 20 ms"):
        plan_mcis(found, rtt, 3, 15)  # a-c is 35 ms: no 3 regions within 15 ms


def test_better_regions_join_the_anchor_one_vm_each() -> None:
    # a can hold many VMs (own RTT 1 ms), b and c cannot (own 9 ms) but are better and close
    specs = [spec("p/a", "a", 0.5), spec("p/b", "b", 0.1), spec("q/c", "c", 0.1)]
    matrix = {("p/a", "p/b"): 3.0, ("p/a", "q/c"): 3.0, ("p/b", "q/c"): 3.0}
    matrix |= {("p/a", "p/a"): 1.0, ("p/b", "p/b"): 9.0, ("q/c", "q/c"): 9.0}
    found, rtt = scoring(specs, matrix)
    result = plan_mcis(found, rtt, 4, 5)
    assert layout(result) == {"p+a+a": 2, "p+b+b": 1, "q+c+c": 1}


def test_a_small_budget_still_gives_a_plan() -> None:
    found, rtt = scoring()
    result = plan_mcis(found, rtt, 4, 1000, min_regions=3, budget=0)
    assert len(result.regions) == 3 and not result.exact


# property: plans meet the bound and are optimal (brute force)


def vm_rtts(keys: list[str], rtt: RttMatrix) -> list[float]:
    return [rtt.rtt(a, b) for a, b in itertools.combinations(keys, 2)]


@st.composite
def instances(draw: st.DrawFn) -> tuple[list[CatalogSpec], dict[tuple[str, str], float]]:
    n_regions = draw(st.integers(1, 5))
    keys = [f"{draw(st.sampled_from('pqr'))}/r{i}" for i in range(n_regions)]
    values = st.sampled_from([1.0, 2.0, 3.0, 5.0, 10.0, 20.0, 45.0, 80.0])
    matrix = {(a, b): draw(values) for a, b in itertools.combinations(keys, 2)}
    matrix |= {(k, k): draw(st.sampled_from([1.0, 2.0, 6.0])) for k in keys}
    specs = [
        spec(draw(st.sampled_from(keys)), f"s{i}", draw(st.sampled_from([0.1, 0.2, 0.3, 0.7])))
        for i in range(draw(st.integers(1, 6)))
    ]
    return specs, matrix


@settings(max_examples=300, deadline=None)
@given(
    instance=instances(),
    count=st.integers(1, 4),
    bound=st.sampled_from([1.5, 2.5, 4.0, 8.0, 25.0, 100.0]),
    min_regions=st.integers(1, 3),
    min_providers=st.integers(1, 2),
)
def test_plans_meet_the_bound_and_none_is_better(
    instance: tuple[list[CatalogSpec], dict[tuple[str, str], float]],
    count: int,
    bound: float,
    min_regions: int,
    min_providers: int,
) -> None:
    specs, matrix = instance
    found, rtt = scoring(specs, matrix)
    totals = {found.table.spec_id(i): found.total(k) for k, i in enumerate(found.candidates)}
    best = -math.inf
    for combo in itertools.combinations_with_replacement(sorted(totals), count):
        keys = ["/".join(c.split("+")[:2]) for c in combo]
        if len(set(keys)) < min_regions or len({k.split("/")[0] for k in keys}) < min_providers:
            continue
        if all(ms < bound for ms in vm_rtts(keys, rtt)):
            best = max(best, sum(totals[c] for c in combo))
    try:
        result = plan_mcis(found, rtt, count, bound, min_regions, min_providers)
    except PlacementError:
        assert best == -math.inf, "a plan exists but none was found"
        return
    keys = [key for g in result.groups for key in [f"{g.spec.provider}/{g.spec.region}"] * g.count]
    assert len(keys) == count
    assert all(ms < bound for ms in vm_rtts(keys, rtt))
    assert max(vm_rtts(keys, rtt), default=0.0) == result.max_rtt_ms
    assert len(set(keys)) >= min_regions and len(result.providers) >= min_providers
    assert result.score * count == pytest.approx(best, abs=1e-9)
