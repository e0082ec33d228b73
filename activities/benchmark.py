"""Benchmark activities: the VMs a benchmark reaches (with their spec and the machine they run
on), reading what a step's tools printed (in the store, not in the history) into missing tools
or rows, and recording a run: its rows in the benchmark results, its measured RTTs and
performance scores in the catalog. The benchmarks themselves run through the remote workflow's
activities, so the SSH keys stay inside those."""

from __future__ import annotations

import threading
from functools import partial

from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.cloud_calls import store_call
from activities.deps import ActivityDeps
from catalog.store import CatalogStore
from drivers.localcloud import LocalCloudDriver
from models.benchmark import (
    ActionRun,
    BenchmarkRecord,
    BenchRow,
    BenchTargets,
    BenchVm,
    StepRun,
    ToolCheckRun,
)
from models.naming import vm_order
from models.records import VmRecord
from models.remote import RemoteResult, TargetQuery, with_output
from models.status import VmStatus
from store.benchmarks import BenchmarkStore
from store.errors import NotFoundError
from store.remote_outputs import RemoteOutputStore

LOCAL_CLOUD_MACHINE = "localcloud"
"""Every VM of the local cloud runs on the machine of its process."""


class BenchmarkActivities:
    def __init__(self, deps: ActivityDeps) -> None:
        self._deps = deps
        self._lock = threading.Lock()
        self._stores: tuple[BenchmarkStore, CatalogStore, RemoteOutputStore] | None = None

    def _stores_made(self) -> tuple[BenchmarkStore, CatalogStore, RemoteOutputStore]:
        """Made on first use, on the store's database (in a store thread: it may create
        tables)."""
        with self._lock:
            if self._stores is None:
                url = self._deps.store.database_url
                self._stores = (BenchmarkStore(url), CatalogStore(url), RemoteOutputStore(url))
            return self._stores

    def _machine(self, vm: VmRecord) -> str:
        driver = self._deps.drivers.get(vm.provider)
        if isinstance(driver, LocalCloudDriver):
            return LOCAL_CLOUD_MACHINE
        return f"{vm.provider}/{vm.csp_id}"

    @activity.defn(name="benchmark_targets")
    async def benchmark_targets(self, query: TargetQuery) -> BenchTargets:
        """The Running VMs of the MCIS with their spec and address; the others as skipped."""
        store = self._deps.store
        vms = await store_call(partial(store.list_vms, query.namespace, query.mcis))
        if not vms:
            raise ApplicationError(
                f"no VMs in MCIS {query.mcis!r} of namespace {query.namespace!r}",
                type="NotFound",
                non_retryable=True,
            )
        found = BenchTargets()
        for vm in sorted(vms, key=lambda v: vm_order(v.name)):
            if vm.status is VmStatus.RUNNING and vm.public_ip:
                found.vms.append(
                    BenchVm(
                        vm=vm.name,
                        group=vm.group,
                        provider=vm.provider,
                        region=vm.region,
                        spec=vm.spec,
                        address=vm.public_ip,
                        machine=self._machine(vm),
                    )
                )
            else:
                found.skipped.append(f"{vm.name}: not Running ({vm.status.value})")
        return found

    async def _with_output(self, step: StepRun) -> dict[str, RemoteResult]:
        """The step's results by VM, each with the output its VM printed."""

        def read() -> list[RemoteResult]:
            outputs = {} if step.run is None else self._stores_made()[2].read(step.run)
            return with_output(list(step.results.values()), outputs)

        return {r.vm: r for r in await store_call(read)}

    @activity.defn(name="benchmark_tools")
    async def benchmark_tools(self, check: ToolCheckRun) -> dict[str, dict[str, str]]:
        """Per VM: tool -> why it cannot run there, from what the tool check printed."""
        return check.missing(await self._with_output(check))

    @activity.defn(name="benchmark_rows")
    async def benchmark_rows(self, action: ActionRun) -> list[BenchRow]:
        """The rows of an action's run on its VMs, from what each printed."""
        return action.rows(await self._with_output(action))

    @activity.defn(name="record_benchmark")
    async def record_benchmark(self, record: BenchmarkRecord) -> list[str]:
        """Store the run's rows (a retry replaces them) and feed its measurements into the
        catalog; returns warnings (a spec the catalog does not hold keeps no score)."""

        def record_all() -> list[str]:
            results, catalog, _ = self._stores_made()
            results.save(record)
            if record.rtts:
                catalog.record_measurements(rtts=record.rtts)
            warnings = []
            for measurement in record.performance:
                try:
                    catalog.record_measurements(performance=[measurement])
                except NotFoundError:
                    warnings.append(
                        f"spec {measurement.spec_id} is not in the catalog: its score is not "
                        "recorded (`mcis catalog refresh`)"
                    )
            return warnings

        return await store_call(record_all)
