"""Spec recommendation (pure): filters, then priorities combined by their weights.

Criteria, each normalised to [0, 1] over the filtered candidates (1 is best):

| criterion | raw value | score |
|---|---|---|
| cost | price per hour | (max - price) / (max - min), as the reference |
| performance | measured score; unmeasured specs: see below | (s - min) / (max - min) |
| location | haversine km from the spec's region to `near` | (max - d) / (max - min) |
| latency | mean RTT from the spec's region to the target regions | (max - rtt) / (max - min) |

When every candidate has the same raw value the criterion scores 1 for all (it cannot tell
them apart, and nothing divides by zero). A region without coordinates (or an RTT no one
knows) scores 0 on location (latency).

Performance of a spec without a measured score: the median of the measured scores among the
candidates when at least one is measured (neutral, neither rewarded nor punished), else an
estimate from the hardware: `vcpus + memory_gib / 8`.

total = sum(weight * score) / sum(weights); a weight of 0 removes its criterion (the reference
accepted weights but never read them). Ranking: total descending, then price ascending, then
provider, region and name: deterministic.

Speed: the table holds its numbers as numpy columns. The filter is one boolean mask; the
per-region criteria (location, latency) are computed once per region, not per spec; every
criterion is linear in its raw value, so the total of every spec is one vector expression
`((c + a * price) + b * performance) + region_part[region]` (the same float operations in the
same order for each spec, so the same totals as one at a time); the top `limit` are the totals
at or above the limit-th largest (`_kth_largest`: a partition of a sample, then of the few at or
above its bound), ties and rounding included, re-ranked by their exact totals. This ranks
200,000 specs in about 5 ms of CPU (bench/recommend.py).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum

import numpy as np
from numpy.typing import NDArray
from pydantic import BaseModel

from catalog.entries import CatalogId, catalog_id
from catalog.geo import BASE_RTT_MS, estimated_rtt_ms, haversine_km
from catalog.records import CatalogSource, CatalogSpec, region_key

Floats = NDArray[np.float64]
Ints = NDArray[np.intp]

INF = math.inf
ROUNDING_SLACK = 1e-9
"""Fast totals within this of the k-th best are re-ranked by their exact totals."""
EXACT_POOL_MAX = 20_000
SAMPLE_STRIDE = 64
"""The top's threshold is first bounded over every 64th total (see `_kth_largest`)."""
MEMORY_PER_VCPU_EQUIVALENT = 8.0
"""Estimated performance = vcpus + memory_gib / 8 when nothing is measured."""


def estimated_performance(vcpus: float, memory_gib: float) -> float:
    return vcpus + memory_gib / MEMORY_PER_VCPU_EQUIVALENT


# filters


@dataclass(frozen=True)
class Range:
    """A closed interval; None is unbounded. Text: `2..4`, `2..`, `..4`, `4` (exactly 4)."""

    lo: float | None = None
    hi: float | None = None

    @classmethod
    def parse(cls, text: str, what: str = "range") -> Range:
        raw = text.strip()
        if not raw or raw == "..":
            raise ValueError(f"{what} {text!r}: expected MIN..MAX, MIN.., ..MAX or a number")
        lo_text, sep, hi_text = raw.partition("..")
        if not sep:
            lo_text = hi_text = raw
        try:
            lo = float(lo_text) if lo_text.strip() else None
            hi = float(hi_text) if hi_text.strip() else None
        except ValueError:
            raise ValueError(
                f"{what} {text!r}: expected MIN..MAX, MIN.., ..MAX or a number"
            ) from None
        found = cls(lo, hi)
        found.check(what)
        return found

    def check(self, what: str = "range") -> None:
        for bound in (self.lo, self.hi):
            if bound is not None and not math.isfinite(bound):
                raise ValueError(f"{what} {self.describe()}: bounds must be finite numbers")
        if self.lo is not None and self.hi is not None and self.lo > self.hi:
            raise ValueError(f"{what} {self.describe()}: the minimum exceeds the maximum")

    def intersect(self, other: Range) -> Range:
        """Both at once (e.g. `--vcpus 2..8` with `--max-vcpus 4` is 2..4)."""
        los = [b for b in (self.lo, other.lo) if b is not None]
        his = [b for b in (self.hi, other.hi) if b is not None]
        return Range(max(los) if los else None, min(his) if his else None)

    @property
    def bounds(self) -> tuple[float, float]:
        return (-INF if self.lo is None else self.lo, INF if self.hi is None else self.hi)

    @property
    def unbounded(self) -> bool:
        return self.lo is None and self.hi is None

    def contains(self, value: float) -> bool:
        lo, hi = self.bounds
        return lo <= value <= hi

    def describe(self) -> str:
        if self.lo is not None and self.lo == self.hi:
            return f"{self.lo:g}"
        lo = "" if self.lo is None else f"{self.lo:g}"
        hi = "" if self.hi is None else f"{self.hi:g}"
        return f"{lo}..{hi}"


