"""Temporal history figures of a workflow: every run of its continue-as-new chain (from the first
run, following each run's `new_execution_run_id`) and of the child workflows those runs started,
each with its event count, its history's size (the serialized `History` proto) and its largest
single payload, named by event, field and owner ("ActivityTaskCompleted result of create_vm").

    stats = await history_stats(client, "mcis/bench/bench")
    for line in stats.lines():
        print(line)

Histories are read a page at a time and never held whole, so a run of tens of thousands of
events costs the caller only the figures. Sizes are of the encoded payloads as the server holds
them (metadata and data), whatever the client's data converter.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from google.protobuf.message import Message
from temporalio.api.enums.v1 import EventType
from temporalio.api.history.v1 import HistoryEvent
from temporalio.client import Client

PAYLOAD = "temporal.api.common.v1.Payload"
PAYLOADS = "temporal.api.common.v1.Payloads"

CLOSING = {
    "workflow_execution_completed_event_attributes": "Completed",
    "workflow_execution_failed_event_attributes": "Failed",
    "workflow_execution_timed_out_event_attributes": "TimedOut",
    "workflow_execution_canceled_event_attributes": "Canceled",
    "workflow_execution_terminated_event_attributes": "Terminated",
    "workflow_execution_continued_as_new_event_attributes": "ContinuedAsNew",
}
"""The events that close a run, and how `RunStats.closed_as` names them."""
CLOSING_WITH_SUCCESSOR = (
    "workflow_execution_continued_as_new_event_attributes",
    "workflow_execution_completed_event_attributes",  # a cron run's next
    "workflow_execution_failed_event_attributes",  # a retried run's next
    "workflow_execution_timed_out_event_attributes",
)


@dataclass(frozen=True)
class PayloadSite:
    """One payload of a history: its encoded size and where it was."""

    size: int
    """Bytes of the encoded `Payload` (metadata and data)."""
    event_id: int
    event_type: str
    """As the Temporal UI names it: "ActivityTaskCompleted"."""
    field: str
    """The path of the payload in the event's attributes: "result", "input", "header.fields[x]"."""
    owner: str
    """Whose payload: the activity type, the workflow type, "update operate", "signal x"."""

    def describe(self) -> str:
        owner = f" of {self.owner}" if self.owner else ""
        return f"{self.event_type} {self.field}{owner} (event {self.event_id})"


@dataclass(frozen=True)
class RunStats:
    """The figures of one run."""

    workflow_id: str
    run_id: str
    workflow_type: str
    events: int
    history_bytes: int
    """Size of the run's history as one serialized `History` proto."""
    largest_event_bytes: int
    largest_payload: PayloadSite | None
    closed_as: str
    """The run's last event if it closed it ("ContinuedAsNew", "Completed", ...); "open" else."""
    parent: str | None = None
    """For a child workflow's run: the "workflow_id/run_id" of the run that started it."""


@dataclass(frozen=True)
class HistoryStats:
    """Every run of a workflow (and of its children), in the order they ran (children after
    their parent's chain)."""

    workflow_id: str
    runs: list[RunStats] = field(default_factory=list)

    @property
    def total_events(self) -> int:
        return sum(r.events for r in self.runs)

    @property
    def total_bytes(self) -> int:
        return sum(r.history_bytes for r in self.runs)

    @property
    def max_events_per_run(self) -> int:
        return max((r.events for r in self.runs), default=0)

    @property
    def max_bytes_per_run(self) -> int:
        return max((r.history_bytes for r in self.runs), default=0)

    @property
    def run_with_most_events(self) -> RunStats | None:
        return max(self.runs, key=lambda r: r.events, default=None)

    @property
    def max_payload(self) -> tuple[RunStats, PayloadSite] | None:
        """The largest payload of every run, with its run."""
        found = [(r, r.largest_payload) for r in self.runs if r.largest_payload is not None]
        if not found:
            return None
        run, site = max(found, key=lambda pair: pair[1].size)
        assert site is not None
        return run, site

    def summary(self) -> str:
        head = (
            f"history of {self.workflow_id}: {len(self.runs)} runs, "
            f"{self.total_events:,} events, {self.total_bytes:,} B"
        )
        most = self.run_with_most_events
        if most is not None:
            head += f"; most events in a run {most.events:,} (run {most.run_id})"
        top = self.max_payload
        if top is not None:
            run, site = top
            head += f"; largest payload {site.size:,} B: {site.describe()} in run {run.run_id}"
        return head

    def lines(self) -> list[str]:
        """The summary, then one line per run."""
        out = [self.summary()]
        for index, run in enumerate(self.runs, 1):
            who = run.workflow_type
            if run.parent is not None:
                who = f"child {run.workflow_type} {run.workflow_id}"
            largest = "no payload"
            if run.largest_payload is not None:
                site = run.largest_payload
                largest = f"largest payload {site.size:,} B {site.describe()}"
            out.append(
                f"  run {index}/{len(self.runs)} {run.run_id} {who}: {run.events:,} events, "
                f"{run.history_bytes:,} B, {largest}; {run.closed_as}"
            )
        return out

    def as_dict(self) -> dict[str, Any]:
        top = self.max_payload
        return {
            "workflow_id": self.workflow_id,
            "runs": [asdict(r) for r in self.runs],
            "total_events": self.total_events,
            "total_bytes": self.total_bytes,
            "max_events_per_run": self.max_events_per_run,
            "max_bytes_per_run": self.max_bytes_per_run,
            "max_payload": None
            if top is None
            else {"run_id": top[0].run_id, **asdict(top[1]), "where": top[1].describe()},
        }


