"""Reading an MCIS's VMs' utilisation from their clouds' monitoring (auto-control's samples):
one read per region where the driver reads a region at once (RegionMetricsSource, by the MCIS's
tags), else one read per VM (MetricsSource); every read at its cloud's read rate, and the
activity heartbeating all along."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from functools import partial
from itertools import chain

from temporalio.exceptions import ApplicationError

from activities.cloud_calls import heartbeating
from activities.deps import ActivityDeps
from drivers.base import MetricsSource, RegionMetricsSource
from models.cloud import VmMetrics
from models.naming import TAG_MCIS, TAG_NAMESPACE
from models.records import VmRecord

METRICS_CONCURRENCY = 20
"""Reads in flight at once for one sample (each also waits its turn at its cloud's read rate)."""


async def read_metrics(
    deps: ActivityDeps, vms: Sequence[VmRecord], namespace: str, mcis: str
) -> dict[str, VmMetrics]:
    """The metrics of `vms` (VMs of MCIS `namespace/mcis` with a cloud id) by VM name. A VM a
    region's read leaves out (gone since it was recorded) is left out; a cloud with no
    monitoring fails the read with NotSupported, not retried."""
    tags = {TAG_NAMESPACE: namespace, TAG_MCIS: mcis}
    regions: dict[tuple[str, str], list[VmRecord]] = {}
    for vm in vms:
        regions.setdefault((vm.provider, vm.region), []).append(vm)
    limit = asyncio.Semaphore(METRICS_CONCURRENCY)

    async def one_vm(driver: MetricsSource, vm: VmRecord) -> tuple[str, VmMetrics]:
        async with limit:
            call = partial(driver.vm_metrics, vm.region, vm.csp_id or "")
            return vm.name, await deps.read(vm.provider, call)

    async def one_region(provider: str, region: str) -> list[tuple[str, VmMetrics]]:
        driver = deps.driver(provider)
        here = regions[(provider, region)]
        if isinstance(driver, RegionMetricsSource):
            async with limit:
                read = await deps.read(provider, partial(driver.region_metrics, region, tags))
            return [(vm.name, read[vm.csp_id]) for vm in here if vm.csp_id in read]
        if isinstance(driver, MetricsSource):
            return list(await asyncio.gather(*(one_vm(driver, vm) for vm in here)))
        raise ApplicationError(
            f"cloud {provider!r} offers no monitoring to mcis",
            type="NotSupported",
            non_retryable=True,
        )

    async with heartbeating():
        readings = await asyncio.gather(*(one_region(*place) for place in regions))
    return dict(chain.from_iterable(readings))
