"""One MCIS workflow driven through random sequences of operations, faults and worker restarts
(a hypothesis state machine on the time-skipping server with the fake cloud), checking after
every step what a user relies on:

1. no two VMs ever share a client token, and no create reuses the token of a VM the MCIS
   removed or replaced (the fake cloud logs every create call);
2. the cloud holds exactly the live records: a recorded VM exists at its cloud in the state its
   record says (Running is running, Suspended is stopped, only Terminated is terminated), and
   every live cloud VM with this MCIS's tags is recorded;
3. every VM is Running, where the last action on it leads (Suspended, Terminated), or Failed
   with its reason, and an operation changes only the VMs it names;
4. the workflow keeps running: an operation that fails is recorded `failed` with a message,
   an operation the lifecycle table forbids is refused at once with a readable message and
   changes nothing, and no operation is refused that the table allows.

Hypothesis state machines are synchronous and the Temporal client is bound to pytest-asyncio's
session loop: the machine runs in a thread of its own and hands every call to that loop.
`MCIS_STATE_MACHINE_EXAMPLES` (default 10) and `MCIS_STATE_MACHINE_STEPS` (default 15) set the
size of a run: raise them for a longer hunt.

Worker restarts (between operations, and right after an operation or the create was accepted)
are drawn unless `MCIS_STATE_MACHINE_RESTARTS=0`: a restarted `Harness.worker` never receives
the tasks left on its predecessor's sticky queue on the time-skipping server, so every worker
here is cache-less and replays the run from history at each task, as the first task after a
restart does (the test at the end pins down the bug this found: an operation right after the
create refused as busy)."""

from __future__ import annotations

import asyncio
import os
import tempfile
import uuid
from collections.abc import AsyncIterator, Coroutine
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path
from typing import Any, TypeVar

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)
from temporalio.client import WorkflowExecutionStatus, WorkflowUpdateFailedError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from activities.registry import all_activities
from models.failures import failure_message
from models.lifecycle import OperationRecord, OperationState
from models.mcis import GroupRequest, McisView, VmView
from models.naming import TAG_MCIS, TAG_NAMESPACE, TAG_UID, cloud_vm_name, vm_index
from models.operations import OperationRequest
from models.status import VmStatus
from models.transitions import Action, plan_action
from store.repository import Store
from tests.fake_cloud import FakeCloud
from tests.workflows.conftest import PROVIDERS, Harness
from tests.workflows.mcis_helpers import (
    Handle,
    created,
    finished,
    operate,
    request,
    start,
    status,
)
from workflows.mcis import McisWorkflow
from workflows.registry import ALL_WORKFLOWS, workflow_runner

T = TypeVar("T")
S = VmStatus

EXAMPLES = int(os.environ.get("MCIS_STATE_MACHINE_EXAMPLES", "10"))
STEPS = int(os.environ.get("MCIS_STATE_MACHINE_STEPS", "15"))
CALL_TIMEOUT_S = 120.0  # one step's calls on the loop; a hang fails the example, not the run

STABLE = frozenset({S.RUNNING, S.SUSPENDED, S.TERMINATED})
GONE_AT_CLOUD = frozenset({"terminating", "terminated"})
CLOUD_PHASE_OF = {S.RUNNING: "running", S.SUSPENDED: "stopped", S.TERMINATED: "terminated"}
NEW_GROUPS = ("extra", "more")
UNKNOWN_VM = "nope-1"
PICK = st.integers(0, 7)  # an index into what exists now (drawn the same way whatever exists)
RESTARTS = os.environ.get("MCIS_STATE_MACHINE_RESTARTS", "1") == "1"
RESTART = st.sampled_from([False, False, False, True]) if RESTARTS else st.just(False)


def pick(choices: list[str], index: int) -> str:
    return choices[index % len(choices)]


