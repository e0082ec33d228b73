"""Spec recommendation: ranges, priorities, normalisation and weighting, location by haversine
distance, latency from an RTT matrix, deterministic ties, and agreement with a naive
implementation on random catalogs."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bench.recommend import naive_recommend
from catalog.ranking import (
    Criterion,
    Preferences,
    Range,
    RttMatrix,
    Scoring,
    SpecFilter,
    SpecTable,
    estimated_performance,
    parse_priorities,
    recommend,
)
from catalog.records import CatalogSource, CatalogSpec
from tests.unit.test_geo import LONDON, NEW_YORK, SEOUL, TOKYO

CITIES = {"c/seoul": SEOUL, "c/tokyo": TOKYO, "c/newyork": NEW_YORK, "c/london": LONDON}
COST, PERF, LOC, LAT = (
    Criterion.COST,
    Criterion.PERFORMANCE,
    Criterion.LOCATION,
    Criterion.LATENCY,
)


def spec(
    region: str,
    name: str,
    price: float,
    vcpus: int = 2,
    memory: float = 4,
    performance: float | None = None,
    provider: str = "c",
) -> CatalogSpec:
    return CatalogSpec(
        provider=provider,
        region=region,
        name=name,
        vcpus=vcpus,
        memory_gib=memory,
        price_per_hour=price,
        source=CatalogSource.SYNTHETIC,
        performance=performance,
    )


def ranked(
    specs: list[CatalogSpec],
    weights: dict[Criterion, float],
    near: tuple[float, float] | None = None,
    latency_to: tuple[str, ...] = (),
    rtt: RttMatrix | None = None,
    spec_filter: SpecFilter | None = None,
) -> list[str]:
    table = SpecTable.from_specs(specs, CITIES)
    prefs = Preferences(weights, near, latency_to)
    found = recommend(table, spec_filter or SpecFilter(), prefs, rtt or RttMatrix(CITIES), 100)
    return [r.spec.name for r in found]


# ranges and priorities


@pytest.mark.parametrize(
    ("text", "lo", "hi"),
    [("2..4", 2, 4), ("2..", 2, None), ("..16", None, 16), ("4", 4, 4), (" 0.5 .. 1 ", 0.5, 1)],
)
def test_range_syntax(text: str, lo: float | None, hi: float | None) -> None:
    found = Range.parse(text)
    assert (found.lo, found.hi) == (lo, hi)
    assert Range.parse(found.describe()) == found


@pytest.mark.parametrize(
    ("text", "error"), [("4..2", "exceeds"), ("a..b", "expected"), ("inf", "finite")]
)
def test_bad_ranges(text: str, error: str) -> None:
    with pytest.raises(ValueError, match=error):
        Range.parse(text, "--vcpus")


def test_ranges_intersect() -> None:
    assert Range(2, 8).intersect(Range(None, 4)) == Range(2, 4)
    assert Range().intersect(Range(1, None)) == Range(1, None)


def test_priorities_parse() -> None:
    assert parse_priorities("cost=0.6, latency=0.4") == {COST: 0.6, LAT: 0.4}
    assert parse_priorities("performance") == {PERF: 1.0}
    for bad, error in [
        ("speed=1", "unknown priority 'speed'"),
        ("cost=x", "must be a number"),
        ("cost=-1", ">= 0"),
        ("cost=1,cost=2", "given twice"),
        ("cost=0", "above 0"),
        ("", "above 0"),
    ]:
        with pytest.raises(ValueError, match=error):
            parse_priorities(bad)


def test_missing_inputs_are_named() -> None:
    with pytest.raises(ValueError, match="--near"):
        Preferences({LOC: 1}).active()
    with pytest.raises(ValueError, match="--latency-to"):
        Preferences({LAT: 1}).active()
    assert Preferences.default((1.0, 2.0), ["c/seoul"]).active() == {COST: 1, LOC: 1, LAT: 1}


# normalisation and weighting


def test_cost_score_is_the_reference_formula() -> None:
    specs = [spec("seoul", "a", 1.0), spec("seoul", "b", 2.0), spec("seoul", "c", 5.0)]
    table = SpecTable.from_specs(specs, CITIES)
    scoring = Scoring(table, SpecFilter(), Preferences({COST: 1}), RttMatrix(CITIES))
    by_name = {table.names[scoring.candidates[k]]: scoring.scores(k)["cost"] for k in range(3)}
    assert by_name == pytest.approx({"a": 1.0, "b": (5 - 2) / (5 - 1), "c": 0.0})


def test_changing_a_weight_reorders() -> None:
    # cheap but far from Seoul vs dear but in Seoul
    specs = [spec("london", "cheap-far", 0.01), spec("seoul", "dear-near", 0.10)]
    assert ranked(specs, {COST: 0.9, LOC: 0.1}, near=SEOUL) == ["cheap-far", "dear-near"]
    assert ranked(specs, {COST: 0.1, LOC: 0.9}, near=SEOUL) == ["dear-near", "cheap-far"]


def test_weight_zero_removes_a_criterion() -> None:
    specs = [spec("london", "cheap-far", 0.01), spec("seoul", "dear-near", 0.10)]
    table = SpecTable.from_specs(specs, CITIES)
    prefs = Preferences({COST: 1, LOC: 0}, near=SEOUL)
    found = recommend(table, SpecFilter(), prefs, RttMatrix(CITIES))
    assert [r.spec.name for r in found] == ["cheap-far", "dear-near"]
    assert all(set(r.scores) == {"cost"} for r in found)
    assert [r.total for r in found] == [1.0, 0.0]
    # location alone (cost weighs 0) is not changed by prices
    assert ranked(specs, {COST: 0, LOC: 1}, near=SEOUL) == ["dear-near", "cheap-far"]


def test_total_is_the_weighted_mean_of_scores() -> None:
    specs = [spec(c.split("/")[1], f"s{i}", 0.01 * (i + 1)) for i, c in enumerate(CITIES)]
    table = SpecTable.from_specs(specs, CITIES)
    weights = {COST: 3.0, LOC: 1.0}
    for r in recommend(table, SpecFilter(), Preferences(weights, SEOUL), RttMatrix(CITIES)):
        expected = (3 * r.scores["cost"] + 1 * r.scores["location"]) / 4
        assert r.total == pytest.approx(expected, abs=1e-12)
        assert all(0 <= s <= 1 for s in r.scores.values())


def test_all_equal_values_normalise_safely() -> None:
    specs = [spec("seoul", "a", 0.05), spec("seoul", "b", 0.05)]
    table = SpecTable.from_specs(specs, CITIES)
    prefs = Preferences({COST: 1, PERF: 1, LOC: 1}, near=TOKYO)
    found = recommend(table, SpecFilter(), prefs, RttMatrix(CITIES))
    assert [r.scores for r in found] == [{"cost": 1, "performance": 1, "location": 1}] * 2
    assert [r.spec.name for r in found] == ["a", "b"]  # tie: same price, then by name


def test_ties_break_by_price_then_id() -> None:
    # cost weighs 0: every total ties, so cheaper first, then provider/region/name
    specs = [
        spec("tokyo", "b", 0.2),
        spec("seoul", "z", 0.1),
        spec("seoul", "a", 0.2),
        spec("seoul", "a", 0.2, provider="b"),
    ]
    got = ranked(specs, {LOC: 1}, near=(0.0, 0.0), rtt=None)
    assert got[0] == "z"
    table = SpecTable.from_specs(specs, CITIES)
    prefs = Preferences({COST: 0, PERF: 1})
    ids = [r.spec.id for r in recommend(table, SpecFilter(), prefs, RttMatrix(CITIES))]
    assert ids == ["c+seoul+z", "b+seoul+a", "c+seoul+a", "c+tokyo+b"]


def test_performance_default_is_the_median_of_measured_ones() -> None:
    specs = [
        spec("seoul", "slow", 0.1, performance=100),
        spec("seoul", "fast", 0.1, performance=300),
        spec("seoul", "mid", 0.1, performance=200),
        spec("seoul", "unmeasured", 0.1, vcpus=64, memory=256),
    ]
    table = SpecTable.from_specs(specs, CITIES)
    found = recommend(table, SpecFilter(), Preferences({PERF: 1}), RttMatrix(CITIES))
    scores = {r.spec.name: r.scores["performance"] for r in found}
    assert scores == {"fast": 1.0, "mid": 0.5, "unmeasured": 0.5, "slow": 0.0}
    assert next(r for r in found if r.spec.name == "unmeasured").measures["performance"] == 200


def test_performance_without_measurements_comes_from_the_hardware() -> None:
    specs = [spec("seoul", "small", 0.1, 2, 4), spec("seoul", "big", 0.1, 8, 32)]
    assert ranked(specs, {PERF: 1}) == ["big", "small"]
    assert estimated_performance(8, 32) == 12


def test_filters() -> None:
    specs = [
        spec("seoul", "tiny", 0.01, 1, 1),
        spec("seoul", "mid", 0.05, 2, 8),
        spec("tokyo", "mid", 0.06, 2, 8),
        spec("seoul", "big", 0.2, 8, 32),
        spec("london", "mid", 0.05, 2, 8, provider="other"),
    ]
    shape = SpecFilter(vcpus=Range(2, 4), memory=Range(4, 16))
    assert ranked(specs, {COST: 1}, spec_filter=shape) == ["mid", "mid", "mid"]
    priced = SpecFilter(price=Range(None, 0.05))
    assert ranked(specs, {COST: 1}, spec_filter=priced) == ["tiny", "mid", "mid"]
    by_key = SpecFilter(regions=frozenset({"c/tokyo"}))
    assert ranked(specs, {COST: 1}, spec_filter=by_key) == ["mid"]
    by_name = SpecFilter(regions=frozenset({"seoul"}), providers=frozenset({"c"}))
    assert ranked(specs, {COST: 1}, spec_filter=by_name) == ["tiny", "mid", "big"]
    assert shape.describe() == "vcpus 2..4 / memory 4..16"
    assert ranked(specs, {COST: 1}, spec_filter=SpecFilter(vcpus=Range(100, None))) == []


# location: haversine distances of known city pairs (tests/unit/test_geo.py)


def test_location_ranks_by_great_circle_distance() -> None:
    specs = [spec(c.split("/")[1], c.split("/")[1], 0.1) for c in CITIES]
    table = SpecTable.from_specs(specs, CITIES)
    found = recommend(table, SpecFilter(), Preferences({LOC: 1}, near=SEOUL), RttMatrix(CITIES))
    assert [r.spec.name for r in found] == ["seoul", "tokyo", "london", "newyork"]
    km = {r.spec.name: r.measures["distance_km"] for r in found}
    assert km["seoul"] == 0
    assert km["tokyo"] == pytest.approx(1152, rel=0.01)
    assert km["newyork"] == pytest.approx(11050, rel=0.01)
    scores = {r.spec.name: r.scores["location"] for r in found}
    assert scores["seoul"] == 1 and scores["newyork"] == 0
    assert scores["tokyo"] == pytest.approx(1 - 1152 / 11050, abs=0.01)


def test_location_from_new_york_prefers_london_to_tokyo() -> None:
    specs = [spec("tokyo", "tokyo", 0.1), spec("london", "london", 0.1)]
    assert ranked(specs, {LOC: 1}, near=NEW_YORK) == ["london", "tokyo"]


def test_a_region_without_coordinates_scores_zero_on_location() -> None:
    specs = [spec("seoul", "known", 0.1), spec("mars", "unknown", 0.01)]
    table = SpecTable.from_specs(specs, CITIES)
    found = recommend(table, SpecFilter(), Preferences({LOC: 1}, SEOUL), RttMatrix(CITIES))
    assert [(r.spec.name, r.scores["location"]) for r in found] == [
        ("known", 1.0),
        ("unknown", 0.0),
    ]


# latency


def test_latency_uses_the_matrix_then_estimates() -> None:
    rtt = RttMatrix(CITIES, {("c/london", "c/seoul"): 5.0})  # a configured/measured value
    specs = [spec("london", "london", 0.1), spec("tokyo", "tokyo", 0.1)]
    table = SpecTable.from_specs(specs, CITIES)
    found = recommend(table, SpecFilter(), Preferences({LAT: 1}, latency_to=("c/seoul",)), rtt)
    assert [r.spec.name for r in found] == ["london", "tokyo"]
    assert found[0].measures["mean_rtt_ms"] == 5.0
    assert found[1].measures["mean_rtt_ms"] == pytest.approx(2 + 1152 / 100, abs=0.2)
    assert rtt.rtt("c/seoul", "c/seoul") == 2.0
    assert rtt.rtt("c/seoul", "x/unknown") == float("inf")


def test_latency_is_the_mean_over_targets() -> None:
    rtt = RttMatrix(
        CITIES,
        {("c/seoul", "c/tokyo"): 30.0, ("c/london", "c/seoul"): 10.0, ("c/london", "c/tokyo"): 10},
    )
    specs = [spec("seoul", "seoul", 0.1), spec("london", "london", 0.1)]
    table = SpecTable.from_specs(specs, CITIES)
    prefs = Preferences({LAT: 1}, latency_to=("c/seoul", "c/tokyo"))
    found = recommend(table, SpecFilter(), prefs, rtt)
    assert {r.spec.name: r.measures["mean_rtt_ms"] for r in found} == {"seoul": 16, "london": 10}
    assert found[0].spec.name == "london"


# agreement with a naive implementation


regions_st = st.sampled_from(sorted(CITIES))


@st.composite
def catalogs(draw: st.DrawFn) -> list[CatalogSpec]:
    n = draw(st.integers(1, 25))
    specs = []
    for i in range(n):
        key = draw(regions_st)
        specs.append(
            spec(
                key.split("/")[1],
                f"s{i}",
                draw(st.sampled_from([0.01, 0.02, 0.05, 0.1, 0.4])),
                draw(st.sampled_from([1, 2, 4, 8])),
                draw(st.sampled_from([1.0, 4.0, 16.0])),
                draw(st.none() | st.floats(0, 1000)),
            )
        )
    return specs


@settings(max_examples=150, deadline=None)
@given(
    specs=catalogs(),
    weights=st.fixed_dictionaries(
        {c: st.sampled_from([0.0, 0.5, 1.0, 3.0]) for c in Criterion}
    ).filter(lambda w: any(w.values())),
    vcpus=st.sampled_from([Range(), Range(2, 4), Range(None, 1)]),
    limit=st.integers(1, 30),
)
def test_recommend_agrees_with_the_naive_implementation(
    specs: list[CatalogSpec], weights: dict[Criterion, float], vcpus: Range, limit: int
) -> None:
    rtt = RttMatrix(CITIES, {("c/seoul", "c/tokyo"): 33.0})
    prefs = Preferences(weights, near=TOKYO, latency_to=("c/seoul", "c/london"))
    spec_filter = SpecFilter(vcpus=vcpus)
    table = SpecTable.from_specs(specs, CITIES)
    fast = recommend(table, spec_filter, prefs, rtt, limit)
    slow = naive_recommend(specs, CITIES, spec_filter, prefs, rtt, limit)
    assert len(fast) == len(slow)
    for a, b in zip(fast, slow, strict=True):
        assert a.total == pytest.approx(b.total, abs=1e-9)
        assert a.scores == pytest.approx(b.scores, abs=1e-9)
    totals = [r.total for r in fast]
    assert totals == sorted(totals, reverse=True)
