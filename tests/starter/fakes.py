"""Fakes for the CLI's tests: MCIS views, a workflow handle answering a scripted sequence of
status views, and a clock that moves only when the code under test sleeps."""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, cast

from temporalio.client import WorkflowExecutionStatus, WorkflowHandle
from temporalio.service import RPCError, RPCStatusCode

from models.lifecycle import OperationKind, OperationRecord, OperationState
from models.mcis import McisView, VmView
from models.status import TargetAction, TargetStatus, VmStatus, aggregate
from workflows.mcis import McisWorkflow

S = VmStatus


def vm_view(name: str, status: VmStatus = S.RUNNING) -> VmView:
    return VmView(
        id=name,
        group=name.rpartition("-")[0],
        status=status,
        provider="aws",
        region="us-east-1",
        spec="aws+us-east-1+t3.small",
        image="aws+us-east-1+ubuntu-jammy-22.04-amd64-server",
    )


def view(
    counts: dict[VmStatus, int],
    *,
    phase: str = "creating",
    operation: tuple[OperationKind, OperationState] | None = None,
    target: TargetAction = TargetAction.NONE,
    listed: bool = True,
    name: str = "web",
) -> McisView:
    """The status of an MCIS `name` whose VMs (`g-1`, `g-2`, ... in the order of `counts`)
    have these statuses; `listed` False: the VMs are left out, as for a large MCIS."""
    statuses = [status for status, n in counts.items() for _ in range(n)]
    pairs = [(f"g-{i}", status) for i, status in enumerate(statuses, start=1)]
    target_status = {
        TargetAction.CREATE: TargetStatus.RUNNING,
        TargetAction.SUSPEND: TargetStatus.SUSPENDED,
        TargetAction.NONE: TargetStatus.NONE,
    }[target]
    record = (
        OperationRecord(id=1, kind=operation[0], scope="mcis", state=operation[1])
        if operation
        else None
    )
    built = McisView.build(
        "dev",
        name,
        "uid-1",
        "",
        phase,
        aggregate(pairs, target, target_status),
        [vm_view(n, s) for n, s in pairs] if listed else [],
        operation=record,
        operations=[record] if record else [],
    )
    return built if listed else built.model_copy(update={"vms_listed": False})


@dataclass
class Clock:
    now: float = 1000.0
    slept: list[float] = field(default_factory=list)

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


@dataclass
class Described:
    status: WorkflowExecutionStatus


class FakeHandle:
    """Answers each status query with the next view (None: no worker answered); once they are
    all given, the workflow is closed with `then` (its result: the last view)."""

    id = "mcis/dev/web"

    def __init__(
        self,
        views: Sequence[McisView | None],
        then: WorkflowExecutionStatus = WorkflowExecutionStatus.COMPLETED,
    ) -> None:
        self.views = list(views)
        self.then = then
        self.last: McisView | None = None

    async def describe(self) -> Described:
        running = WorkflowExecutionStatus.RUNNING
        return Described(running if self.views else self.then)

    async def query(self, _query: Any) -> McisView:
        answer = self.views.pop(0)
        if answer is None:
            raise RPCError("no poller", RPCStatusCode.DEADLINE_EXCEEDED, b"")
        self.last = answer
        return answer

    async def result(self) -> McisView:
        assert self.last is not None
        return self.last

    def typed(self) -> WorkflowHandle[McisWorkflow, McisView]:
        return cast(WorkflowHandle[McisWorkflow, McisView], self)


class Terminal(io.StringIO):
    """A stream that says it is a terminal."""

    def isatty(self) -> bool:
        return True
