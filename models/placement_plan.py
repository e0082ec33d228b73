"""MCIS-level placement (pure): N VMs whose every VM-to-VM RTT stays strictly below a bound B,
at the best total score (the criteria of `catalog.ranking`), optionally spread over at least
K regions and P providers; or the exact reason why no such placement exists.

The model. A plan puts VMs on specs; VMs in one region see that region's own RTT (2 ms unless
measured or configured), VMs in two regions the RTT between them. The plan's value is the sum
of its VMs' spec totals (shown as their mean). Within one region only its best spec is worth
using (best total; cheaper, then name, on ties), so a plan is a set S of regions, pairwise
within B, each holding at least one VM, and a region holding two VMs or more must have an own
RTT below B. Moving a VM between two such regions towards the better one never lowers the
value, so an optimal plan has an *anchor* a in S holding N - |S| + 1 VMs and one VM on every
other region of S: value = N * b_a + sum(b_r - b_a for r in S - {a}), where b_r is the best
total of region r. The anchor's own RTT must be below B unless it holds one VM (|S| = N).

Search: for each anchor, a branch and bound over the regions within B of it (best first),
adding a region while it is within B of every region chosen, with at least max(K, P) - 1 and
at most N - 1 of them; bounded by the best sum of the remaining gains b_r - b_a and pruned by
the provider count still reachable. Regions better than the anchor are worth adding (one VM
each), worse ones only to reach K regions or P providers. The search is exact unless it
expands more than `budget` nodes (hundreds of regions within B of each other and a large N or
K); then the best plan found is returned (a greedy one at worst: per anchor, repeatedly the
best region within B of all chosen) and `exact` is False.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from pydantic import BaseModel

from catalog.ranking import RttMatrix, Scoring
from catalog.records import CatalogSpec

DEFAULT_BUDGET = 200_000
"""Branch-and-bound nodes before the search settles for the best plan found."""


class PlacementError(ValueError):
    """No plan meets the conditions; the message says exactly why."""


class PlanGroup(BaseModel):
    spec: CatalogSpec
    count: int
    scores: dict[str, float]
    total: float


class PlacementPlan(BaseModel):
    groups: list[PlanGroup]
    vm_count: int
    regions: list[str]  # region keys, anchor (most VMs) first
    providers: list[str]
    bound_ms: float
    max_rtt_ms: float  # the largest VM-to-VM RTT of the plan (0 for a single VM)
    score: float  # mean spec total over the VMs
    hourly_cost: float
    exact: bool  # False: the search hit its budget, a better plan may exist
    candidate_specs: int
    candidate_regions: int


@dataclass
class _Region:
    """A region with candidates: its best candidate position and total."""

    index: int  # into table.region_keys
    key: str
    provider: str
    best: int  # position into scoring.candidates
    value: float
    own_rtt: float


class _Search:
    """Branch and bound over anchors and the regions added to them (see module doc)."""

    def __init__(
        self,
        regions: Sequence[_Region],
        near: Callable[[int, int], bool],
        count: int,
        size: int,
        bound_ms: float,
        min_providers: int,
        budget: int,
    ) -> None:
        self.regions = regions  # sorted by value, best first
        self.near = near  # positions into `regions` within the bound of each other
        self.count, self.size, self.bound_ms = count, size, bound_ms
        self.min_providers = min_providers
        self.budget = budget
        self.nodes = 0
        self.exhausted = False
        self.best_value = -math.inf
        self.best: list[int] = []  # anchor first

    def run(self) -> _Search:
        regions, everything = self.regions, range(len(self.regions))
        plans = []
        for a in everything:
            lo, hi = self.size - 1, self.count - 1
            if regions[a].own_rtt >= self.bound_ms:
                lo = hi  # the anchor cannot hold two VMs: one VM on each of N regions
            if lo > hi:
                continue
            pool = [p for p in everything if p != a and self.near(a, p)]
            plans.append((a, lo, hi, pool))
        for a, lo, hi, pool in plans:
            self.greedy(a, pool, lo, hi)
        for a, lo, hi, pool in plans:
            if not self.exhausted:
                self.extend(a, [], self.count * regions[a].value, pool, lo, hi)
        return self

    def gain(self, a: int, p: int) -> float:
        return self.regions[p].value - self.regions[a].value

    def providers_ok(self, a: int, chosen: Sequence[int]) -> bool:
        have = {self.regions[p].provider for p in chosen}
        return len(have | {self.regions[a].provider}) >= self.min_providers

    def offer(self, a: int, chosen: Sequence[int], value: float) -> None:
        if value > self.best_value + 1e-12:
            self.best_value, self.best = value, [a, *chosen]

    def greedy(self, a: int, pool: list[int], lo: int, hi: int) -> None:
        """Add the best region within B of all chosen while it gains, or while K regions or
        P providers are not reached yet (a new provider first)."""
        chosen: list[int] = []
        value = self.count * self.regions[a].value
        while len(chosen) < hi and pool:
            have = {self.regions[p].provider for p in [a, *chosen]}
            fresh = [p for p in pool if self.regions[p].provider not in have]
            wanting = len(have) < self.min_providers
            pick = fresh[0] if fresh and wanting else pool[0]
            if len(chosen) >= lo and not wanting and self.gain(a, pick) <= 0:
                break
            chosen.append(pick)
            value += self.gain(a, pick)
            pool = [p for p in pool if p != pick and self.near(p, pick)]
        if len(chosen) >= lo and self.providers_ok(a, chosen):
            self.offer(a, chosen, value)

    def extend(
        self, a: int, chosen: list[int], value: float, pool: list[int], lo: int, hi: int
    ) -> None:
        """Every (bounded) way to add regions of `pool` to `chosen`."""
        if len(chosen) >= lo and self.providers_ok(a, chosen):
            self.offer(a, chosen, value)
        room = hi - len(chosen)
        need = max(0, lo - len(chosen))
        if room == 0 or len(pool) < need or not pool:
            return
        self.nodes += 1
        if self.nodes > self.budget:
            self.exhausted = True
            return
        # bound: the best sum of j gains from the pool, need <= j <= room (pool is best first)
        upper, running = (-math.inf if need else 0.0), 0.0
        for j, p in enumerate(pool[:room], start=1):
            running += self.gain(a, p)
            if j >= need:
                upper = max(upper, running)
        if value + upper <= self.best_value + 1e-12:
            return
        regions = self.regions
        have = {regions[p].provider for p in [a, *chosen]}
        missing = self.min_providers - len(have)
        if missing > 0 and (
            missing > room or len({regions[p].provider for p in pool} - have) < missing
        ):
            return
        for at, p in enumerate(pool):
            if len(pool) - at < need or self.exhausted:
                return
            rest = [q for q in pool[at + 1 :] if self.near(p, q)]
            self.extend(a, [*chosen, p], value + self.gain(a, p), rest, lo, hi)


def plan_mcis(
    scoring: Scoring,
    rtt: RttMatrix,
    count: int,
    bound_ms: float,
    min_regions: int = 1,
    min_providers: int = 1,
    budget: int = DEFAULT_BUDGET,
) -> PlacementPlan:
    """The best plan for `count` VMs among `scoring`'s candidates whose VM-to-VM RTTs are all
    below `bound_ms`, over at least `min_regions` regions and `min_providers` providers;
    PlacementError with the reason when there is none."""
    if count < 1:
        raise PlacementError("an MCIS needs at least 1 VM")
    if not bound_ms > 0:
        raise PlacementError("the latency bound must be above 0 ms")
    table = scoring.table
    if not len(scoring):
        raise PlacementError(f"no spec matches {scoring.filter_text} among {len(table)} specs")
    size = max(min_regions, min_providers, 1)
    if count < size:
        what = f"{size} regions" if min_regions >= min_providers else f"{size} providers"
        raise PlacementError(f"cannot spread {count} VMs over {what}")

    regions = _regions(scoring, rtt)
    keys = [r.key for r in regions]
    close = [
        [a == b or rtt.rtt(keys[a], keys[b]) < bound_ms for b in range(len(regions))]
        for a in range(len(regions))
    ]

    def near(a: int, b: int) -> bool:
        return close[a][b]

    search = _Search(regions, near, count, size, bound_ms, min_providers, budget).run()
    if not search.best:
        raise PlacementError(
            _why_not(scoring, rtt, regions, near, count, size, bound_ms, min_providers)
        )
    counts = [count - len(search.best) + 1] + [1] * (len(search.best) - 1)
    return _plan(scoring, rtt, regions, search.best, counts, bound_ms, search)


def _regions(scoring: Scoring, rtt: RttMatrix) -> list[_Region]:
    """Every region with a candidate, with its best candidate, best value first. Only the
    candidates at their region's highest total can be its best: the tie-break runs on those."""
    table, totals, cand = scoring.table, scoring.totals, scoring.candidates
    spec_regions = table.region_index[cand]
    highest = np.full(len(table.region_keys), -np.inf)
    np.maximum.at(highest, spec_regions, totals)
    best: dict[int, int] = {}
    for k in np.flatnonzero(totals == highest[spec_regions]).tolist():
        r = int(spec_regions[k])
        held = best.get(r)
        if held is None or table.order_key(cand[k]) < table.order_key(cand[held]):
            best[r] = k
    found = [
        _Region(
            index=r,
            key=table.region_keys[r],
            provider=table.region_places[r][0],
            best=k,
            value=float(totals[k]),
            own_rtt=rtt.rtt(table.region_keys[r], table.region_keys[r]),
        )
        for r, k in best.items()
    ]
    found.sort(key=lambda g: (-g.value, *table.order_key(cand[g.best])))
    return found


