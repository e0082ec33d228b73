"""Fault injection: per flavor and region settings (API error, throttle and boot failure rates,
a VM quota) kept in the store, and the seeded dice that decide each request's fate.

A setting for (flavor, region) wins over (flavor, "*"), which wins over ("*", "*").
"""

from __future__ import annotations

import random

from localcloud.errors import invalid, throttled, unavailable
from localcloud.flavors import FLAVORS
from localcloud.state import FaultSetting, Store

ANY = "*"
INJECTIONS = ("throttled", "injected_errors", "lost_responses")


class Faults:
    def __init__(self, store: Store, rng: random.Random) -> None:
        self._store = store
        self._rng = rng
        self.injected = dict.fromkeys(INJECTIONS, 0)

    def setting(self, flavor: str, region: str | None) -> FaultSetting:
        by_key = {(f.flavor, f.region): f for f in self._store.faults()}
        keys = ((flavor, region or ANY), (flavor, ANY), (ANY, ANY))
        return next((by_key[k] for k in keys if k in by_key), FaultSetting(flavor=flavor))

    def put(self, setting: FaultSetting) -> None:
        flavor = FLAVORS.get(setting.flavor)
        if flavor is None and setting.flavor != ANY:
            raise invalid(f"unknown flavor {setting.flavor!r}; known: {', '.join(FLAVORS)}")
        if setting.region != ANY and (flavor is None or flavor.region(setting.region) is None):
            raise invalid(f"{setting.flavor} has no region {setting.region!r}")
        self._store.put_fault(setting)

    def check(self, flavor: str, region: str | None, mutating: bool) -> bool:
        """Decide the fate of one API request: raise the throttle or error answer injected
        before anything happens, or return True when the request is to run and then lose
        its answer (only mutating requests: that is what tests a client's idempotency)."""
        setting = self.setting(flavor, region)
        if self._rng.random() < setting.throttle_rate:
            self.injected["throttled"] += 1
            raise throttled(setting.retry_after_s)
        if self._rng.random() < setting.api_error_rate:
            if mutating and self._rng.random() < 0.5:
                self.injected["lost_responses"] += 1
                return True
            self.injected["injected_errors"] += 1
            raise unavailable(f"injected error on {flavor} {region or ANY}")
        return False

    def boot_fails(self, flavor: str, region: str) -> bool:
        return self._rng.random() < self.setting(flavor, region).boot_failure_rate

    def reset_counts(self) -> None:
        self.injected = dict.fromkeys(INJECTIONS, 0)
