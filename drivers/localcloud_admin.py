"""Admin client of the local cloud (not a cloud driver): health, every VM over all flavors,
fault injection (refusals of one action included), timing overrides, statistics, reset and the
doctor (leaks of real VMs). Used by tests, demos, benchmarks and `mcis localcloud`."""

from __future__ import annotations

from typing import Any

import httpx

from drivers.localcloud import LocalCloudHttp, cloud_vm, tag_params
from models.cloud import CloudVm


class LocalCloudAdmin:
    def __init__(self, base_url: str, client: httpx.AsyncClient | None = None) -> None:
        self._http = LocalCloudHttp(base_url, client)

    async def health(self) -> dict[str, Any]:
        """`{"ok": true, "backend": ..., "flavors": [...]}`; CloudUnreachableError if down."""
        health: dict[str, Any] = await self._http.call("GET", "/healthz")
        return health

    async def vms(self, tags: dict[str, str] | None = None) -> list[CloudVm]:
        """Every listable VM of every flavor and region carrying all `tags`."""
        found = await self._http.call("GET", "/admin/vms", params=tag_params(tags))
        return [cloud_vm(vm) for vm in found]

    async def set_faults(
        self,
        flavor: str,
        region: str = "*",
        *,
        api_error_rate: float = 0.0,
        boot_failure_rate: float = 0.0,
        quota: int | None = None,
        throttle_rate: float = 0.0,
        retry_after_s: float = 1.0,
    ) -> None:
        """Replace the fault setting of `flavor` in `region` ("*": all regions, or flavors)."""
        body = {
            "flavor": flavor,
            "region": region,
            "api_error_rate": api_error_rate,
            "boot_failure_rate": boot_failure_rate,
            "quota": quota,
            "throttle_rate": throttle_rate,
            "retry_after_s": retry_after_s,
        }
        await self._http.call("PUT", "/admin/faults", body=body)

    async def set_refusal(
        self,
        action: str,
        flavor: str = "*",
        region: str = "*",
        *,
        rate: float = 1.0,
        code: str = "OperationNotPermitted",
        seed: int | None = None,
    ) -> None:
        """Answer `rate` of the `action` requests ("create", "suspend", "resume", "reboot",
        "terminate") of `flavor` in `region` with HTTP 400 `code`, a permanent error, before
        anything happens (dice of their own with `seed`); rate 0 lifts the refusal. Refusals
        live in the cloud's memory (a restart forgets them)."""
        body = {
            "action": action,
            "flavor": flavor,
            "region": region,
            "rate": rate,
            "code": code,
            "seed": seed,
        }
        await self._http.call("PUT", "/admin/refusals", body=body)

    async def refusals(self) -> list[dict[str, Any]]:
        answer = await self._http.call("GET", "/admin/refusals")
        return list(answer["refusals"])

    async def clear_faults(self) -> None:
        """Drop every fault setting and refusal."""
        await self._http.call("DELETE", "/admin/faults")

    async def set_timings(
        self,
        flavor: str = "*",
        *,
        boot_s: float | None = None,
        stop_s: float | None = None,
        start_s: float | None = None,
        reboot_s: float | None = None,
        terminate_s: float | None = None,
    ) -> None:
        """Override phase durations with absolute seconds (None keeps the current value)."""
        body = {
            "flavor": flavor,
            "boot_s": boot_s,
            "stop_s": stop_s,
            "start_s": start_s,
            "reboot_s": reboot_s,
            "terminate_s": terminate_s,
        }
        await self._http.call("PUT", "/admin/timings", body=body)

    async def clear_timings(self) -> None:
        await self._http.call("DELETE", "/admin/timings")

    async def stats(self) -> dict[str, Any]:
        """VM counts by flavor, region and phase; vnets, security groups, key pairs; requests."""
        stats: dict[str, Any] = await self._http.call("GET", "/admin/stats")
        return stats

    async def simulate_load(self, tags: dict[str, str], cpu_percent: float) -> int:
        """Phantom VMs carrying `tags` report `cpu_percent` CPU use; the number of VMs."""
        body = {"tags": tags, "cpu_percent": cpu_percent}
        answer = await self._http.call("PUT", "/admin/simulated-load", body=body)
        return int(answer["vms"])

    async def reset(self) -> None:
        """Forget every resource, VM, fault and timing override (real VMs are destroyed)."""
        await self._http.call("POST", "/admin/reset")

    async def doctor(self) -> dict[str, Any]:
        """What real VMs left behind: `{"leaks": [{"kind", "name", "vm_id", "detail"}],
        "cleaned": [], "summary": {"leaked": n, "by_kind": {...}, "live_vms": n, ...}}`."""
        report: dict[str, Any] = await self._http.call("GET", "/admin/doctor")
        return report

    async def doctor_clean(self) -> dict[str, Any]:
        """Remove every leak; the doctor's report after that, with what was `cleaned`."""
        report: dict[str, Any] = await self._http.call("POST", "/admin/doctor/clean")
        return report

    async def aclose(self) -> None:
        await self._http.aclose()