def _plan(
    scoring: Scoring,
    rtt: RttMatrix,
    regions: Sequence[_Region],
    chosen: Sequence[int],
    counts: Sequence[int],
    bound_ms: float,
    search: _Search,
) -> PlacementPlan:
    table = scoring.table
    picked = [regions[p] for p in chosen]
    groups = []
    for region, n in zip(picked, counts, strict=True):
        k = region.best
        groups.append(
            PlanGroup(
                spec=table.spec(scoring.candidates[k]),
                count=n,
                scores=scoring.scores(k),
                total=scoring.total(k),
            )
        )
    first, rest = groups[:1], sorted(groups[1:], key=lambda g: (g.spec.provider, g.spec.region))
    groups = first + rest
    rtts = [rtt.rtt(r.key, r.key) for r, n in zip(picked, counts, strict=True) if n > 1]
    rtts += [rtt.rtt(a.key, b.key) for i, a in enumerate(picked) for b in picked[i + 1 :]]
    vms = sum(counts)
    return PlacementPlan(
        groups=groups,
        vm_count=vms,
        regions=[g.spec.provider + "/" + g.spec.region for g in groups],
        providers=sorted({g.spec.provider for g in groups}),
        bound_ms=bound_ms,
        max_rtt_ms=max(rtts, default=0.0),
        score=sum(g.total * g.count for g in groups) / vms,
        hourly_cost=round(sum(g.spec.price_per_hour * g.count for g in groups), 6),
        exact=not search.exhausted,
        candidate_specs=len(scoring),
        candidate_regions=len(regions),
    )


