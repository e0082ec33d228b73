"""Batch VM activities: create, or act on, up to VM_BATCH_SIZE VMs of one region in one activity
(one cloud call where the cloud has a batch call). The VMs are named, not carried: the activity
reads their records from the store, writes back what the cloud said, and returns those records,
so no payload grows with the MCIS. Still idempotent per VM: a create finds a VM by its client
token, so a batch run again after a crash makes no VM twice."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from functools import partial

from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.cloud_calls import cloud_call, store_call
from activities.deps import ActivityDeps
from activities.observation import apply_observation
from activities.vms import create_request
from drivers import batch
from drivers.errors import CloudError
from models.cloud import CloudVm, VmAction
from models.operations import CreateVmBatchInput, VmActionBatchInput, VmBatch
from models.records import VmRecord
from models.status import TargetAction, VmStatus

PER_VM_TRIES = 3
"""Tries of a VM a batch call refused with a passing error (the others are not sent again)."""
RETRY_PAUSE_S = 1.0

Answer = CloudVm | CloudError | None


class VmBatchActivities:
    def __init__(self, deps: ActivityDeps) -> None:
        self._deps = deps

    @activity.defn(name="create_vm_batch")
    async def create_vm_batch(self, inp: CreateVmBatchInput) -> list[VmRecord]:
        """Create the batch's VMs (finding those their tokens already made); a VM the cloud
        refuses for good is Failed with the reason. Saved, and returned."""
        b = inp.batch
        vms = await self._records(b)
        driver = self._deps.driver(b.provider)
        requests = [create_request(b.namespace, b.mcis, b.uid, vm, inp.network) for vm in vms]

        async def send(indexes: list[int]) -> Sequence[Answer]:
            return await batch.create_vms(driver, b.region, [requests[i] for i in indexes])

        answers = await _with_retries(len(vms), send)
        created_at = datetime.now(UTC)
        updated = [
            _applied(vm.model_copy(update={"created_at": created_at}), answer, TargetAction.CREATE)
            for vm, answer in zip(vms, answers, strict=True)
        ]
        await store_call(partial(self._deps.store.upsert_vms, updated))
        return updated

    @activity.defn(name="vm_action_batch")
    async def vm_action_batch(self, inp: VmActionBatchInput) -> list[VmRecord]:
        """Suspend, resume, reboot or terminate the batch's VMs (those never created are left
        as they are); a VM the cloud refuses is Failed with the reason. Saved, and returned."""
        b = inp.batch
        vms = [vm for vm in await self._records(b) if vm.csp_id]
        driver = self._deps.driver(b.provider)
        action = VmAction(inp.action.value.lower())
        ids = [vm.csp_id or "" for vm in vms]

        async def send(indexes: list[int]) -> Sequence[Answer]:
            chosen = [ids[i] for i in indexes]
            limiter = self._deps.read_limiter
            return await batch.act_on_vms(
                driver, b.region, action, chosen, partial(limiter.wait, b.provider)
            )

        answers = await _with_retries(len(vms), send)
        updated = [
            _applied(vm, answer, inp.action) for vm, answer in zip(vms, answers, strict=True)
        ]
        await store_call(partial(self._deps.store.upsert_vms, updated))
        return updated

    async def _records(self, b: VmBatch) -> list[VmRecord]:
        """The batch's records, in its order; a name the store lacks is a bug upstream."""
        store = self._deps.store
        found = await store_call(partial(store.vms_named, b.namespace, b.mcis, b.names))
        by_name = {vm.name: vm for vm in found}
        missing = [n for n in b.names if n not in by_name]
        if missing:
            raise ApplicationError(
                f"VMs not recorded in MCIS {b.mcis!r}: {', '.join(missing[:5])}",
                type="NotFound",
                non_retryable=True,
            )
        return [by_name[n] for n in b.names]


async def _with_retries(
    count: int, send: Callable[[list[int]], Awaitable[Sequence[Answer]]]
) -> list[Answer]:
    """Send every index once, then again those refused with a passing error, a few times; a
    failure of a whole call raises (Temporal retries the activity, which is idempotent)."""
    answers: list[Answer] = [None] * count
    todo = list(range(count))
    for attempt in range(PER_VM_TRIES):
        if attempt:
            await asyncio.sleep(RETRY_PAUSE_S * attempt)
        sent = todo
        results = await cloud_call(partial(send, sent))
        for index, answer in zip(sent, results, strict=True):
            answers[index] = answer
        todo = [i for i in sent if _passing(answers[i])]
        if not todo:
            break
    return answers


def _passing(answer: Answer) -> bool:
    return isinstance(answer, CloudError) and answer.retryable


def _applied(vm: VmRecord, answer: Answer, action: TargetAction) -> VmRecord:
    if isinstance(answer, CloudError):
        return vm.model_copy(
            update={"status": VmStatus.FAILED, "error": f"{answer.code}: {answer.message}"}
        )
    return apply_observation(vm, answer, action)