@dataclass(frozen=True)
class SpecFilter:
    """What a spec must be. `providers` empty: any; `regions` holds region names (any cloud)
    or `provider/region` keys, empty: any."""

    vcpus: Range = Range()
    memory: Range = Range()
    price: Range = Range()
    providers: frozenset[str] = frozenset()
    regions: frozenset[str] = frozenset()

    def allows_region(self, provider: str, region: str) -> bool:
        if self.providers and provider not in self.providers:
            return False
        return (
            not self.regions
            or region in self.regions
            or region_key(provider, region) in (self.regions)
        )

    def describe(self) -> str:
        """`vcpus 2..4 / memory 4..16`, or `any spec`."""
        parts = [
            f"{name} {r.describe()}"
            for name, r in (("vcpus", self.vcpus), ("memory", self.memory), ("price", self.price))
            if not r.unbounded
        ]
        if self.providers:
            parts.append(f"provider {','.join(sorted(self.providers))}")
        if self.regions:
            parts.append(f"region {','.join(sorted(self.regions))}")
        return " / ".join(parts) or "any spec"


# priorities


class Criterion(StrEnum):
    COST = "cost"
    PERFORMANCE = "performance"
    LOCATION = "location"
    LATENCY = "latency"


def parse_priorities(text: str) -> dict[Criterion, float]:
    """`cost=0.6,latency=0.4` (a bare `cost` weighs 1) -> weights; ValueError if malformed,
    negative, repeated, or all zero."""
    weights: dict[Criterion, float] = {}
    known = ", ".join(c.value for c in Criterion)
    for item in filter(None, (part.strip() for part in text.split(","))):
        name, sep, value = (s.strip() for s in item.partition("="))
        try:
            criterion = Criterion(name.lower())
        except ValueError:
            raise ValueError(f"unknown priority {name!r} (known: {known})") from None
        try:
            weight = float(value) if sep else 1.0
        except ValueError:
            raise ValueError(f"priority {item!r}: the weight must be a number") from None
        if not math.isfinite(weight) or weight < 0:
            raise ValueError(f"priority {item!r}: the weight must be a finite number >= 0")
        if criterion in weights:
            raise ValueError(f"priority {criterion.value!r} given twice")
        weights[criterion] = weight
    if not any(w > 0 for w in weights.values()):
        raise ValueError(f"give at least one priority with a weight above 0 ({known})")
    return weights


@dataclass(frozen=True)
class Preferences:
    """Weights of the criteria, the point `near` (latitude, longitude) for location and the
    region keys `latency_to` for latency."""

    weights: Mapping[Criterion, float]
    near: tuple[float, float] | None = None
    latency_to: tuple[str, ...] = ()

    @classmethod
    def default(
        cls, near: tuple[float, float] | None = None, latency_to: Sequence[str] = ()
    ) -> Preferences:
        """cost, plus location if `near` is given and latency if targets are: weight 1 each."""
        weights = {Criterion.COST: 1.0}
        if near is not None:
            weights[Criterion.LOCATION] = 1.0
        if latency_to:
            weights[Criterion.LATENCY] = 1.0
        return cls(weights, near, tuple(latency_to))

    def active(self) -> dict[Criterion, float]:
        """The weights above 0, checked: ValueError if one needs an input that is missing."""
        weights = {c: w for c, w in self.weights.items() if w > 0}
        if not weights:
            raise ValueError("give at least one priority with a weight above 0")
        if Criterion.LOCATION in weights and self.near is None:
            raise ValueError("the location priority needs a point (--near LAT,LON)")
        if Criterion.LATENCY in weights and not self.latency_to:
            raise ValueError("the latency priority needs target regions (--latency-to P/R,...)")
        if self.near is not None:
            lat, lon = self.near
            if not (-90 <= lat <= 90 and -180 <= lon <= 180):
                raise ValueError(f"--near {lat},{lon}: latitude -90..90, longitude -180..180")
        return weights


# inputs