def _why_not(
    scoring: Scoring,
    rtt: RttMatrix,
    regions: Sequence[_Region],
    near: Callable[[int, int], bool],
    count: int,
    size: int,
    bound_ms: float,
    min_providers: int,
) -> str:
    """The reason no plan exists, naming the closest regions."""
    among = (
        f"among the {len(regions)} region{'s' if len(regions) != 1 else ''} that have a spec "
        f"matching {scoring.filter_text}"
    )
    bound = f"{bound_ms:g} ms"
    if size == 1:
        # several VMs, yet no region's own RTT is below the bound, nor enough regions
        own = min(regions, key=lambda r: (r.own_rtt, r.key))
        return (
            f"no region keeps {count} VMs within {bound} of each other {among}: the lowest "
            f"own RTT is {own.own_rtt:g} ms ({own.key}), and no {count} regions are within "
            f"{bound} of each other"
        )
    pairs = [
        (rtt.rtt(a.key, b.key), *sorted((a.key, b.key)))
        for i, a in enumerate(regions)
        for b in regions[i + 1 :]
    ]
    if not pairs:
        return f"no {size} regions are within {bound} of each other {among}"
    closest = min(pairs)
    closest_text = f"closest pair: {closest[1]} - {closest[2]} {closest[0]:.1f} ms"
    largest = _largest_group(len(regions), near)
    group_text = (
        f"largest group within {bound}: {len(largest)} regions "
        f"({', '.join(regions[p].key for p in largest)})"
    )
    if len(largest) < size:
        text = f"no {size} regions are within {bound} of each other {among}; {closest_text}"
        return text + (f"; {group_text}" if len(largest) >= 2 else "")
    relaxed = _Search(regions, near, count, size, bound_ms, 1, DEFAULT_BUDGET)
    if min_providers > 1 and relaxed.run().best:
        return (
            f"no {size} regions within {bound} of each other span {min_providers} providers "
            f"{among}; {group_text}"
        )
    return (
        f"no {size} regions within {bound} of each other include one whose own RTT is below "
        f"{bound} to hold {count - size + 1} VMs, and no {count} regions are within {bound} of "
        f"each other {among}; {group_text}"
    )


def _largest_group(size: int, near: Callable[[int, int], bool]) -> list[int]:
    """A largest set of regions (positions) pairwise within the bound: exact for small inputs,
    the best found within DEFAULT_BUDGET nodes beyond."""
    best: list[int] = []
    nodes = 0

    def grow(chosen: list[int], pool: list[int]) -> None:
        nonlocal best, nodes
        nodes += 1
        if len(chosen) > len(best):
            best = list(chosen)
        for at, p in enumerate(pool):
            if nodes > DEFAULT_BUDGET or len(chosen) + len(pool) - at <= len(best):
                return
            grow([*chosen, p], [q for q in pool[at + 1 :] if near(p, q)])

    grow([], list(range(size)))
    return best
