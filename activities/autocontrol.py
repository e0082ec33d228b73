"""Auto-control activities: sample an MCIS's utilisation from its clouds' monitoring (once its
workflow confirms it is still the MCIS the policy is for); act on an MCIS through its own
workflow's Update (with the decision's request id, so a retry after any crash returns the
operation already started instead of starting another) and wait until that operation has
finished. Either fails with type McisGone, not retried, when the MCIS is gone."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from functools import partial

from temporalio import activity
from temporalio.client import WorkflowExecutionStatus, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode

from activities.cloud_calls import store_call
from activities.deps import ActivityDeps
from activities.metrics import read_metrics
from models.failures import failure_message, failure_type
from models.lifecycle import OperationRecord
from models.mcis import McisView
from models.naming import mcis_workflow_id
from models.policy import MCIS_GONE, McisOperationCall, Metric, MetricsQuery, MetricsSample
from models.records import McisPhase
from models.status import VmStatus

POLL_S = 1.0
BUSY_RETRY_S = 5.0


class AutoControlActivities:
    def __init__(self, deps: ActivityDeps) -> None:
        self._deps = deps

    @activity.defn(name="collect_metrics")
    async def collect_metrics(self, query: MetricsQuery) -> MetricsSample:
        """Each metric averaged over the MCIS's Running VMs, read from their clouds'
        monitoring (activities.metrics: a region at once where the cloud allows, at each
        cloud's read rate), plus the count of unhealthy VMs."""
        await self._check_mcis(query)
        store = self._deps.store
        vms = await store_call(partial(store.list_vms, query.namespace, query.mcis))
        running = [vm for vm in vms if vm.status is VmStatus.RUNNING and vm.csp_id]
        readings = await read_metrics(self._deps, running, query.namespace, query.mcis)
        per_vm = {
            name: {Metric.CPU: m.cpu_percent, Metric.MEMORY: m.memory_percent}
            for name, m in readings.items()
        }
        unhealthy = sum(vm.status in (VmStatus.FAILED, VmStatus.UNDEFINED) for vm in vms)
        values = {Metric.UNHEALTHY: float(unhealthy)}
        for metric in (Metric.CPU, Metric.MEMORY):
            numbers = [v[metric] for v in per_vm.values()]
            values[metric] = round(sum(numbers) / len(numbers), 2) if numbers else 0.0
        return MetricsSample(
            at=datetime.now(UTC),
            vm_count=sum(vm.status is not VmStatus.TERMINATED for vm in vms),
            values=values,
            per_vm=per_vm,
        )

    async def _check_mcis(self, query: MetricsQuery) -> None:
        """Fail with McisGone unless the MCIS's workflow runs, is not deleting it, and (when the
        policy knows it) has the policy's MCIS uid."""
        where = f"MCIS {query.mcis!r} of namespace {query.namespace!r}"
        handle = self._deps.client().get_workflow_handle(
            mcis_workflow_id(query.namespace, query.mcis)
        )
        try:
            description = await handle.describe()
        except RPCError as exc:
            if exc.status is RPCStatusCode.NOT_FOUND:
                raise _gone(f"{where} does not exist") from None
            raise
        if description.status is WorkflowExecutionStatus.COMPLETED:
            raise _gone(f"{where} was deleted")
        if description.status is not WorkflowExecutionStatus.RUNNING:
            status = description.status.name.lower() if description.status else "closed"
            raise _gone(f"{where} no longer runs (its workflow {status})")
        view: McisView = await handle.query("status", result_type=McisView)
        if view.phase in (McisPhase.DELETING, McisPhase.DELETED):
            raise _gone(f"{where} is being deleted")
        if query.mcis_uid is not None and view.uid != query.mcis_uid:
            raise _gone(
                f"{where} is another one now, deleted and created anew "
                f"(uid {view.uid}; this policy was for {query.mcis_uid})"
            )

    @activity.defn(name="run_mcis_operation")
    async def run_mcis_operation(self, call: McisOperationCall) -> OperationRecord:
        handle = self._deps.client().get_workflow_handle(
            mcis_workflow_id(call.namespace, call.mcis)
        )
        try:
            accepted: OperationRecord = await handle.execute_update(
                "operate", call.request, result_type=OperationRecord, id=call.request.request_id
            )
        except WorkflowUpdateFailedError as exc:
            busy = failure_type(exc) == "Busy"
            raise ApplicationError(
                failure_message(exc),
                type="Busy" if busy else "Refused",
                non_retryable=not busy,
                next_retry_delay=timedelta(seconds=BUSY_RETRY_S) if busy else None,
            ) from None
        except RPCError as exc:
            if exc.status is RPCStatusCode.NOT_FOUND:
                raise _gone(
                    f"MCIS {call.mcis!r} of namespace {call.namespace!r} does not run"
                ) from None
            raise
        while True:
            view: McisView = await handle.query("status", result_type=McisView)
            done = next((op for op in view.operations if op.id == accepted.id), None)
            if done is not None:
                return done
            activity.heartbeat(f"operation {accepted.id}: {view.display}")
            await asyncio.sleep(POLL_S)


def _gone(message: str) -> ApplicationError:
    return ApplicationError(message, type=MCIS_GONE, non_retryable=True)
