"""VM activities: create one VM idempotently, act on one VM, and observe the VMs of one region
until something changes (one list call per poll for the whole region, at the cloud's read rate,
heartbeating all along)."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from functools import partial

from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.cloud_calls import cloud_call, heartbeating, store_call
from activities.deps import ActivityDeps
from activities.observation import (
    apply_observation,
    listing_may_lag,
    observe_listed,
    observed_change,
)
from catalog.entries import CatalogId, catalog_id
from drivers.base import CloudDriver
from models.cloud import CloudVm, VmCreateRequest
from models.naming import (
    TAG_GROUP,
    TAG_MCIS,
    TAG_NAMESPACE,
    TAG_UID,
    TAG_VM,
    cloud_vm_name,
    is_valid_name,
    vm_name,
    vm_tags,
)
from models.operations import (
    CreateVmInput,
    NetworkRefs,
    ObserveVmsInput,
    ReconcileInput,
    ReconcileResult,
    VmActionInput,
)
from models.records import VmRecord
from models.status import TRANSITIONAL, TargetAction, VmStatus


class VmActivities:
    def __init__(self, deps: ActivityDeps) -> None:
        self._deps = deps

    @activity.defn(name="create_vm")
    async def create_vm(self, inp: CreateVmInput) -> VmRecord:
        """Create the VM, or find the one its client token already made. The record is saved
        by the next observation of its region (one write for many VMs)."""
        vm = inp.vm
        driver = self._deps.driver(vm.provider)
        request = create_request(inp.namespace, inp.mcis, inp.uid, vm, inp.network)
        seen = await cloud_call(lambda: driver.create_vm(vm.region, request))
        created = vm.model_copy(update={"created_at": datetime.now(UTC)})
        return apply_observation(created, seen, TargetAction.CREATE)

    @activity.defn(name="vm_action")
    async def vm_action(self, inp: VmActionInput) -> VmRecord:
        """Suspend, resume, reboot or terminate one VM; a VM never created is left as it is."""
        vm = inp.vm
        if vm.csp_id is None:
            return vm
        driver = self._deps.driver(vm.provider)
        csp_id = vm.csp_id
        if inp.action is TargetAction.TERMINATE:
            await cloud_call(lambda: driver.terminate_vm(vm.region, csp_id))
            seen = await self._deps.read(vm.provider, lambda: driver.get_vm(vm.region, csp_id))
        else:
            call = {
                TargetAction.SUSPEND: driver.suspend_vm,
                TargetAction.RESUME: driver.resume_vm,
                TargetAction.REBOOT: driver.reboot_vm,
            }[inp.action]
            seen = await cloud_call(lambda: call(vm.region, csp_id))
        updated = apply_observation(vm, seen, inp.action)
        await store_call(lambda: self._deps.store.upsert_vms([updated]))
        return updated

    @activity.defn(name="observe_vms")
    async def observe_vms(self, inp: ObserveVmsInput) -> list[VmRecord]:
        """Poll the region until a VM's state changes (and `report_every_s` has passed since
        the start), all are stable, or `max_wait_s` passed. Returns the VMs that changed
        (already saved to the store)."""
        driver = self._deps.driver(inp.provider)
        started = time.monotonic()
        deadline = started + inp.max_wait_s
        report_at = started + inp.report_every_s
        vms = inp.vms or await self._named(inp.namespace, inp.mcis, inp.names)
        watched = [vm for vm in vms if vm.csp_id]
        listing = partial(driver.list_vms, inp.region, {TAG_UID: inp.uid})
        changed: list[VmRecord] = []
        async with heartbeating():  # polls, and sleeps between them
            while True:
                try:
                    listed = await self._deps.read(inp.provider, listing)
                except ApplicationError as exc:
                    if exc.non_retryable:
                        raise
                    listed = None  # a passing cloud fault: poll again
                if listed is not None:
                    by_id = {seen.csp_id: seen for seen in listed}
                    at = datetime.now(UTC)
                    now = [
                        observe_listed(vm, by_id.get(vm.csp_id or ""), inp.action, at)
                        for vm in watched
                    ]
                    if inp.action is TargetAction.TERMINATE:
                        # A deleted GCE or Azure VM leaves the listing: for one young enough
                        # that the listing may lag, a direct read says whether it is gone
                        # instead of the grace window running out.
                        unlisted = {
                            vm.name
                            for vm in watched
                            if vm.csp_id not in by_id and listing_may_lag(vm, at)
                        }
                        now = [
                            await self._read_directly(driver, vm) if vm.name in unlisted else seen
                            for vm, seen in zip(watched, now, strict=True)
                        ]
                    changed = [
                        a
                        for b, a in zip(watched, now, strict=True)
                        if observed_change(b, a) or inp.known.get(a.name, a.status) != a.status
                    ]
                    settled = all(vm.status not in TRANSITIONAL for vm in now)
                    if settled or (changed and time.monotonic() >= report_at):
                        if changed:
                            await store_call(partial(self._deps.store.upsert_vms, changed))
                        return changed
                    running = sum(vm.status is VmStatus.RUNNING for vm in now)
                    activity.heartbeat(f"{running}/{len(now)} running")
                if time.monotonic() >= deadline:
                    if changed:
                        await store_call(partial(self._deps.store.upsert_vms, changed))
                    return changed
                await asyncio.sleep(inp.poll_interval_s)

    async def _named(self, namespace: str, mcis: str, names: list[str]) -> list[VmRecord]:
        store = self._deps.store
        return await store_call(partial(store.vms_named, namespace, mcis, names))

    async def _read_directly(self, driver: CloudDriver, vm: VmRecord) -> VmRecord:
        """A VM being terminated, as a direct read of it shows it (None: it is gone)."""
        assert vm.csp_id is not None
        direct = await self._deps.read(vm.provider, partial(driver.get_vm, vm.region, vm.csp_id))
        return apply_observation(vm, direct, TargetAction.TERMINATE)

    @activity.defn(name="reconcile_vms")
    async def reconcile_vms(self, inp: ReconcileInput) -> ReconcileResult:
        """Compare the records with what the clouds hold for this MCIS (by its tags): adopt VMs
        that carry its tags but have no record, report records whose VM is gone. A VM just
        created that the listing leaves out is read directly: the listing may lag its create.
        With the records in the store (`vms_in_store`), it reads them from there, writes back
        what changed and what it adopted, and returns names only (the adopted and the missing)."""
        records = inp.vms
        if inp.vms_in_store:
            store = self._deps.store
            records = await store_call(partial(store.list_vms, inp.namespace, inp.mcis))
        result = ReconcileResult()
        known = {vm.csp_id: vm for vm in records if vm.csp_id}
        known_by_name = {vm.name: vm for vm in records}
        names = set(known_by_name)
        seen: set[str] = set()
        for provider, region in inp.regions:
            driver = self._deps.driver(provider)
            tags = {TAG_NAMESPACE: inp.namespace, TAG_MCIS: inp.mcis}
            listed = await self._deps.read(provider, partial(driver.list_vms, region, tags))
            for cloud_vm in sorted(listed, key=lambda v: v.csp_id):
                if cloud_vm.tags.get(TAG_UID, inp.uid) != inp.uid:
                    continue  # left by an earlier MCIS of the same name: an orphan, not ours
                seen.add(cloud_vm.csp_id)
                record = known.get(cloud_vm.csp_id)
                if record is not None:
                    result.observed.append(apply_observation(record, cloud_vm, TargetAction.NONE))
                    continue
                adopted = adopt(inp.namespace, inp.mcis, cloud_vm, names)
                if adopted.status is not VmStatus.TERMINATED:
                    names.add(adopted.name)
                    result.adopted.append(adopted)
        at = datetime.now(UTC)
        for vm in records:
            if not vm.csp_id or vm.csp_id in seen or vm.status is VmStatus.TERMINATED:
                continue
            if listing_may_lag(vm, at):  # the listing may not show it yet: ask for it
                driver = self._deps.driver(vm.provider)
                direct = await self._deps.read(
                    vm.provider, partial(driver.get_vm, vm.region, vm.csp_id)
                )
                if direct is not None:
                    result.observed.append(apply_observation(vm, direct, TargetAction.NONE))
                    continue
            result.missing.append(vm.name)
        result.missing.sort()
        if inp.vms_in_store:  # written here; the workflow reads the records back
            observed = [vm for vm in result.observed if observed_change(known_by_name[vm.name], vm)]
            await store_call(partial(self._deps.store.upsert_vms, observed + result.adopted))
            adopted_names = [vm.name for vm in result.adopted]
            return ReconcileResult(adopted_names=adopted_names, missing=result.missing)
        return result


def create_request(
    namespace: str, mcis: str, uid: str, vm: VmRecord, net: NetworkRefs
) -> VmCreateRequest:
    """What the cloud is asked for to create `vm`: its cloud name, token and tags."""
    return VmCreateRequest(
        name=cloud_vm_name(namespace, mcis, vm.name),
        spec=CatalogId(vm.spec).name,
        image=CatalogId(vm.image).name,
        vnet_csp_id=net.vnet_csp_id,
        subnet_csp_id=net.subnet_csp_id,
        security_group_csp_ids=net.security_group_csp_ids,
        key_name=net.key_csp_name,
        client_token=vm.client_token,
        tags=vm_tags(namespace, mcis, uid, vm.group, vm.name, vm.serial),
    )


def adopt(namespace: str, mcis: str, seen: CloudVm, taken: set[str]) -> VmRecord:
    """A record for a VM found at the cloud with this MCIS's tags: its own name and group when
    its tags give them (and the name is free), else the next free `{group}-{n}`."""
    group = seen.tags.get(TAG_GROUP, "")
    group = group if is_valid_name(group) else "adopted"  # tags are whatever the cloud holds
    name = seen.tags.get(TAG_VM, "")
    name = name if is_valid_name(name) else ""
    index = 1
    while not name or name in taken:
        name, index = vm_name(group, index), index + 1
    record = VmRecord(
        namespace=namespace,
        mcis=mcis,
        name=name,
        group=group,
        provider=seen.provider,
        region=seen.region,
        spec=catalog_id(seen.provider, seen.region, seen.spec),
        image=catalog_id(seen.provider, seen.region, seen.image),
        client_token=seen.client_token,
        error="adopted by reconcile",
    )
    return apply_observation(record, seen, TargetAction.NONE)
