"""VM activities: create one VM idempotently, act on one VM, and observe the VMs of one region
until something changes (one list call per poll for the whole region, heartbeating progress)."""

from __future__ import annotations

import asyncio
import time
from functools import partial

from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.cloud_calls import cloud_call, store_call
from activities.deps import ActivityDeps
from activities.observation import apply_observation, observed_change
from models.catalog import split_catalog_id
from models.cloud import VmCreateRequest
from models.naming import TAG_UID, cloud_vm_name, vm_tags
from models.operations import CreateVmInput, ObserveVmsInput, VmActionInput
from models.records import VmRecord
from models.status import TRANSITIONAL, TargetAction, VmStatus


class VmActivities:
    def __init__(self, deps: ActivityDeps) -> None:
        self._deps = deps

    @activity.defn(name="create_vm")
    async def create_vm(self, inp: CreateVmInput) -> VmRecord:
        """Create the VM, or find the one its client token already made. The record is saved
        by the next observation of its region (one write for many VMs)."""
        vm, net = inp.vm, inp.network
        driver = self._deps.driver(vm.provider)
        request = VmCreateRequest(
            name=cloud_vm_name(inp.namespace, inp.mcis, vm.name),
            spec=split_catalog_id(vm.spec)[2],
            image=split_catalog_id(vm.image)[2],
            vnet_csp_id=net.vnet_csp_id,
            subnet_csp_id=net.subnet_csp_id,
            security_group_csp_ids=net.security_group_csp_ids,
            key_name=net.key_csp_name,
            client_token=vm.client_token,
            tags=vm_tags(inp.namespace, inp.mcis, inp.uid, vm.group, vm.name),
        )
        seen = await cloud_call(lambda: driver.create_vm(vm.region, request))
        return apply_observation(vm, seen, TargetAction.CREATE)

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
            seen = await cloud_call(lambda: driver.get_vm(vm.region, csp_id))
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
        """Poll the region until a VM's state changes, all are stable, or `max_wait_s` passed.
        Returns the VMs that changed (already saved to the store)."""
        driver = self._deps.driver(inp.provider)
        deadline = time.monotonic() + inp.max_wait_s
        watched = [vm for vm in inp.vms if vm.csp_id]
        while True:
            try:
                listed = await cloud_call(lambda: driver.list_vms(inp.region, {TAG_UID: inp.uid}))
            except ApplicationError as exc:
                if exc.non_retryable:
                    raise
                listed = None  # a passing cloud fault: poll again
            if listed is not None:
                by_id = {seen.csp_id: seen for seen in listed}
                now = [
                    apply_observation(vm, by_id.get(vm.csp_id or ""), inp.action) for vm in watched
                ]
                changed = [a for b, a in zip(watched, now, strict=True) if observed_change(b, a)]
                settled = all(vm.status not in TRANSITIONAL for vm in now)
                if changed or settled:
                    if changed:
                        await store_call(partial(self._deps.store.upsert_vms, changed))
                    return changed
                running = sum(vm.status is VmStatus.RUNNING for vm in now)
                activity.heartbeat(f"{running}/{len(now)} running")
            if time.monotonic() >= deadline:
                return []
            await asyncio.sleep(inp.poll_interval_s)
