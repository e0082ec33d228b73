"""Waiting on an MCIS workflow with progress, and showing its status with every VM.

`watch` polls the status query and shows its progress (`progress.ProgressDisplay`): the operation
or phase, the status, the counts by status, how many VMs per second reach the operation's target
and the time taken (`web: create running, Partial-Running (4200/10000) [Creating 5800, Running
4200] 812 VMs/s, 12s`), live on a terminal, a line now and then elsewhere.

The status of an MCIS larger than `VMS_IN_VIEW` lists no VM (`vms_listed` False): `all_vms`
reads its rows from the store a page at a time, so that `mcis status` and every command ending
with the status show every VM whatever the size."""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable

from temporalio.client import WorkflowExecutionStatus, WorkflowHandle
from temporalio.service import RPCError

from models.mcis import McisView, VmView
from models.naming import vm_order
from models.status import TargetStatus, VmStatus
from starter.context import Context
from starter.errors import FAILED, CliError
from starter.output import progress
from starter.progress import ProgressDisplay, Snapshot, counts_text
from starter.views import show
from store.repository import Store
from workflows.mcis import McisWorkflow

POLL_S = 0.5
RATE_WINDOW_S = 10.0
"""The rate shown is over the polls of the last this many seconds."""
VM_PAGE = 1000
"""VM rows read from the store at a time."""


def progress_key(view: McisView) -> str:
    """What is going on: the operation and its state, else the MCIS's phase."""
    if view.operation:
        return f"{view.operation.kind.value} {view.operation.state.value}"
    return view.phase


def reached(view: McisView) -> int | None:
    """VMs at the target status of the operation in flight, or Failed; None without a target."""
    if view.target_status == TargetStatus.NONE.value:
        return None
    return view.counts.get(VmStatus(view.target_status), 0) + view.counts.get(VmStatus.FAILED, 0)


def snapshot(view: McisView, per_s: float | None, elapsed_s: float) -> Snapshot:
    return Snapshot(
        key=progress_key(view),
        title=f"{view.name}: {progress_key(view)}, {view.display.split(',')[0]}",
        counts=view.counts,
        reached=reached(view),
        total=view.total,
        per_s=per_s,
        elapsed_s=elapsed_s,
    )


class Throughput:
    """VMs per second reaching the target status of the operation in flight (or Failed), over
    the polls of the last `window_s` seconds; None while no target is set."""

    def __init__(self, window_s: float = RATE_WINDOW_S) -> None:
        self.window_s = window_s
        self._target = TargetStatus.NONE.value
        self._samples: deque[tuple[float, int]] = deque()

    def add(self, now: float, view: McisView) -> float | None:
        if view.target_status != self._target:
            self._target = view.target_status
            self._samples.clear()
        count = reached(view)
        if count is None:
            return None
        self._samples.append((now, count))
        while len(self._samples) > 2 and self._samples[1][0] <= now - self.window_s:
            self._samples.popleft()
        (since, before), (_, after) = self._samples[0], self._samples[-1]
        return max(after - before, 0) / (now - since) if now > since else None


async def query_status(handle: WorkflowHandle[McisWorkflow, McisView]) -> McisView | None:
    try:
        return await handle.query(McisWorkflow.status)
    except RPCError:
        return None  # no worker answered (yet): try again


async def watch(
    handle: WorkflowHandle[McisWorkflow, McisView],
    done: Callable[[McisView], bool],
    quiet: bool = False,
    *,
    shown: ProgressDisplay | None = None,
    poll_s: float = POLL_S,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> McisView:
    """Poll until `done(view)` or the workflow closes; returns the last view. Progress goes to
    `shown` (stderr by default), none when `quiet`."""
    display = None if quiet else (shown or ProgressDisplay())
    try:
        return await _poll(handle, done, display, poll_s, sleep)
    finally:
        if display is not None:
            display.close()


async def _poll(
    handle: WorkflowHandle[McisWorkflow, McisView],
    done: Callable[[McisView], bool],
    display: ProgressDisplay | None,
    poll_s: float,
    sleep: Callable[[float], Awaitable[None]],
) -> McisView:
    rate = Throughput()

    def show_progress(view: McisView) -> None:
        if display is not None:
            now = display.clock()
            display.update(snapshot(view, rate.add(now, view), now - display.started))

    waiting = False
    while True:
        description = await handle.describe()
        if description.status != WorkflowExecutionStatus.RUNNING:
            if description.status == WorkflowExecutionStatus.COMPLETED:
                result = await handle.result()
                show_progress(result)
                return result
            ended = description.status.name if description.status else "unknown"
            raise CliError(f"workflow {handle.id} ended {ended}", FAILED)
        view = await query_status(handle)
        if view is not None:
            waiting = False
            show_progress(view)
            if done(view):
                return view
        elif display is not None and not waiting:
            display.note(f"{handle.id}: waiting for a worker to answer")
            waiting = True
        await sleep(poll_s)


def all_vms(store: Store, view: McisView, page: int = VM_PAGE) -> McisView:
    """`view` with every VM: itself when the status listed them, else with the store's rows,
    read `page` at a time, in group then number order (`web-2` before `web-10`)."""
    if view.vms_listed:
        return view
    vms: list[VmView] = []
    after = ""
    while True:
        rows = store.vm_page(view.namespace, view.name, after, page)
        vms += [VmView.of(row) for row in rows]
        if len(rows) < page:
            break
        after = rows[-1].name
    if not vms and view.total:
        progress(
            f"warning: the store holds none of the {view.total} VMs of MCIS {view.name!r}: "
            "is MCIS_DATABASE_URL the worker's?"
        )
    vms.sort(key=lambda vm: vm_order(vm.id))
    return view.model_copy(update={"vms": vms, "vms_listed": True})


def show_all(ctx: Context, view: McisView, as_json: bool) -> None:
    """Show the status with every VM (`mcis status`); a table read from the store (a large
    MCIS) ends with the counts again, the summary above it having scrolled away."""
    full = all_vms(ctx.store, view)
    show(full, as_json)
    if full is not view and not as_json:
        print(f"{view.total} VMs: {counts_text(view.counts)}")
