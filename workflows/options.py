"""Timeouts and retry policies of the activities workflows run, and the one helper that runs an
activity by name with them (workflows never import activity code)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any, TypeVar

from temporalio import workflow
from temporalio.common import RetryPolicy

from workflows.summaries import activity_summary

T = TypeVar("T")


ATTEMPTS = 10
"""Every retry is bounded: after this many attempts (about a minute of back-off) the activity
fails for good and the operation that ran it is reported failed, never left hanging."""


def retry_policy(attempts: int = ATTEMPTS) -> RetryPolicy:
    """Back off from 0.5 s to 10 s, at most `attempts` times. Errors marked non-retryable (bad
    input, quota, in use) end at once either way."""
    return RetryPolicy(
        initial_interval=timedelta(milliseconds=500),
        backoff_coefficient=2.0,
        maximum_interval=timedelta(seconds=10),
        maximum_attempts=attempts,
    )


@dataclass(frozen=True)
class ActivityOptions:
    start_to_close: timedelta
    heartbeat: timedelta | None = None
    retry: RetryPolicy | None = None


STORE = ActivityOptions(timedelta(seconds=30), retry=retry_policy())
# Cloud activities heartbeat while their call runs (activities/cloud_calls.py): a dead worker's
# attempt is retried after 10 s, while a live one may take its time (a GCE zone operation, a
# large listing) without a retry starting beside it.
CLOUD = ActivityOptions(timedelta(minutes=10), timedelta(seconds=10), retry_policy())


def create_vm_options(attempts: int) -> ActivityOptions:
    return ActivityOptions(timedelta(minutes=15), timedelta(seconds=10), retry_policy(attempts))


def observe_options(max_wait_s: float) -> ActivityOptions:
    return ActivityOptions(timedelta(seconds=max_wait_s + 60), timedelta(seconds=5), retry_policy())


async def run_activity(name: str, arg: Any, result_type: type[T], options: ActivityOptions) -> T:
    """Run activity `name`, summarised in the Temporal UI by what its input names."""
    result: T = await workflow.execute_activity(
        name,
        arg,
        result_type=result_type,
        start_to_close_timeout=options.start_to_close,
        heartbeat_timeout=options.heartbeat,
        retry_policy=options.retry,
        summary=activity_summary(name, arg),
    )
    return result
