"""Fault injection: per flavor and region settings (API error, throttle and boot failure rates,
a VM quota) kept in the store, and the seeded dice that decide each request's fate; refusals
(a rate of one action's requests, e.g. terminate or create, answered with a permanent error
before anything happens, on dice of their own when seeded) kept in memory: a restart of the
cloud forgets them.

A setting for (flavor, region) wins over (flavor, "*"), which wins over ("*", "*"); the same
holds for the refusals of one action.
"""

from __future__ import annotations

import random
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from localcloud.errors import ApiError, invalid, throttled, unavailable
from localcloud.flavors import FLAVORS
from localcloud.schemas import Name, Rate
from localcloud.state import CloudState, FaultSetting

ANY = "*"
INJECTIONS = ("throttled", "injected_errors", "lost_responses", "refused")

RefusableAction = Literal["create", "suspend", "resume", "reboot", "terminate"]


class RefusalBody(BaseModel):
    """`PUT /admin/refusals`: answer `rate` of the `action` requests in (flavor, region) with
    HTTP 400 `code`, a permanent error (a client must not retry it), changing nothing."""

    model_config = ConfigDict(extra="forbid")

    action: RefusableAction
    flavor: Name = ANY
    region: Name = ANY
    rate: Rate = 1.0
    code: str = Field(default="OperationNotPermitted", pattern=r"^[A-Za-z][A-Za-z0-9.]{0,63}$")
    seed: int | None = None  # dice of its own (the same fates for the same requests)


class _Refusal:
    def __init__(self, body: RefusalBody, rng: random.Random) -> None:
        self.body = body
        self.rng = rng


class Faults:
    def __init__(self, store: CloudState, rng: random.Random) -> None:
        self._store = store
        self._rng = rng
        self.injected = dict.fromkeys(INJECTIONS, 0)
        self._refusals: dict[tuple[str, str, str], _Refusal] = {}

    def setting(self, flavor: str, region: str | None) -> FaultSetting:
        by_key = {(f.flavor, f.region): f for f in self._store.faults()}
        keys = ((flavor, region or ANY), (flavor, ANY), (ANY, ANY))
        return next((by_key[k] for k in keys if k in by_key), FaultSetting(flavor=flavor))

    def put(self, setting: FaultSetting) -> None:
        _check_place(setting.flavor, setting.region)
        self._store.put_fault(setting)

    def put_refusal(self, body: RefusalBody) -> None:
        """Replace the refusal of `body.action` in (flavor, region); rate 0 removes it."""
        _check_place(body.flavor, body.region)
        key = (body.flavor, body.region, body.action)
        if body.rate == 0:
            self._refusals.pop(key, None)
            return
        rng = self._rng if body.seed is None else random.Random(body.seed)
        self._refusals[key] = _Refusal(body, rng)

    def refusals(self) -> list[dict[str, Any]]:
        return [r.body.model_dump() for r in self._refusals.values()]

    def clear_refusals(self) -> None:
        self._refusals.clear()

    def refuse(self, action: str, flavor: str, region: str) -> None:
        """Raise the permanent error a refusal of `action` in (flavor, region) injects, when its
        dice say so; return (the request goes on) otherwise."""
        keys = ((flavor, region, action), (flavor, ANY, action), (ANY, ANY, action))
        refusal = next((self._refusals[k] for k in keys if k in self._refusals), None)
        if refusal is None or refusal.rng.random() >= refusal.body.rate:
            return
        self.injected["refused"] += 1
        raise ApiError(
            400, refusal.body.code, f"{action} not permitted in {flavor} {region} (injected)"
        )

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

    def boot_fails(self, flavor: str, region: str, setting: FaultSetting | None = None) -> bool:
        """The boot failure dice of one VM (`setting`: the one of (flavor, region), if read)."""
        setting = setting or self.setting(flavor, region)
        return self._rng.random() < setting.boot_failure_rate

    def reset_counts(self) -> None:
        self.injected = dict.fromkeys(INJECTIONS, 0)


def _check_place(flavor_name: str, region: str) -> None:
    """The flavor ("*": all) and region ("*": all of the flavor) must exist."""
    flavor = FLAVORS.get(flavor_name)
    if flavor is None and flavor_name != ANY:
        raise invalid(f"unknown flavor {flavor_name!r}; known: {', '.join(FLAVORS)}")
    if region != ANY and (flavor is None or flavor.region(region) is None):
        raise invalid(f"{flavor_name} has no region {region!r}")
