"""Bounds on a workflow's Temporal history for tests: the events of every run and the largest
single payload, over every run of its continue-as-new chain and its child workflows
(`bench.history_stats`).

    stats = await assert_history_within(client, "mcis/ns/big", 10_000, 256 * 1024)
"""

from __future__ import annotations

from temporalio.client import Client

from bench.history_stats import HistoryStats, history_stats


def history_violations(
    stats: HistoryStats,
    max_events_per_run: int,
    max_payload_bytes: int,
    max_bytes_per_run: int | None = None,
) -> list[str]:
    """One line per run (or payload) over a bound; empty when every run is within them."""
    found = []
    for run in stats.runs:
        where = f"run {run.run_id} ({run.workflow_type} {run.workflow_id})"
        if run.events > max_events_per_run:
            found.append(f"{where}: {run.events:,} events > {max_events_per_run:,}")
        if max_bytes_per_run is not None and run.history_bytes > max_bytes_per_run:
            found.append(f"{where}: {run.history_bytes:,} B of history > {max_bytes_per_run:,}")
        site = run.largest_payload
        if site is not None and site.size > max_payload_bytes:
            found.append(
                f"{where}: payload of {site.size:,} B > {max_payload_bytes:,}: {site.describe()}"
            )
    return found


async def assert_history_within(
    client: Client,
    workflow_id: str,
    max_events_per_run: int,
    max_payload_bytes: int,
    *,
    max_bytes_per_run: int | None = None,
    run_id: str | None = None,
) -> HistoryStats:
    """Assert every run of `workflow_id` (the chain of `run_id`, default the latest run's, and
    the child workflows its runs started) holds at most `max_events_per_run` events (and
    `max_bytes_per_run` bytes of history, if given) and no payload over `max_payload_bytes`.
    The failure lists each run over a bound, then the figures of every run. Returns them."""
    stats = await history_stats(client, workflow_id, run_id)
    assert stats.runs, f"no run of workflow {workflow_id}"
    found = history_violations(stats, max_events_per_run, max_payload_bytes, max_bytes_per_run)
    assert not found, "\n".join(["history over its bounds:", *found, *stats.lines()])
    return stats
