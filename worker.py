"""The mcis worker: runs every workflow and activity on the task queue, with all settings from
the environment (settings.py). Shuts down gracefully on SIGTERM/SIGINT so no activity is lost
and no sticky queue stalls; writes MCIS_HOME/run/worker.ready (MCIS_WORKER_READY_FILE) while it
polls. Its drivers are the local cloud's flavors and the connections of the credentials file
(drivers/connections.py); many workers may share one task queue."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
from datetime import timedelta

from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Worker

from activities.deps import ActivityDeps
from activities.registry import all_activities
from drivers.connections import ConnectionsError, cloud_drivers
from drivers.rate_limit import RateLimiter, parse_rates
from settings import Settings, load_settings
from store.repository import Store
from workflows.registry import ALL_WORKFLOWS, workflow_runner

log = logging.getLogger("mcis.worker")


def build_worker(client: Client, settings: Settings, deps: ActivityDeps) -> Worker:
    return Worker(
        client,
        task_queue=settings.task_queue,
        workflows=ALL_WORKFLOWS,
        activities=all_activities(deps),
        workflow_runner=workflow_runner(),
        max_concurrent_activities=settings.max_concurrent_activities,
        max_concurrent_workflow_tasks=settings.max_concurrent_workflow_tasks,
        sticky_queue_schedule_to_start_timeout=timedelta(seconds=settings.sticky_timeout_s),
        graceful_shutdown_timeout=timedelta(seconds=settings.graceful_shutdown_s),
        disable_eager_activity_execution=True,
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
    )
    ready_file = settings.worker_ready_file
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        async with build_worker(client, settings, deps):
            ready_file.parent.mkdir(parents=True, exist_ok=True)
            ready_file.write_text(str(os.getpid()))
            log.info(
                "worker polling task queue %s at %s", settings.task_queue, settings.temporal_address
            )
            await stop.wait()
            log.info("worker shutting down")
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