class RttMatrix:
    """RTT in ms between region keys: a stored/configured/measured value when there is one,
    else `estimated_rtt_ms` of the haversine distance; a region's own RTT defaults to
    BASE_RTT_MS. Unknown (no value, no coordinates): infinity."""

    def __init__(
        self,
        coordinates: Mapping[str, tuple[float, float]],
        values: Mapping[tuple[str, str], float] | None = None,
        own_rtt_ms: float = BASE_RTT_MS,
    ) -> None:
        self.coordinates = dict(coordinates)
        self.own_rtt_ms = own_rtt_ms
        self._values: dict[tuple[str, str], float] = {}
        for (a, b), ms in (values or {}).items():
            self._values[(a, b) if a <= b else (b, a)] = ms

    def rtt(self, a: str, b: str) -> float:
        pair = (a, b) if a <= b else (b, a)
        found = self._values.get(pair)
        if found is not None:
            return found
        if a == b:
            value = self.own_rtt_ms
        else:
            at, to = self.coordinates.get(a), self.coordinates.get(b)
            value = INF if at is None or to is None else estimated_rtt_ms(haversine_km(*at, *to))
        self._values[pair] = value
        return value


@dataclass(frozen=True)
class SpecTable:
    """Specs as columns: strings in lists, numbers in numpy arrays (a filter or a total over
    every spec is one vector expression), with their regions' keys and coordinates. A spec's
    performance is NaN when it is not measured."""

    providers: list[str]
    regions: list[str]
    names: list[str]
    vcpus: Ints
    memory: Floats
    price: Floats
    performance: Floats
    sources: list[str]
    region_index: Ints
    region_places: list[tuple[str, str]]
    region_keys: list[str]
    region_coords: list[tuple[float, float] | None]

    @classmethod
    def from_rows(
        cls,
        rows: Iterable[tuple[str, str, str, int, float, float, float | None, str]],
        coordinates: Mapping[str, tuple[float, float]],
    ) -> SpecTable:
        """Rows (provider, region, name, vcpus, memory_gib, price, performance, source);
        `coordinates` by region key."""
        found = list(rows)
        columns = list(zip(*found, strict=True)) if found else [()] * 8
        providers, regions, names, vcpus, memory, price, performance, sources = columns
        index: dict[tuple[str, str], int] = {}
        region_index = [
            index.setdefault(at, len(index)) for at in zip(providers, regions, strict=True)
        ]
        places = list(index)
        keys = [region_key(provider, region) for provider, region in places]
        return cls(
            providers=list(providers),
            regions=list(regions),
            names=list(names),
            vcpus=np.array(vcpus, dtype=np.int64),
            memory=np.array(memory, dtype=np.float64),
            price=np.array(price, dtype=np.float64),
            performance=np.array(performance, dtype=np.float64),  # None -> NaN
            sources=list(sources),
            region_index=np.array(region_index, dtype=np.intp),
            region_places=places,
            region_keys=keys,
            region_coords=[coordinates.get(key) for key in keys],
        )

    @classmethod
    def from_specs(
        cls, specs: Iterable[CatalogSpec], coordinates: Mapping[str, tuple[float, float]]
    ) -> SpecTable:
        return cls.from_rows(
            (
                (
                    s.provider,
                    s.region,
                    s.name,
                    s.vcpus,
                    s.memory_gib,
                    s.price_per_hour,
                    s.performance,
                    s.source.value,
                )
                for s in specs
            ),
            coordinates,
        )

    def __len__(self) -> int:
        return len(self.names)

    def spec(self, i: int) -> CatalogSpec:
        performance = float(self.performance[i])
        return CatalogSpec(
            provider=self.providers[i],
            region=self.regions[i],
            name=self.names[i],
            vcpus=int(self.vcpus[i]),
            memory_gib=float(self.memory[i]),
            price_per_hour=float(self.price[i]),
            source=CatalogSource(self.sources[i]),
            performance=None if math.isnan(performance) else performance,
        )

    def spec_id(self, i: int) -> CatalogId:
        return catalog_id(self.providers[i], self.regions[i], self.names[i])

    def order_key(self, i: int) -> tuple[float, str, str, str]:
        """Tie-break among equal totals: cheaper, then provider, region, name."""
        return (float(self.price[i]), self.providers[i], self.regions[i], self.names[i])

    def candidates(self, spec_filter: SpecFilter) -> Ints:
        """Indexes of the specs the filter lets through, in table order."""
        passing = np.ones(len(self), dtype=bool)
        for column, bounds in (
            (self.vcpus, spec_filter.vcpus),
            (self.memory, spec_filter.memory),
            (self.price, spec_filter.price),
        ):
            if bounds.lo is not None:
                passing &= column >= bounds.lo
            if bounds.hi is not None:
                passing &= column <= bounds.hi
        allowed = np.array([spec_filter.allows_region(*at) for at in self.region_places], bool)
        if not allowed.all():
            passing &= allowed[self.region_index]
        return np.flatnonzero(passing)


# scoring