async def history_stats(
    client: Client,
    workflow_id: str,
    run_id: str | None = None,
    *,
    children: bool = True,
    page_size: int | None = None,
) -> HistoryStats:
    """The figures of every run of `workflow_id`'s chain: the chain of `run_id` (default: of the
    latest run), from its first run to its last, then of every child workflow those runs
    started (recursively, each child's own chain)."""
    stats = HistoryStats(workflow_id)
    first = await _first_run_id(client, workflow_id, run_id)
    seen: set[tuple[str, str]] = set()
    pending: list[tuple[str, str, str | None]] = [(workflow_id, first, None)]
    while pending:
        wid, rid, parent = pending.pop(0)
        chain_children: list[tuple[str, str, str | None]] = []
        next_run: str | None = rid
        while next_run and (wid, next_run) not in seen:
            seen.add((wid, next_run))
            run, successor, started = await run_stats(client, wid, next_run, page_size=page_size)
            stats.runs.append(replace(run, parent=parent))
            if children:
                chain_children += [(cw, cr, f"{wid}/{next_run}") for cw, cr in started]
            next_run = successor
        pending += chain_children
    return stats


async def run_stats(
    client: Client, workflow_id: str, run_id: str, *, page_size: int | None = None
) -> tuple[RunStats, str | None, list[tuple[str, str]]]:
    """One run's figures, the run id that succeeded it (continue-as-new, cron, retry) if any,
    and the (workflow id, run id) of every child workflow it started."""
    handle = client.get_workflow_handle(workflow_id, run_id=run_id)
    owners = _Owners()
    events = history_bytes = largest_event = 0
    largest: PayloadSite | None = None
    last: HistoryEvent | None = None
    started: list[tuple[str, str]] = []
    async for event in handle.fetch_history_events(page_size=page_size):
        events += 1
        size = event.ByteSize()
        history_bytes += 1 + _varint_len(size) + size  # `repeated HistoryEvent events = 1;`
        largest_event = max(largest_event, size)
        owner = owners.note(event)
        for path, payload_size in event_payloads(event):
            if largest is None or payload_size > largest.size:
                largest = PayloadSite(
                    payload_size, event.event_id, event_type_name(event), path, owner
                )
        if event.HasField("child_workflow_execution_started_event_attributes"):
            execution = event.child_workflow_execution_started_event_attributes.workflow_execution
            started.append((execution.workflow_id, execution.run_id))
        last = event
    successor: str | None = None
    closed_as = "open"
    if last is not None:
        kind = last.WhichOneof("attributes") or ""
        closed_as = CLOSING.get(kind, "open")
        if kind in CLOSING_WITH_SUCCESSOR:
            successor = getattr(last, kind).new_execution_run_id or None
    run = RunStats(
        workflow_id=workflow_id,
        run_id=run_id,
        workflow_type=owners.workflow_type,
        events=events,
        history_bytes=history_bytes,
        largest_event_bytes=largest_event,
        largest_payload=largest,
        closed_as=closed_as,
    )
    return run, successor, started


