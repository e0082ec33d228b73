"""The mcis worker: runs every workflow and activity on the task queue, with all settings from
the environment (settings.py); writes MCIS_HOME/run/worker.ready (MCIS_WORKER_READY_FILE) while
it polls. Its drivers are the local cloud's flavors and the connections of the credentials file
(drivers/credentials.py); many workers may share one task queue.

SIGTERM/SIGINT shut it down gracefully, so no activity is lost and no workflow waits on a sticky
queue nobody polls. The process runs two Temporal workers on the task queue, one for activities
and one for workflows, and on SIGTERM:

1. stops the activity worker: it polls no more, running activities get MCIS_GRACEFUL_SHUTDOWN_S
   to finish, while the workflow worker goes on handling the workflow tasks their results bring;
2. fails, by id and retryably, any activity the server shows as started by this process that
   never ran (the SDK drops tasks polled in the instant its shutdown begins; without this they
   would wait for their heartbeat timeout), so another worker retries it at once;
3. stops the workflow worker, then resets the sticky queue of every workflow it handled, so their
   next workflow tasks go to the shared queue instead of timing out on this worker's.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import time
from collections.abc import Coroutine, Iterable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from temporalio import activity
from temporalio.api.common.v1 import WorkflowExecution
from temporalio.api.enums.v1 import PendingActivityState
from temporalio.api.workflowservice.v1 import ResetStickyTaskQueueRequest
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError
from temporalio.worker import (
    ActivityInboundInterceptor,
    ExecuteActivityInput,
    Interceptor,
    Worker,
    WorkflowInboundInterceptor,
    WorkflowInterceptorClassInput,
    WorkflowOutboundInterceptor,
)

from activities.deps import ActivityDeps
from activities.registry import all_activities
from drivers.connection import ConnectionsError
from drivers.rate_limit import RateLimiter, parse_rates
from drivers.registry import cloud_drivers
from remote.sessions import SessionPool
from settings import Settings, load_settings
from store.repository import Store
from workflows.registry import ALL_WORKFLOWS, workflow_runner

log = logging.getLogger("mcis.worker")

RECENT_S = 3600.0
"""How long a workflow this worker touched is remembered for the shutdown sweep."""
SWEEP_CONCURRENCY = 16
SWEEP_RPC_TIMEOUT = timedelta(seconds=5)
SWEEP_BUDGET_S = 15.0
"""The most one sweep may take (Temporal unreachable: the heartbeat timeouts take over)."""


@dataclass
class RecentRuns:
    """Workflow runs this process handled a workflow task or an activity of, with when."""

    seen: dict[tuple[str, str], float] = field(default_factory=dict)

    def note(self, workflow_id: str, run_id: str) -> None:
        now = time.monotonic()
        self.seen[workflow_id, run_id] = now
        if len(self.seen) > 10_000:
            for key in [k for k, t in self.seen.items() if now - t > RECENT_S]:
                del self.seen[key]

    def runs(self) -> list[tuple[str, str]]:
        now = time.monotonic()
        return [key for key, seen in self.seen.items() if now - seen <= RECENT_S]


RECENT = RecentRuns()


class _ActivityTracker(ActivityInboundInterceptor):
    async def execute_activity(self, input: ExecuteActivityInput) -> Any:
        info = activity.info()
        if info.workflow_id and info.workflow_run_id:
            RECENT.note(info.workflow_id, info.workflow_run_id)
        return await self.next.execute_activity(input)


class _WorkflowTracker(WorkflowInboundInterceptor):
    """Runs inside the workflow sandbox; notes the run (a side effect outside the workflow's
    state, the same on replay, so determinism is untouched)."""

    def init(self, outbound: WorkflowOutboundInterceptor) -> None:
        super().init(outbound)
        info = outbound.info()
        RECENT.note(info.workflow_id, info.run_id)


class RunTracker(Interceptor):
    def intercept_activity(self, next: ActivityInboundInterceptor) -> ActivityInboundInterceptor:
        return _ActivityTracker(next)

    def workflow_interceptor_class(
        self, input: WorkflowInterceptorClassInput
    ) -> type[WorkflowInboundInterceptor] | None:
        return _WorkflowTracker


def build_workers(client: Client, settings: Settings, deps: ActivityDeps) -> tuple[Worker, Worker]:
    """The workflow worker and the activity worker of this process (same task queue)."""
    tracker = RunTracker()
    workflows = Worker(
        client,
        task_queue=settings.task_queue,
        workflows=ALL_WORKFLOWS,
        workflow_runner=workflow_runner(),
        max_concurrent_workflow_tasks=settings.max_concurrent_workflow_tasks,
        sticky_queue_schedule_to_start_timeout=timedelta(seconds=settings.sticky_timeout_s),
        interceptors=[tracker],
    )
    activities = Worker(
        client,
        task_queue=settings.task_queue,
        activities=all_activities(deps),
        max_concurrent_activities=settings.max_concurrent_activities,
        graceful_shutdown_timeout=timedelta(seconds=settings.graceful_shutdown_s),
        interceptors=[tracker],
    )
    return workflows, activities


async def _bounded(calls: Iterable[Coroutine[Any, Any, Any]]) -> None:
    """Run the calls, SWEEP_CONCURRENCY at a time, all within SWEEP_BUDGET_S; a failed call (the
    run is gone or closed, Temporal does not answer) is skipped."""
    limit = asyncio.Semaphore(SWEEP_CONCURRENCY)

    async def one(call: Coroutine[Any, Any, Any]) -> None:
        async with limit:
            try:
                await call
            except RPCError as exc:
                log.debug("shutdown sweep call failed: %s", exc)

    pending = [asyncio.ensure_future(one(c)) for c in calls]
    if not pending:
        return
    _done, late = await asyncio.wait(pending, timeout=SWEEP_BUDGET_S)
    for task in late:
        task.cancel()
    if late:
        log.warning("shutdown sweep: %d calls unanswered after %.0f s", len(late), SWEEP_BUDGET_S)


async def fail_dropped_activities(client: Client, runs: list[tuple[str, str]]) -> int:
    """Fail (retryably) the activities the server shows as started by this process: after the
    activity worker stopped, none of them runs here any more. Returns how many."""
    failed = 0

    async def sweep(workflow_id: str, run_id: str) -> None:
        nonlocal failed
        handle = client.get_workflow_handle(workflow_id, run_id=run_id)
        description = await handle.describe(rpc_timeout=SWEEP_RPC_TIMEOUT)
        for pending in description.raw_description.pending_activities:
            if (
                pending.state == PendingActivityState.PENDING_ACTIVITY_STATE_STARTED
                and pending.last_worker_identity == client.identity
            ):
                await client.get_async_activity_handle(
                    workflow_id=workflow_id, run_id=run_id, activity_id=pending.activity_id
                ).fail(
                    ApplicationError(
                        "the worker shut down before running it", type="WorkerShutdown"
                    ),
                    rpc_timeout=SWEEP_RPC_TIMEOUT,
                )
                failed += 1

    await _bounded(sweep(workflow_id, run_id) for workflow_id, run_id in runs)
    return failed


async def reset_sticky_queues(client: Client, runs: list[tuple[str, str]]) -> None:
    """Send the next workflow task of these runs to the shared task queue."""
    await _bounded(
        client.workflow_service.reset_sticky_task_queue(
            ResetStickyTaskQueueRequest(
                namespace=client.namespace,
                execution=WorkflowExecution(workflow_id=workflow_id, run_id=run_id),
            ),
            timeout=SWEEP_RPC_TIMEOUT,
        )
        for workflow_id, run_id in runs
    )


async def shut_down(client: Client, workflows: Worker, activities: Worker) -> None:
    started = time.monotonic()
    await activities.shutdown()
    dropped = await fail_dropped_activities(client, RECENT.runs())
    await workflows.shutdown()
    runs = RECENT.runs()
    await reset_sticky_queues(client, runs)
    log.info(
        "worker stopped in %.1f s: %d dropped activities handed back, %d sticky queues reset",
        time.monotonic() - started,
        dropped,
        len(runs),
    )


async def serve(settings: Settings) -> None:
    drivers = cloud_drivers(settings)
    client = await Client.connect(
        settings.temporal_address,
        namespace=settings.temporal_namespace,
        data_converter=pydantic_data_converter,
    )
    deps = ActivityDeps(
        drivers=drivers,
        store=Store.from_settings(settings),
        read_limiter=RateLimiter(parse_rates(settings.cloud_read_rates)),
        temporal=client,
        ssh_sessions=SessionPool(idle_s=settings.ssh_keep_s),
    )
    ready_file = settings.worker_ready_file
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    workflows, activities = build_workers(client, settings, deps)
    runs = [asyncio.create_task(w.run()) for w in (workflows, activities)]
    try:
        ready_file.parent.mkdir(parents=True, exist_ok=True)
        ready_file.write_text(str(os.getpid()))
        log.info(
            "worker polling task queue %s at %s", settings.task_queue, settings.temporal_address
        )
        stopped = asyncio.create_task(stop.wait())
        await asyncio.wait([stopped, *runs], return_when=asyncio.FIRST_COMPLETED)
        log.info("worker shutting down")
        await shut_down(client, workflows, activities)
        stopped.cancel()
        for run in runs:
            await run  # a worker that failed raises its error here
    finally:
        ready_file.unlink(missing_ok=True)
        for driver in drivers.values():
            await driver.aclose()


def main() -> None:
    settings = load_settings()
    logging.basicConfig(
        level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s %(message)s"
    )
    try:
        asyncio.run(serve(settings))
    except ConnectionsError as exc:
        log.error("%s", exc)
        raise SystemExit(2) from None


if __name__ == "__main__":
    main()