@asynccontextmanager
async def uncached_worker(h: Harness) -> AsyncIterator[Worker]:
    """`Harness.worker` keeping no workflow in its cache: every workflow task replays the run's
    history, as the first one after a worker restart does. (On the time-skipping server a
    restarted `Harness.worker` never gets the tasks left on its predecessor's sticky queue:
    updates and queries hang; a cache-less worker has no sticky queue.)"""
    async with Worker(
        h.client,
        task_queue=h.task_queue,
        workflows=ALL_WORKFLOWS,
        activities=all_activities(h.deps),
        workflow_runner=workflow_runner(),
        max_cached_workflows=0,
    ) as worker:
        yield worker


def names(view: McisView) -> list[str]:
    return [vm.id for vm in view.vms]


def by_name(view: McisView) -> dict[str, VmView]:
    return {vm.id: vm for vm in view.vms}


def settled_or_failed(vm: VmView, wanted: VmStatus) -> str | None:
    """What is wrong with `vm`, which should be `wanted` or Failed with its reason."""
    if vm.status is wanted or (vm.status is S.FAILED and vm.error):
        return None
    return f"{vm.id} is {vm.status.value} (error {vm.error!r}); expected {wanted.value} or Failed"


def removed_or_kept(before: McisView, after: McisView, victims: list[str]) -> list[str]:
    """Problems with removing `victims`: each must be gone, or kept Failed because its terminate
    failed (a VM the cloud did not confirm gone is never forgotten)."""
    now = by_name(after)
    return [
        f"{name} was to be removed but is {now[name].status.value} ({now[name].error!r})"
        for name in victims
        if name in now
        and not (now[name].status is S.FAILED and (now[name].error or "").startswith("terminate"))
    ]


def unchanged(before: McisView, after: McisView, touched: set[str]) -> list[str]:
    """VMs outside `touched` whose record changed."""
    now = by_name(after)
    return [
        f"{vm.id} changed from {vm.status.value} to "
        f"{now[vm.id].status.value if vm.id in now else 'removed'} though not named"
        for vm in before.vms
        if vm.id not in touched and now.get(vm.id) != vm
    ]