@dataclass(frozen=True)
class _Norm:
    """Normalisation of one criterion over the candidates' finite values `lo`..`hi`."""

    lo: float
    hi: float
    higher_is_better: bool

    @classmethod
    def over(cls, values: Floats, higher_is_better: bool) -> _Norm:
        if values.size and math.isfinite(values.min()) and math.isfinite(values.max()):
            finite = values  # prices and performance: no mask to build
        else:
            finite = values[np.isfinite(values)]
        if not finite.size:
            return cls(0.0, 0.0, higher_is_better)
        return cls(float(finite.min()), float(finite.max()), higher_is_better)

    def score(self, value: float) -> float:
        """In [0, 1]; 1 for all when every value is the same, 0 for an unknown value."""
        if not math.isfinite(value):
            return 0.0
        if self.hi == self.lo:
            return 1.0
        gap = value - self.lo if self.higher_is_better else self.hi - value
        return min(1.0, max(0.0, gap / (self.hi - self.lo)))

    def linear(self) -> tuple[float, float]:
        """(offset, factor): score = offset + factor * value (up to rounding)."""
        if self.hi == self.lo:
            return 1.0, 0.0
        span = self.hi - self.lo
        if self.higher_is_better:
            return -self.lo / span, 1 / span
        return self.hi / span, -1 / span


class Recommendation(BaseModel):
    """One candidate: the spec, its score per criterion, the weighted total, and the raw
    values scored (price USD/h, performance, distance_km, mean_rtt_ms)."""

    spec: CatalogSpec
    scores: dict[str, float]
    total: float
    measures: dict[str, float | None]


