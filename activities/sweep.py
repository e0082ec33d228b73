"""Sweep activities (`mcis reconcile --all`): list every region of every cloud this worker reaches
for VMs with mcis tags, then read the store, and classify (models.sweep); terminate one orphan.

The regions: those each driver offers, i.e. every region of the local cloud's flavors and the
configured regions of each connection (what mcis can create in is where its VMs can be).
"""

from __future__ import annotations

import asyncio
from functools import partial

from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.cloud_calls import cloud_call, store_call
from activities.deps import ActivityDeps
from drivers.status_map import to_canonical
from models.cloud import CloudVm
from models.naming import TAG_MCIS, TAG_NAMESPACE, TAG_UID, TAG_VM
from models.records import VmRecord
from models.status import TargetAction
from models.sweep import (
    OrphanRef,
    ScanError,
    SweepInput,
    SweepReport,
    SweepScan,
    TaggedVm,
    classify,
)

REGIONS_AT_ONCE = 8


def tagged(seen: CloudVm) -> TaggedVm | None:
    """The VM as the sweep sees it, if it carries the mcis tags."""
    tags = seen.tags
    if not tags.get(TAG_NAMESPACE) or not tags.get(TAG_MCIS):
        return None
    return TaggedVm(
        provider=seen.provider,
        region=seen.region,
        csp_id=seen.csp_id,
        name=seen.name,
        namespace=tags[TAG_NAMESPACE],
        mcis=tags[TAG_MCIS],
        uid=tags.get(TAG_UID, ""),
        vm=tags.get(TAG_VM, ""),
        status=to_canonical(
            seen.cloud or seen.provider, seen.native_status, TargetAction.NONE, seen.failure_reason
        ),
        native_status=seen.native_status,
    )


class SweepActivities:
    def __init__(self, deps: ActivityDeps) -> None:
        self._deps = deps

    @activity.defn(name="scan_for_orphans")
    async def scan_for_orphans(self, inp: SweepInput) -> SweepReport:
        """List the clouds, then read the store (in this order: see models.sweep), classify.
        A cloud or region that cannot be listed is reported, not fatal."""
        scan = SweepScan()
        places: list[tuple[str, str]] = []
        for provider in sorted(self._deps.drivers):
            driver = self._deps.drivers[provider]
            try:
                regions = await cloud_call(driver.regions)
            except ApplicationError as exc:
                scan.errors.append(ScanError(provider=provider, region="*", error=exc.message))
                continue
            places += sorted({(provider, r.name) for r in regions})
        limit = asyncio.Semaphore(REGIONS_AT_ONCE)

        async def one(provider: str, region: str) -> None:
            driver = self._deps.drivers[provider]
            async with limit:
                await self._deps.read_limiter.wait(provider)
                try:
                    listed = await cloud_call(partial(driver.list_vms, region, None))
                except ApplicationError as exc:
                    error = ScanError(provider=provider, region=region, error=exc.message)
                    scan.errors.append(error)
                    return
            scan.regions.append((provider, region))
            scan.vms += [vm for vm in map(tagged, listed) if vm is not None]
            activity.heartbeat(f"{len(scan.regions)}/{len(places)} regions")

        await asyncio.gather(*(one(p, r) for p, r in places))
        scan.regions.sort()
        scan.errors.sort(key=lambda e: (e.provider, e.region))
        uids, records = await store_call(self._inventory)
        return classify(scan, uids, records)

    def _inventory(self) -> tuple[dict[tuple[str, str], str], list[VmRecord]]:
        store = self._deps.store
        uids = {
            (record.namespace, record.name): record.uid
            for namespace in store.list_namespaces()
            for record in store.list_mcis(namespace.name)
        }
        return uids, store.all_vms()

    @activity.defn(name="terminate_orphan")
    async def terminate_orphan(self, ref: OrphanRef) -> str:
        """Terminate the orphan; `already gone` if the cloud no longer holds it. Refused (for
        good) if the VM found no longer carries the tags the sweep saw."""
        driver = self._deps.driver(ref.provider)
        seen = await cloud_call(partial(driver.get_vm, ref.region, ref.csp_id))
        if seen is None:
            return "already gone"
        tags = seen.tags
        expected = {TAG_NAMESPACE: ref.namespace, TAG_MCIS: ref.mcis, TAG_UID: ref.uid}
        if any(tags.get(k, "") != v for k, v in expected.items()):
            raise ApplicationError(
                f"{ref.provider}/{ref.region} {ref.csp_id} no longer carries the tags of "
                f"{ref.namespace}/{ref.mcis}: left alone",
                type="NotAnOrphan",
                non_retryable=True,
            )
        await cloud_call(partial(driver.terminate_vm, ref.region, ref.csp_id))
        return "terminated"