async def _first_run_id(client: Client, workflow_id: str, run_id: str | None) -> str:
    """The first run of the chain of `run_id` (or of the latest run)."""
    current = run_id
    while True:
        handle = client.get_workflow_handle(workflow_id, run_id=current)
        first_event: HistoryEvent | None = None
        async for event in handle.fetch_history_events(page_size=1):
            first_event = event
            break
        if first_event is None or not first_event.HasField(
            "workflow_execution_started_event_attributes"
        ):
            raise ValueError(f"workflow {workflow_id} run {current}: no start event")
        attributes = first_event.workflow_execution_started_event_attributes
        if attributes.first_execution_run_id:
            return attributes.first_execution_run_id
        if not attributes.continued_execution_run_id:
            if current is not None:
                return current
            # the latest run, unnamed, is its chain's first: find its id
            description = await handle.describe()
            return description.run_id
        current = attributes.continued_execution_run_id


def event_type_name(event: HistoryEvent) -> str:
    """ "EVENT_TYPE_ACTIVITY_TASK_COMPLETED" -> "ActivityTaskCompleted"."""
    name = EventType.Name(event.event_type).removeprefix("EVENT_TYPE_")
    return "".join(part.capitalize() for part in name.split("_"))


def event_payloads(event: HistoryEvent) -> Iterator[tuple[str, int]]:
    """(path, encoded size) of every `Payload` in the event's attributes."""
    kind = event.WhichOneof("attributes")
    if kind is None:
        return
    yield from _walk(getattr(event, kind), "")


def _walk(message: Message, prefix: str) -> Iterator[tuple[str, int]]:
    for descriptor, value in message.ListFields():
        kind = descriptor.message_type
        if kind is None:
            continue
        path = f"{prefix}{descriptor.name}"
        if kind.GetOptions().map_entry:
            if kind.fields_by_name["value"].message_type is None:
                continue
            for key, item in value.items():
                yield from _single(item, f"{path}[{key}]")
        elif descriptor.is_repeated:
            for index, item in enumerate(value):
                yield from _single(item, f"{path}[{index}]")
        else:
            yield from _single(value, path)


def _single(message: Message, path: str) -> Iterator[tuple[str, int]]:
    name = message.DESCRIPTOR.full_name
    if name == PAYLOAD:
        yield path, message.ByteSize()
    elif name == PAYLOADS:
        items = message.payloads  # type: ignore[attr-defined]
        for index, payload in enumerate(items):
            yield (path if len(items) == 1 else f"{path}[{index}]"), payload.ByteSize()
    else:
        yield from _walk(message, f"{path}.")


class _Owners:
    """Whose payloads an event holds, from the events before it in the same run."""

    def __init__(self) -> None:
        self.workflow_type = ""
        self.activities: dict[int, str] = {}
        """scheduled event id -> activity type"""
        self.children: dict[int, str] = {}
        """initiated event id -> child workflow type"""
        self.updates: dict[int, str] = {}
        """accepted event id -> update name"""

    def note(self, event: HistoryEvent) -> str:
        kind = event.WhichOneof("attributes") or ""
        attributes: Any = getattr(event, kind) if kind else None
        if kind == "workflow_execution_started_event_attributes":
            self.workflow_type = attributes.workflow_type.name
            return str(self.workflow_type)
        if kind == "activity_task_scheduled_event_attributes":
            self.activities[event.event_id] = attributes.activity_type.name
            return str(attributes.activity_type.name)
        if kind.startswith("activity_task_"):
            return self.activities.get(attributes.scheduled_event_id, "")
        if kind == "start_child_workflow_execution_initiated_event_attributes":
            self.children[event.event_id] = attributes.workflow_type.name
            return f"child {attributes.workflow_type.name}"
        if kind.startswith("child_workflow_execution_") or kind.startswith(
            "start_child_workflow_execution_"
        ):
            return f"child {attributes.workflow_type.name}"
        if kind == "workflow_execution_update_accepted_event_attributes":
            name = attributes.accepted_request.input.name
            self.updates[event.event_id] = name
            return f"update {name}"
        if kind == "workflow_execution_update_admitted_event_attributes":
            return f"update {attributes.request.input.name}"
        if kind == "workflow_execution_update_completed_event_attributes":
            return f"update {self.updates.get(attributes.accepted_event_id, '?')}"
        if kind == "workflow_execution_signaled_event_attributes":
            return f"signal {attributes.signal_name}"
        if kind == "signal_external_workflow_execution_initiated_event_attributes":
            return f"signal {attributes.signal_name}"
        if kind == "marker_recorded_event_attributes":
            return f"marker {attributes.marker_name}"
        if kind.startswith("workflow_execution_"):
            return self.workflow_type
        return ""


def _varint_len(value: int) -> int:
    length = 1
    while value >= 0x80:
        value >>= 7
        length += 1
    return length
