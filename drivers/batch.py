"""Batch VM calls for any driver: a `BatchVmSource` makes one call per batch; any other driver
gets the same per-VM results from its per-VM calls, a bounded number at a time. Either way one
VM refused leaves the others alone (its slot holds the CloudError) and only a failure of the
call as a whole raises."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import TypeVar

from drivers.base import BatchVmSource, CloudDriver
from drivers.errors import CloudError
from models.cloud import CloudVm, VmAction, VmCreateRequest

T = TypeVar("T")
R = TypeVar("R")

PER_VM_CONCURRENCY = 20
"""Per-VM calls in flight at once when a driver has no batch call."""


async def _each(items: Sequence[T], call: Callable[[T], Awaitable[R]]) -> list[R | CloudError]:
    limit = asyncio.Semaphore(PER_VM_CONCURRENCY)

    async def one(item: T) -> R | CloudError:
        async with limit:
            try:
                return await call(item)
            except CloudError as exc:
                return exc

    return list(await asyncio.gather(*(one(item) for item in items)))


async def create_vms(
    driver: CloudDriver, region: str, requests: Sequence[VmCreateRequest]
) -> list[CloudVm | CloudError]:
    """Per request, in order: its VM (created, or found by its client token) or its error."""
    if isinstance(driver, BatchVmSource):
        return await driver.create_vms(region, requests)

    async def create(request: VmCreateRequest) -> CloudVm:
        return await driver.create_vm(region, request)

    return await _each(requests, create)


async def act_on_vms(
    driver: CloudDriver,
    region: str,
    action: VmAction,
    csp_ids: Sequence[str],
    before_read: Callable[[], Awaitable[None]] | None = None,
) -> list[CloudVm | CloudError | None]:
    """Per id, in order: the VM after the action (None: gone, after a terminate) or its error.
    `before_read`, when given, is awaited before each read that follows a terminate (the
    cloud's read rate)."""
    if isinstance(driver, BatchVmSource):
        return await driver.act_on_vms(region, action, csp_ids)

    async def act(csp_id: str) -> CloudVm | None:
        if action is VmAction.TERMINATE:
            await driver.terminate_vm(region, csp_id)
            if before_read is not None:
                await before_read()
            return await driver.get_vm(region, csp_id)
        call = {
            VmAction.SUSPEND: driver.suspend_vm,
            VmAction.RESUME: driver.resume_vm,
            VmAction.REBOOT: driver.reboot_vm,
        }[action]
        return await call(region, csp_id)

    return await _each(csp_ids, act)