class Scoring:
    """Every candidate of a filter scored under a preference: `totals[k]` is the (fast) total
    of spec `candidates[k]`, `total(k)` its exact one."""

    def __init__(
        self, table: SpecTable, spec_filter: SpecFilter, prefs: Preferences, rtt: RttMatrix
    ) -> None:
        weights = prefs.active()
        self.table, self.prefs = table, prefs
        self.filter_text = spec_filter.describe()
        self.weights = weights
        self.candidates = table.candidates(spec_filter)
        self._weight_sum = sum(weights.values())
        self._share = {c: w / self._weight_sum for c, w in weights.items()}
        cand = self.candidates
        spec_regions = table.region_index[cand]
        n_regions = len(table.region_keys)
        in_use = np.bincount(spec_regions, minlength=n_regions)
        regions_used: list[int] = np.flatnonzero(in_use).tolist()

        # per-region criteria: raw value per region index, normalised over used regions
        self.distance_km: list[float] = [INF] * n_regions
        self.mean_rtt_ms: list[float] = [INF] * n_regions
        self._region_norm: dict[Criterion, _Norm] = {}
        region_part = [0.0] * n_regions
        if Criterion.LOCATION in weights and prefs.near is not None:
            lat, lon = prefs.near
            for r in regions_used:
                at = table.region_coords[r]
                self.distance_km[r] = INF if at is None else haversine_km(lat, lon, *at)
            self._add_region_part(Criterion.LOCATION, self.distance_km, regions_used, region_part)
        if Criterion.LATENCY in weights:
            targets = prefs.latency_to
            for r in regions_used:
                key = table.region_keys[r]
                self.mean_rtt_ms[r] = sum(rtt.rtt(key, t) for t in targets) / len(targets)
            self._add_region_part(Criterion.LATENCY, self.mean_rtt_ms, regions_used, region_part)

        # per-spec criteria: linear in price and performance
        constant = 0.0
        price_factor = 0.0
        price = table.price[cand]
        self._cost_norm = _Norm.over(price, higher_is_better=False)
        if Criterion.COST in weights:
            offset, factor = self._cost_norm.linear()
            constant += self._share[Criterion.COST] * offset
            price_factor = self._share[Criterion.COST] * factor
        self.performance = self._performance_values()
        self._perf_norm = _Norm.over(self.performance, higher_is_better=True)
        perf_factor = 0.0
        if Criterion.PERFORMANCE in weights:
            offset, factor = self._perf_norm.linear()
            constant += self._share[Criterion.PERFORMANCE] * offset
            perf_factor = self._share[Criterion.PERFORMANCE] * factor

        # the same operations in the same order for every spec: ((c + a*p) + b*q) + region
        totals = constant + price_factor * price
        if perf_factor:
            totals += perf_factor * self.performance
        self.totals: Floats = totals + np.array(region_part)[spec_regions]

    def _add_region_part(
        self,
        criterion: Criterion,
        raw: list[float],
        regions_used: list[int],
        region_part: list[float],
    ) -> None:
        norm = _Norm.over(np.array([raw[r] for r in regions_used]), higher_is_better=False)
        self._region_norm[criterion] = norm
        share = self._share[criterion]
        for r in regions_used:
            region_part[r] += share * norm.score(raw[r])

    def _performance_values(self) -> Floats:
        """Performance per candidate: measured, else the candidates' median measured score,
        else (none measured) the hardware estimate."""
        table, cand = self.table, self.candidates
        if Criterion.PERFORMANCE not in self.weights:
            return np.empty(0)
        performance = table.performance[cand]
        measured = ~np.isnan(performance)
        if measured.any():
            return np.where(measured, performance, np.median(performance[measured]))
        return table.vcpus[cand] + table.memory[cand] / MEMORY_PER_VCPU_EQUIVALENT

    def __len__(self) -> int:
        return len(self.candidates)

    def top(self, limit: int) -> list[int]:
        """Positions (into `candidates`/`totals`) of the best `limit`, best first. The fast
        totals pick the few that can be in the top (ties and rounding included); those are
        ranked by their exact totals (`total`)."""
        totals, cand, table = self.totals, self.candidates, self.table
        if limit <= 0 or not totals.size:
            return []
        threshold = _kth_largest(totals, min(limit, totals.size)) - ROUNDING_SLACK
        pool: list[int] = np.flatnonzero(totals >= threshold).tolist()
        if len(pool) <= EXACT_POOL_MAX:
            exact = {k: self.total(k) for k in pool}
            pool.sort(key=lambda k: (-exact[k], *table.order_key(int(cand[k]))))
        else:  # a huge tie: the fast totals are exact to rounding
            pool.sort(key=lambda k: (-totals[k], *table.order_key(int(cand[k]))))
        return pool[:limit]

    def total(self, k: int) -> float:
        """sum(weight * score) / sum(weights) of candidate position `k`."""
        scores = self.scores(k)
        return sum(w * scores[c.value] for c, w in self.weights.items()) / self._weight_sum

    def scores(self, k: int) -> dict[str, float]:
        """Score of every active criterion of candidate position `k`."""
        i = self.candidates[k]
        r = self.table.region_index[i]
        found: dict[str, float] = {}
        for criterion in self.weights:
            if criterion is Criterion.COST:
                found[criterion.value] = self._cost_norm.score(float(self.table.price[i]))
            elif criterion is Criterion.PERFORMANCE:
                found[criterion.value] = self._perf_norm.score(float(self.performance[k]))
            elif criterion is Criterion.LOCATION:
                found[criterion.value] = self._region_norm[criterion].score(self.distance_km[r])
            else:
                found[criterion.value] = self._region_norm[criterion].score(self.mean_rtt_ms[r])
        return found

    def measures(self, k: int) -> dict[str, float | None]:
        i = self.candidates[k]
        r = self.table.region_index[i]
        found: dict[str, float | None] = {"price_per_hour": float(self.table.price[i])}
        if Criterion.PERFORMANCE in self.weights:
            found["performance"] = float(self.performance[k])
        if Criterion.LOCATION in self.weights:
            found["distance_km"] = _finite(self.distance_km[r])
        if Criterion.LATENCY in self.weights:
            found["mean_rtt_ms"] = _finite(self.mean_rtt_ms[r])
        return found

    def recommendation(self, k: int) -> Recommendation:
        return Recommendation(
            spec=self.table.spec(self.candidates[k]),
            scores=self.scores(k),
            total=self.total(k),
            measures=self.measures(k),
        )


def _kth_largest(values: Floats, k: int) -> float:
    """The k-th largest of `values` (1 <= k <= size). The k-th largest of every SAMPLE_STRIDE-th
    value is at most the whole's (its k values are among the whole's), so the whole's is the
    k-th largest of the values at or above it: a short partition instead of a whole one."""
    sample = values[::SAMPLE_STRIDE]
    if sample.size >= k:
        floor = np.partition(sample, sample.size - k)[sample.size - k]
        values = values[values >= floor]
    return float(np.partition(values, values.size - k)[values.size - k])


def _finite(value: float) -> float | None:
    return round(value, 3) if math.isfinite(value) else None


def recommend(
    table: SpecTable,
    spec_filter: SpecFilter,
    prefs: Preferences,
    rtt: RttMatrix,
    limit: int = 10,
) -> list[Recommendation]:
    """The best `limit` specs of `table` passing `spec_filter`, best first (see module doc);
    ValueError if the preferences are incomplete (e.g. location without a point)."""
    scoring = Scoring(table, spec_filter, prefs, rtt)
    return [scoring.recommendation(k) for k in scoring.top(limit)]
