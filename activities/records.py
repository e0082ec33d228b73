"""Store activities of an MCIS workflow: its record, its VM records (planned, saved, read back a
page at a time), its phase, forgetting it."""

from __future__ import annotations

from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.cloud_calls import store_call
from activities.deps import ActivityDeps
from models.operations import ForgetVmsInput, McisPhaseInput, PlanGroupInput, VmPageInput
from models.plan import planned_group
from models.records import McisRecord, VmRecord


class RecordActivities:
    def __init__(self, deps: ActivityDeps) -> None:
        self._deps = deps

    @activity.defn(name="register_mcis")
    async def register_mcis(self, record: McisRecord) -> None:
        """Create the MCIS record; a retry finding its own record (same uid) is fine."""
        store = self._deps.store
        existing = await store_call(lambda: store.get_mcis(record.namespace, record.name))
        if existing is not None:
            if existing.uid == record.uid:
                return
            raise ApplicationError(
                f"MCIS {record.name!r} already exists in namespace {record.namespace!r}",
                type="AlreadyExists",
                non_retryable=True,
            )
        if await store_call(lambda: store.get_namespace(record.namespace)) is None:
            raise ApplicationError(
                f"namespace {record.namespace!r} does not exist",
                type="NotFound",
                non_retryable=True,
            )
        await store_call(lambda: store.create_mcis(record))

    @activity.defn(name="save_vms")
    async def save_vms(self, vms: list[VmRecord]) -> None:
        await store_call(lambda: self._deps.store.upsert_vms(vms))

    @activity.defn(name="record_planned_vms")
    async def record_planned_vms(self, plans: list[PlanGroupInput]) -> None:
        """Record the VMs of the plans (the workflow holds the same ones: a plan is pure)."""
        vms = [vm for plan in plans for vm in planned_group(plan)]
        await store_call(lambda: self._deps.store.upsert_vms(vms))

    @activity.defn(name="load_vm_page")
    async def load_vm_page(self, page: VmPageInput) -> list[VmRecord]:
        store = self._deps.store
        return await store_call(
            lambda: store.vm_page(page.namespace, page.mcis, page.after, page.limit)
        )

    @activity.defn(name="set_mcis_phase")
    async def set_mcis_phase(self, inp: McisPhaseInput) -> None:
        await store_call(
            lambda: self._deps.store.set_mcis_phase(inp.namespace, inp.mcis, inp.phase)
        )

    @activity.defn(name="forget_vms")
    async def forget_vms(self, inp: ForgetVmsInput) -> None:
        await store_call(lambda: self._deps.store.delete_vms(inp.namespace, inp.mcis, inp.names))

    @activity.defn(name="forget_mcis")
    async def forget_mcis(self, inp: McisPhaseInput) -> None:
        await store_call(lambda: self._deps.store.delete_mcis(inp.namespace, inp.mcis))