class McisMachine(RuleBasedStateMachine):
    """The model: the groups the MCIS has, the last view, and what the cloud must never see
    again (csp ids of VMs removed or replaced, with the create log's length at that moment)."""

    def __init__(self, env: WorkflowEnvironment, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__()
        self.env, self.loop = env, loop
        self.cloud = FakeCloud()
        self.home = Path(tempfile.mkdtemp(prefix="mcis-sm-"))
        self.harness = Harness(
            env.client, Store(f"sqlite:///{self.home / 'mcis.db'}", self.home), self.cloud
        )
        self.worker: AsyncExitStack | None = None
        self.handle: Handle | None = None
        self.mcis = f"sm-{uuid.uuid4().hex[:8]}"
        self.groups: dict[str, str] = {}  # group name -> provider
        self.view: McisView | None = None
        self.retired: dict[str, int] = {}  # csp id -> len(create_log) when it left the MCIS
        self.restarts = 0

    # --- plumbing ---------------------------------------------------------------------------

    def run(self, work: Coroutine[Any, Any, T]) -> T:
        """Run `work` on the session loop (where the Temporal client lives) and wait for it."""
        return asyncio.run_coroutine_threadsafe(work, self.loop).result(CALL_TIMEOUT_S)

    async def _start_worker(self) -> None:
        self.worker = AsyncExitStack()
        worker = uncached_worker(self.harness) if RESTARTS else self.harness.worker()
        await self.worker.enter_async_context(worker)

    async def _restart_worker(self) -> None:
        assert self.worker is not None
        await self.worker.aclose()
        await self._start_worker()

    def restart_worker(self) -> None:
        self.run(self._restart_worker())
        self.restarts += 1

    @property
    def live(self) -> Handle:
        assert self.handle is not None
        return self.handle

    def current(self) -> McisView:
        assert self.view is not None
        return self.view

    def refresh(self, view: McisView | None = None) -> McisView:
        """Take `view` (or a fresh one) as the current view; retire the csp ids that left."""
        before = self.view
        view = view or self.run(status(self.live))
        if before is not None:
            kept = {vm.csp_id for vm in view.vms if vm.csp_id}
            for vm in before.vms:
                if vm.csp_id and vm.csp_id not in kept and vm.csp_id not in self.retired:
                    self.retired[vm.csp_id] = len(self.cloud.create_log)
        self.view = view
        return view

    def attempt(
        self, allowed: bool, restart: bool, **fields: Any
    ) -> tuple[OperationRecord, McisView] | None:
        """Send one operation. Refused, it must be one the rules forbid, with a one-line
        message, and nothing may have changed; accepted, it must be one they allow, and it must
        end done or failed with its reason. The record and the view once it ended, or None."""
        before = self.current()
        op = OperationRequest.model_validate(fields)
        try:
            accepted = self.run(self.live.execute_update(McisWorkflow.operate, op))
        except WorkflowUpdateFailedError as exc:
            message = failure_message(exc)
            assert not allowed, f"{op.kind.value} {op.scope} refused though allowed: {message}"
            assert message.strip() and "\n" not in message, f"unreadable refusal {message!r}"
            after = self.refresh()
            assert after.vms == before.vms, f"a refused {op.kind.value} changed VMs: {message}"
            assert after.operations == before.operations, "a refused operation was recorded"
            return None
        assert allowed, f"{op.kind.value} {op.scope} accepted though the rules forbid it"
        if restart:
            self.restart_worker()
        record, view = self.run(finished(self.live, accepted.id, timeout_s=90))
        assert record.state in (OperationState.DONE, OperationState.FAILED), record
        if record.state is OperationState.FAILED:
            assert record.message, f"{op.kind.value} failed without a message"
        self.refresh(view)
        return record, view

    def scope(self, kind: str, index: int) -> dict[str, str]:
        """An operation scope: the whole MCIS, a group (perhaps without VMs), or a VM (perhaps
        one that does not exist)."""
        if kind == "group":
            return {"group": pick(sorted(self.groups), index)}
        if kind == "vm":
            return {"vm": pick([*names(self.current()), UNKNOWN_VM], index)}
        return {}

    def scoped(self, scope: dict[str, str]) -> list[VmView] | None:
        """The VMs a scope names now; None when it names none (the operation is refused)."""
        vms = self.current().vms
        if "vm" in scope:
            found = [vm for vm in vms if vm.id == scope["vm"]]
        elif "group" in scope:
            found = [vm for vm in vms if vm.group == scope["group"]]
        else:
            return list(vms)
        return found or None

    # --- create -----------------------------------------------------------------------------

    @initialize(
        counts=st.fixed_dictionaries({p: st.integers(0, 3) for p in PROVIDERS}),
        policy=st.sampled_from(["continue", "refine", "rollback"]),
        fail_boots=st.sets(st.integers(1, 3), max_size=2),
        again=st.booleans(),
        transient=st.sampled_from([0, 0, 2, 3]),
        quota=st.none() | st.integers(1, 5),
        restart=RESTART,
    )
    def create(
        self,
        counts: dict[str, int],
        policy: str,
        fail_boots: set[int],
        again: bool,
        transient: int,
        quota: int | None,
        restart: bool,
    ) -> None:
        counts = {p: n for p, n in counts.items() if n} or {"aws": 1}
        self.groups = {f"g-{p}": p for p in counts}
        group = next(iter(self.groups))
        self.cloud.fail_names = {cloud_vm_name("ns", self.mcis, f"{group}-{i}") for i in fail_boots}
        self.cloud.fail_first_attempt_only = not again
        self.cloud.transient_every, self.cloud.quota = transient, quota
        self.run(self._start_worker())
        self.handle = self.run(start(self.harness, request(self.mcis, counts, policy)))
        if restart:
            self.restart_worker()
        view = self.refresh(self.run(created(self.live)))
        assert view.phase in ("active", "failed"), view.phase
        [record] = view.operations
        assert record.state in (OperationState.DONE, OperationState.FAILED), record
        assert record.message, "the create ended without a message"
        assert len(view.vms) == sum(counts.values()), names(view)
        wanted = S.RUNNING
        if policy == "rollback" and view.phase == "failed":
            wanted = S.TERMINATED
        problems = [p for vm in view.vms if (p := settled_or_failed(vm, wanted))]
        assert not problems, problems

    # --- faults and restarts ----------------------------------------------------------------

    @rule(
        fault=st.sampled_from(["boot", "transient", "quota", "terminate", "stuck", "heal"]),
        index=PICK,
        n=st.integers(1, 2),
        once=st.booleans(),
    )
    def inject_fault(self, fault: str, index: int, n: int, once: bool) -> None:
        cloud = self.cloud
        if fault == "boot":  # a VM yet to come (next index of a group, or a new group) fails
            group = pick(sorted({*self.groups, *NEW_GROUPS}), index)
            taken = [vm_index(v) for v in names(self.current()) if v.startswith(f"{group}-")]
            vm = f"{group}-{max(taken, default=0) + n}"
            cloud.fail_names.add(cloud_vm_name("ns", self.mcis, vm))
            cloud.fail_first_attempt_only = once
        elif fault == "transient":
            cloud.transient_every = n + 1
        elif fault == "quota":
            cloud.quota = len(cloud.live_vms()) + n - 1
        elif fault == "terminate":
            cloud.fail_terminates = n
        elif fault == "stuck":
            ids = sorted(vm.csp_id for vm in self.current().vms if vm.csp_id)
            if ids:
                cloud.fail_terminate_ids.add(pick(ids, index))
        else:
            cloud.fail_names, cloud.transient_every, cloud.quota = set(), 0, None
            cloud.fail_terminates, cloud.fail_terminate_ids = 0, set()

    @precondition(lambda self: RESTARTS)
    @rule()
    def restart_between_operations(self) -> None:
        self.restart_worker()
        view = self.run(status(self.live))
        assert view.vms == self.current().vms, "a worker restart changed the VMs"

    # --- lifecycle actions --------------------------------------------------------------------

    @rule(
        action=st.sampled_from([Action.SUSPEND, Action.RESUME, Action.REBOOT, Action.TERMINATE]),
        kind=st.sampled_from(["mcis", "group", "vm"]),
        index=PICK,
        restart=RESTART,
    )
    def lifecycle(self, action: Action, kind: str, index: int, restart: bool) -> None:
        scope = self.scope(kind, index)
        before = self.current()
        scoped = self.scoped(scope)
        plan = plan_action([(vm.id, vm.status) for vm in scoped or []], action)
        done = self.attempt(
            scoped is not None and plan.allowed, restart, kind=action.value, **scope
        )
        if done is None:
            return
        record, after = done
        now = by_name(after)
        assert action.target is not None
        problems = [p for n in plan.affected if (p := settled_or_failed(now[n], action.target))]
        assert not problems, problems
        assert not (problems := unchanged(before, after, set(plan.affected))), problems
        assert sorted(record.report.get("affected", [])) == sorted(plan.affected), record

    @rule(restart=RESTART)
    def refine(self, restart: bool) -> None:
        before = self.current()
        failed = [vm.id for vm in before.vms if vm.status in (S.FAILED, S.UNDEFINED)]
        done = self.attempt(True, restart, kind="refine")
        if done is None:
            return
        record, after = done
        assert not (problems := removed_or_kept(before, after, failed)), problems
        assert not (problems := unchanged(before, after, set(failed))), problems
        if record.state is OperationState.DONE:
            report = record.report.get("removed", []) + record.report.get("failed", [])
            assert sorted(report) == sorted(failed), record

    # --- scaling ------------------------------------------------------------------------------

    def _added(self, restart: bool, count: int, into: str, **fields: Any) -> None:
        before = self.current()
        done = self.attempt(True, restart, count=count, **fields)
        if done is None:
            return
        record, after = done
        added = [n for n in names(after) if n not in by_name(before)]
        if record.state is OperationState.DONE:
            assert len(added) == count, (added, record)
            assert record.report["added"] == added, record
        assert all(n.startswith(f"{into}-") for n in added), added
        now = by_name(after)
        problems = [p for n in added if (p := settled_or_failed(now[n], S.RUNNING))]
        assert not problems, problems
        assert not (problems := unchanged(before, after, set())), problems

    @rule(index=PICK, count=st.integers(1, 2), restart=RESTART)
    def scale_out(self, index: int, count: int, restart: bool) -> None:
        group = pick([*sorted(self.groups), "nope"], index)
        if group not in self.groups:
            self.attempt(False, restart, kind="scale-out", group=group, count=count)
            return
        self._added(restart, count, group, kind="scale-out", group=group)

    @rule(index=PICK, provider=st.sampled_from(PROVIDERS), count=st.integers(1, 2), restart=RESTART)
    def add_group(self, index: int, provider: str, count: int, restart: bool) -> None:
        name = pick([*NEW_GROUPS, *sorted(self.groups)], index)
        new_group = GroupRequest(
            name=name, spec=f"{provider}+r1+small", image=f"{provider}+r1+ubuntu", count=count
        ).model_dump(mode="json")
        if name in self.groups:
            self.attempt(False, restart, kind="add-group", new_group=new_group)
            return
        self.groups[name] = provider  # the group stays, whatever becomes of its VMs
        self._added(restart, count, name, kind="add-group", new_group=new_group)

    @rule(index=PICK, count=st.integers(1, 3), restart=RESTART)
    def scale_in(self, index: int, count: int, restart: bool) -> None:
        group = pick(sorted(self.groups), index)
        before = self.current()
        members = [vm.id for vm in before.vms if vm.group == group]
        victims = sorted(members, key=lambda n: (vm_index(n), n), reverse=True)[:count]
        allowed = bool(members) and count <= len(members)
        done = self.attempt(allowed, restart, kind="scale-in", group=group, count=count)
        if done is None:
            return
        record, after = done
        assert not (problems := removed_or_kept(before, after, victims)), problems
        assert not (problems := unchanged(before, after, set(victims))), problems
        if record.state is OperationState.DONE:
            report = record.report.get("removed", []) + record.report.get("failed", [])
            assert sorted(report) == sorted(victims), (victims, record)

    @rule(index=PICK, restart=RESTART)
    def remove_vm(self, index: int, restart: bool) -> None:
        before = self.current()
        vm = pick([*names(before), UNKNOWN_VM], index)
        done = self.attempt(vm in by_name(before), restart, kind="remove-vm", vm=vm)
        if done is None:
            return
        _, after = done
        assert not (problems := removed_or_kept(before, after, [vm])), problems
        assert not (problems := unchanged(before, after, {vm})), problems

    # --- invariants ---------------------------------------------------------------------------

    @invariant()
    @precondition(lambda self: self.view is not None)
    def tokens_are_never_shared_nor_reused(self) -> None:
        names_of: dict[str, set[str]] = {}
        vms_of: dict[str, set[str]] = {}
        for call in self.cloud.create_log:
            names_of.setdefault(call.client_token, set()).add(call.name)
            if call.csp_id:
                vms_of.setdefault(call.client_token, set()).add(call.csp_id)
        shared = {t: n for t, n in names_of.items() if len(n) > 1}
        assert not shared, f"client tokens used for several VMs: {shared}"
        assert all(len(ids) == 1 for ids in vms_of.values()), vms_of
        for at, call in enumerate(self.cloud.create_log):
            since = self.retired.get(call.csp_id)
            assert since is None or at < since, (
                f"create of {call.name} reused the token of removed VM {call.csp_id} "
                f"(found it {call.found})"
            )
        recorded = [vm.csp_id for vm in self.current().vms if vm.csp_id]
        assert len(recorded) == len(set(recorded)), f"VMs share a cloud VM: {recorded}"
        assert not set(recorded) & set(self.retired), "a removed VM is recorded again"

    @invariant()
    @precondition(lambda self: self.view is not None)
    def the_cloud_holds_exactly_the_live_records(self) -> None:
        view, cloud = self.current(), self.cloud
        for vm in view.vms:
            if vm.csp_id is None:
                assert vm.status is S.FAILED and vm.error, f"{vm.id} has no cloud VM: {vm}"
                continue
            assert vm.csp_id in cloud.vms, f"{vm.id}'s cloud VM {vm.csp_id} does not exist"
            phase = cloud.phase[vm.csp_id]
            if vm.status in CLOUD_PHASE_OF:
                assert phase == CLOUD_PHASE_OF[vm.status], (
                    f"{vm.id} is recorded {vm.status.value}, its cloud VM is {phase}"
                )
            elif phase in GONE_AT_CLOUD:
                assert vm.status is S.FAILED and vm.error, f"{vm.id} gone at the cloud: {vm}"
        ours = {TAG_NAMESPACE: "ns", TAG_MCIS: self.mcis, TAG_UID: view.uid}.items()
        recorded = {vm.csp_id for vm in view.vms}
        unrecorded = [
            f"{csp_id} ({cloud_vm.name}, {cloud.phase[csp_id]})"
            for csp_id, cloud_vm in cloud.vms.items()
            if ours <= cloud_vm.tags.items()
            and cloud.phase[csp_id] not in GONE_AT_CLOUD
            and csp_id not in recorded
        ]
        assert not unrecorded, f"live cloud VMs the MCIS does not record: {unrecorded}"

    @invariant()
    @precondition(lambda self: self.view is not None)
    def every_vm_is_settled_or_failed_with_its_reason(self) -> None:
        view = self.current()
        problems = [
            f"{vm.id} is {vm.status.value} ({vm.error!r})"
            for vm in view.vms
            if vm.status not in STABLE and not (vm.status is S.FAILED and vm.error)
        ]
        assert not problems, problems
        stored = sorted(vm.name for vm in self.harness.store.list_vms("ns", self.mcis))
        assert stored == sorted(names(view)), f"the store holds {stored}, the MCIS {names(view)}"

    @invariant()
    @precondition(lambda self: self.view is not None)
    def the_workflow_runs_on_and_records_every_operation(self) -> None:
        view = self.current()
        described = self.run(self.live.describe())
        assert described.status is WorkflowExecutionStatus.RUNNING, described.status
        assert view.phase in ("active", "failed"), view.phase
        assert view.operation is None, f"still in flight: {view.operation}"
        for op in view.operations:
            assert op.finished, op
            if op.state in (OperationState.FAILED, OperationState.REJECTED):
                assert op.message, f"{op.kind.value} {op.state.value} without a message"

    def teardown(self) -> None:
        if self.handle is not None:
            self.run(self.handle.terminate("state machine example over"))
        if self.worker is not None:
            self.run(self.worker.aclose())


async def test_random_operations_faults_and_restarts_keep_the_mcis_consistent(
    env: WorkflowEnvironment,
) -> None:
    loop = asyncio.get_running_loop()

    class OnThisLoop(McisMachine):
        def __init__(self) -> None:
            super().__init__(env, loop)

    run = settings(
        max_examples=EXAMPLES,
        stateful_step_count=STEPS,
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )
    await asyncio.to_thread(run_state_machine_as_test, OnThisLoop, settings=run)


async def test_an_operation_after_create_is_accepted_by_a_worker_rebuilding_the_run(
    harness: Harness,
) -> None:
    async with uncached_worker(harness):
        handle = await start(harness, request("rebuilt", {"aws": 1}))
        view = await created(handle)
        assert view.operation is None and view.phase == "active"
        record, view = await operate(handle, kind="suspend")
    assert record.state is OperationState.DONE
    assert view.counts == {S.SUSPENDED: 1}
