"""The MCIS workflow: one long-lived workflow per MCIS (id `mcis/NS/NAME`). It creates the MCIS,
is the single authority for operations on it (Temporal Updates with validators), answers its
status as a query, keeps its status in a search attribute, and deletes it.

Orchestration only: every cloud or store effect is an activity, called by name.

From release 0.3 (PATCH_VM_BATCHES) VMs travel by name, never by record, in batches of at most
VM_BATCH_SIZE VMs of one region: one activity creates, acts on or observes a batch, reading the
records from the store and writing back what changed. The workflow keeps its own copy of the
records (what it decides with) and writes only what it changes itself (`_dirty`). A new run
reads the records back from the store a page at a time (up to VMS_IN_VIEW ride in the snapshot):
no payload grows with the MCIS.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import defaultdict
from collections.abc import Awaitable, Callable, Coroutine, Iterable
from datetime import timedelta
from typing import Any, TypeVar

from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError

from models.failures import failure_message
from models.lifecycle import OperationKind, OperationRecord, OperationState
from models.mcis import VMS_IN_VIEW, GroupRequest, McisView, PartialFailurePolicy, VmView
from models.naming import shared_resource_name, vm_index
from models.operation_rules import OperationRefused, check_operation, newest_first, scope_vms
from models.operations import (
    VM_BATCH_SIZE,
    CreateVmBatchInput,
    CreateVmInput,
    EnsureSecurityGroupInput,
    EnsureSshKeyInput,
    EnsureVNetInput,
    ForgetVmsInput,
    McisPhaseInput,
    McisSnapshot,
    McisWorkflowInput,
    NetworkRefs,
    ObserveVmsInput,
    OperationRequest,
    PlanGroupInput,
    ReconcileInput,
    ReconcileResult,
    SharedNetworkRef,
    StaticNetworkInput,
    VmActionBatchInput,
    VmActionInput,
    VmBatch,
    VmPageInput,
    shared_network_refs,
)
from models.plan import call_waves, group_plans, planned_group, replacement
from models.records import McisPhase, McisRecord, ResourceRecord, VmRecord
from models.status import (
    TARGET_OF_ACTION,
    TRANSITIONAL,
    McisStatus,
    TargetAction,
    TargetStatus,
    VmStatus,
    aggregate,
    target_reached,
)
from models.transitions import Action, ActionPlan
from workflows.options import (
    CLOUD,
    STORE,
    create_vm_options,
    observe_options,
    run_activity,
)
from workflows.search_attributes import MCIS_NAME, MCIS_NAMESPACE, MCIS_STATUS
from workflows.summaries import mcis_details

T = TypeVar("T")
RegionKey = tuple[str, str]
BatchKey = tuple[str, str, str, int]  # provider, region, group (or ""), chunk
OPERATIONS_KEPT = 20
BUSY = "Busy"  # error type of an Update refused because another operation runs
REFUSED = "Refused"  # error type of an Update the current state does not allow
DELETE_TERMINATE_ROUNDS = 3  # terminate rounds before a delete gives up and keeps the MCIS
CANCELLED_BY_DELETE = "cancelled by delete --force"
STORE_RETRY_S = 60  # pause before trying the store again outside an operation
REPORT_NAMES_KEPT = 100  # VM names an operation's report keeps per list (its message counts all)

# workflow.patched ids: each guards a change of the commands this workflow sends, so that
# histories recorded by an earlier release replay (tests/histories). Never rename or reuse one.
PATCH_VM_SERIALS = "vm-serials"  # tokens from a per-MCIS serial, not from names
PATCH_FAILURES_REPORTED = "operation-failures-reported"  # a failed operation never ends the run
PATCH_CONTINUE_PER_OPERATION = "continue-as-new-per-operation"
PATCH_CONTINUE_AFTER_CREATE = "continue-as-new-after-create"
PATCH_VMS_KEPT_UNTIL_GONE = "vms-kept-until-gone"  # terminate failures keep the VM recorded
PATCH_FORCE_CANCELS = "force-delete-cancels"  # delete --force cancels the operation in flight
PATCH_VM_BATCHES = "vm-batches"  # VMs by name in batches per region; records in the store
PATCH_TARGET_ENDS_WITH_OPERATION = "target-ends-with-operation"  # a group's or VM's action done

OPERATION_ERRORS = (ActivityError, ApplicationError)
"""What ends one operation (reported) rather than the workflow: an activity that failed for
good, after its bounded retries."""


def _batches(
    vms: Iterable[VmRecord], size: int | None, by_group: bool = False
) -> dict[BatchKey, list[str]]:
    """The VMs' names by region (and group), each region cut into chunks of `size` (None: one
    chunk a region, as before release 0.3)."""
    keyed: dict[tuple[str, str, str], list[str]] = defaultdict(list)
    for vm in vms:
        keyed[(vm.provider, vm.region, vm.group if by_group else "")].append(vm.name)
    batches: dict[BatchKey, list[str]] = {}
    for (provider, region, group), names in sorted(keyed.items()):
        step = size or len(names)
        for start in range(0, len(names), step):
            batches[(provider, region, group, start // step)] = names[start : start + step]
    return batches


@workflow.defn(name="McisWorkflow")
class McisWorkflow:
    @workflow.init
    def __init__(self, inp: McisWorkflowInput) -> None:
        """The state from the input, before any handler runs: an Update or query that reaches
        the first task of a continued run sees the restored MCIS, not an empty one."""
        self._namespace, self._name = inp.namespace, inp.request.name
        self._description = inp.request.description
        self._groups: list[GroupRequest] = list(inp.request.groups)
        self._policy = inp.request.on_partial_failure
        self._limits = inp.limits
        self._uid = ""
        self._phase = McisPhase.CREATING
        self._vms: dict[str, VmRecord] = {}
        self._networks: dict[str, NetworkRefs] = {}
        self._target_action = TargetAction.NONE
        self._target_status = TargetStatus.NONE
        self._operation: str | None = None  # what runs now: creating, suspend, deleting, ...
        self._queue: list[tuple[OperationRecord, OperationRequest]] = []
        self._current: OperationRecord | None = None
        self._operations: list[OperationRecord] = []  # finished, the most recent last
        self._next_operation_id = 1
        self._delete: OperationRecord | None = None  # accepted, runs once nothing else does
        self._running: asyncio.Task[Any] | None = None  # the operation in flight
        self._cancelled = False  # an operation was cancelled: VMs may exist without records
        self._next_serial = 1
        self._serials = False  # from release 0.2 (PATCH_VM_SERIALS)
        self._token_epoch = ""  # of an MCIS rebuilt from the store (rebuilt_snapshot)
        self._label = ""
        self._batched = False  # from release 0.3 (PATCH_VM_BATCHES)
        self._dirty: set[str] = set()  # VMs changed here and not yet written to the store
        self._loaded = True  # False until a new run has read its VMs back from the store
        self._carried: McisStatus | None = None  # the status answered until then
        if inp.snapshot is not None:
            self._restore(inp.snapshot)

    # --- entry point --------------------------------------------------------------------------

    @workflow.run
    async def run(self, inp: McisWorkflowInput) -> McisView:
        self._serials = workflow.patched(PATCH_VM_SERIALS)
        self._batched = workflow.patched(PATCH_VM_BATCHES)
        if not self._loaded:
            await self._load_vms()
        elif self._batched and len(self._vms) > VMS_IN_VIEW:
            # Carried by an earlier release, whose store may lag its records: written out before
            # this run leaves them in the store.
            self._dirty = set(self._vms)
        self._publish_details()  # a new run, continued from the last: the UI shows it at once
        if inp.snapshot is None:
            workflow.upsert_search_attributes(
                [MCIS_NAMESPACE.value_set(self._namespace), MCIS_NAME.value_set(self._name)]
            )
            self._uid = str(workflow.uuid4())
            first = self._take_serials(sum(g.count for g in inp.request.groups))
            plans = group_plans(self._namespace, inp.request, self._token_scope(), first)
            self._vms = {vm.name: vm for plan in plans for vm in planned_group(plan)}
            await self._create(plans)
            if workflow.patched(PATCH_CONTINUE_AFTER_CREATE):
                await self._continue_unless_waited_for(inp)
        while True:
            await workflow.wait_condition(
                lambda: (
                    bool(self._queue)
                    or self._delete is not None
                    or workflow.info().is_continue_as_new_suggested()
                )
            )
            if self._queue:
                await self._run_next_operation()
                if self._queue or self._delete is not None:
                    continue
                if not workflow.patched(PATCH_CONTINUE_PER_OPERATION):
                    continue
            elif self._delete is not None:
                if await self._delete_mcis(self._delete):
                    return self.status()
                continue
            await self._continue_unless_waited_for(inp)

    async def _continue_unless_waited_for(self, inp: McisWorkflowInput) -> None:
        """Continue as new unless an operation or the delete waits: a new run carries the
        state, so no run replays more than one operation (no history grows over the years),
        and an Update reaching the new run is validated against the state restored in
        `__init__`. (Within one run, a worker rebuilding it from history may apply an Update
        together with, and before, the last activity result of the task before it.) Records
        the store could not take keep the run going: it tries again a minute later."""
        try:
            await self._flush()
        except ActivityError:
            await workflow.sleep(timedelta(seconds=STORE_RETRY_S))
            return
        await workflow.wait_condition(workflow.all_handlers_finished)
        if not self._queue and self._delete is None:
            workflow.continue_as_new(inp.model_copy(update={"snapshot": self._snapshot()}))

    # --- queries and updates ------------------------------------------------------------------

    @workflow.query
    def status(self) -> McisView:
        """The MCIS's status; its VMs too unless there are more than VMS_IN_VIEW (then they are
        read from the store, `vms_listed` False)."""
        listed = self._loaded and len(self._vms) <= VMS_IN_VIEW
        summary = self._summary()
        view = McisView.build(
            self._namespace,
            self._name,
            self._uid,
            self._description,
            self._phase.value,
            summary,
            [VmView.of(vm) for vm in self._vms.values()] if listed else [],
            operation=self._current or (self._queue[0][0] if self._queue else self._delete),
            operations=self._operations,
        )
        return view if listed else view.model_copy(update={"vms_listed": False})

    @workflow.update
    async def delete(self, force: bool) -> McisView:
        """Accept the deletion (its record is the view's `operation`); it runs as soon as no
        other operation is in flight. Forced, it cancels the operation in flight and those
        queued (they end Cancelled)."""
        self._delete = self._new_record(OperationKind.DELETE, "mcis")
        if force and workflow.patched(PATCH_FORCE_CANCELS):
            self._cancel_all()
        return self.status().model_copy(update={"operation": self._delete})

    @delete.validator
    def _validate_delete(self, force: bool) -> None:
        self._refuse_if_busy(force)

    def _cancel_all(self) -> None:
        """End the queued operations and cancel the one in flight (its activities with it)."""
        for record, _ in self._queue:
            self._finish(record, OperationState.CANCELLED, CANCELLED_BY_DELETE)
        self._queue = []
        if self._running is not None and not self._running.done():
            self._running.cancel()
            self._cancelled = True

    @workflow.update
    async def operate(self, request: OperationRequest) -> OperationRecord:
        """Accept an operation (validated first); it runs after those accepted before it.
        A request id seen before returns the operation it started: a retried call never
        repeats an action."""
        known = self._operation_by_request(request.request_id)
        if known is not None:
            return known
        record = self._new_record(request.kind, request.scope, request.request_id)
        self._queue.append((record, request))
        return record

    @operate.validator
    def _validate_operate(self, request: OperationRequest) -> None:
        if self._operation_by_request(request.request_id) is not None:
            return
        if request.kind in (OperationKind.CREATE, OperationKind.DELETE):
            raise ApplicationError(
                f"{request.kind.value} is not an operation on a live MCIS: use mcis "
                f"{request.kind.value}",
                type=REFUSED,
            )
        if self._refuse_if_busy(request.force) or not self._loaded:
            return  # forced behind another operation, or the VMs are being read back from the
            # store: checked again when its turn comes
        try:
            check_operation(
                request, list(self._vms.values()), self._groups, self._name, self._phase
            )
        except OperationRefused as exc:
            raise ApplicationError(str(exc), type=REFUSED) from None

    def _new_record(
        self, kind: OperationKind, scope: str, request_id: str | None = None
    ) -> OperationRecord:
        record = OperationRecord(
            id=self._next_operation_id,
            kind=kind,
            scope=scope,
            request_id=request_id,
            requested_at=workflow.now(),
        )
        self._next_operation_id += 1
        return record

    def _operation_by_request(self, request_id: str | None) -> OperationRecord | None:
        if request_id is None:
            return None
        current = [self._current] if self._current else []
        records = [*self._operations, *current, *(r for r, _ in self._queue)]
        return next((r for r in records if r.request_id == request_id), None)

    def _refuse_if_busy(self, force: bool) -> bool:
        """Reject while deleting, or while another operation runs (unless forced). True when
        busy and forced."""
        if self._delete is not None or self._phase in (McisPhase.DELETING, McisPhase.DELETED):
            raise ApplicationError(f"MCIS {self._name!r} is being deleted", type=REFUSED)
        busy = self._operation or (self._queue[-1][0].kind.value if self._queue else None)
        if busy and not force:
            raise ApplicationError(
                f"MCIS {self._name!r} is busy: {busy} in flight (status "
                f"{self._aggregate().display}); wait for it to finish or use --force",
                type=BUSY,
            )
        return bool(busy)

    # --- create -------------------------------------------------------------------------------

    async def _create(self, plans: list[PlanGroupInput]) -> None:
        """Create the MCIS. A failure (a connection gone, the store refusing) ends the create,
        reported with its reason, and leaves the MCIS operable: it can always be deleted."""
        record = self._new_record(OperationKind.CREATE, "mcis")
        record.state = OperationState.RUNNING
        self._current, self._operation = record, "creating"
        self._publish_details()
        self._set_target(TargetAction.CREATE)
        try:
            await self._cancellable(self._create_steps(plans))
            failed = len(self._failed())
            self._finish(record, OperationState.DONE, f"{len(self._vms)} VMs, {failed} failed")
        except asyncio.CancelledError:
            if not self._cancelled:
                raise
            self._finish(record, OperationState.CANCELLED, CANCELLED_BY_DELETE)
        except OPERATION_ERRORS as exc:
            if not workflow.patched(PATCH_FAILURES_REPORTED):
                raise
            reason = failure_message(exc)
            for name, vm in self._vms.items():
                if vm.status not in (VmStatus.RUNNING, VmStatus.FAILED):
                    self._fail(name, f"create failed: {reason}")
            await self._set_phase_reporting(McisPhase.FAILED)
            self._finish(record, OperationState.FAILED, reason)

    async def _create_steps(self, plans: list[PlanGroupInput]) -> None:
        record = McisRecord(
            namespace=self._namespace,
            name=self._name,
            uid=self._uid,
            description=self._description,
            phase=McisPhase.CREATING,
            request={
                "name": self._name,
                "description": self._description,
                "on_partial_failure": self._policy.value,
                "groups": [g.model_dump(mode="json") for g in self._groups],
            },
        )
        await run_activity("register_mcis", record, type(None), STORE)
        if self._batched:  # the records and the networks do not wait on each other
            done = await asyncio.gather(
                self._record_planned(plans),
                self._prepare_networks(self._groups),
                return_exceptions=True,
            )
            failure = next((r for r in done if isinstance(r, BaseException)), None)
            if failure is not None:
                raise failure
        else:
            await self._record_planned(plans)
            await self._prepare_networks(self._groups)
        await self._create_vms(list(self._vms))
        phase = await self._apply_partial_failure_policy()
        await self._set_phase(phase)

    async def _prepare_networks(self, groups: list[GroupRequest]) -> None:
        """Shared vNet/SG/key once per dynamic region; resolve static groups' resources.
        A group whose network cannot be had gets all its VMs marked Failed."""
        regions = sorted({(g.provider, g.region) for g in groups if not g.is_static})
        shared_by_region = await self._ensure_shared_networks(regions)
        for group in groups:
            refs: NetworkRefs | BaseException
            if group.is_static:
                refs = await self._guarded(self._static_network(group))
            else:
                refs = shared_by_region[(group.provider, group.region)]
            if isinstance(refs, BaseException):
                message = f"network not available: {failure_message(refs)}"
                for vm in self._vms.values():
                    if vm.group == group.name:
                        self._fail(vm.name, message)
            else:
                self._networks[group.name] = refs

    async def _ensure_shared_networks(
        self, regions: list[RegionKey]
    ) -> dict[RegionKey, NetworkRefs | BaseException]:
        """The shared vNet, security group and key of every region: from release 0.3 one
        activity a region, all at once; before, each step for all regions at once (commands go
        out once a whole step has returned, see `_fan_out`)."""
        ns = self._namespace
        if self._batched:
            places = [SharedNetworkRef(namespace=ns, provider=p, region=r) for p, r in regions]
            ensured = await asyncio.gather(
                *(run_activity("ensure_shared_network", ref, NetworkRefs, CLOUD) for ref in places),
                return_exceptions=True,
            )
            for result in ensured:
                if isinstance(result, BaseException) and not isinstance(result, ActivityError):
                    raise result
            return dict(zip(regions, ensured, strict=True))
        failed: dict[RegionKey, BaseException] = {}

        async def step(
            activity: str, make: Callable[[str, str, str], object], live: list[RegionKey]
        ) -> dict[RegionKey, ResourceRecord]:
            results = await asyncio.gather(
                *(
                    run_activity(
                        activity, make(p, r, shared_resource_name(p, r)), ResourceRecord, CLOUD
                    )
                    for p, r in live
                ),
                return_exceptions=True,
            )
            done: dict[RegionKey, ResourceRecord] = {}
            for key, result in zip(live, results, strict=True):
                if isinstance(result, ActivityError):
                    failed[key] = result
                elif isinstance(result, BaseException):
                    raise result
                else:
                    done[key] = result
            return done

        def vnet_input(p: str, r: str, name: str) -> EnsureVNetInput:
            return EnsureVNetInput(namespace=ns, name=name, provider=p, region=r, shared=True)

        def key_input(p: str, r: str, name: str) -> EnsureSshKeyInput:
            return EnsureSshKeyInput(namespace=ns, name=name, provider=p, region=r, shared=True)

        def group_input(p: str, r: str, name: str) -> EnsureSecurityGroupInput:
            return EnsureSecurityGroupInput(
                namespace=ns, name=name, provider=p, region=r, vnet=name, shared=True
            )

        vnets = await step("ensure_vnet", vnet_input, regions)
        groups = await step("ensure_security_group", group_input, list(vnets))
        keys = await step("ensure_ssh_key", key_input, list(groups))
        refs: dict[RegionKey, NetworkRefs | BaseException] = dict(failed)
        for (provider, region), key in keys.items():
            vnet, group = vnets[(provider, region)], groups[(provider, region)]
            refs[(provider, region)] = shared_network_refs(provider, region, vnet, group, key)
        return refs

    async def _static_network(self, group: GroupRequest) -> NetworkRefs:
        return await run_activity(
            "static_network",
            StaticNetworkInput(
                namespace=self._namespace,
                group=group.name,
                provider=group.provider,
                region=group.region,
                vnet=group.vnet or "",
                subnet=group.subnet,
                security_groups=group.security_groups or [],
                ssh_key=group.ssh_key or "",
            ),
            NetworkRefs,
            CLOUD,
        )

    async def _create_vms(self, names: list[str]) -> None:
        """Create VMs, then watch each region until its VMs are Running; any VM that ends
        otherwise is Failed. VMs whose network could not be had are already Failed."""

        async def create(vm: VmRecord) -> VmRecord:
            request = CreateVmInput(
                namespace=self._namespace,
                mcis=self._name,
                uid=self._uid,
                vm=vm,
                network=self._networks[vm.group],
            )
            options = create_vm_options(self._limits.create_attempts)
            return await run_activity("create_vm", request, VmRecord, options)

        async def create_batch(key: BatchKey, batch: VmBatch) -> list[VmRecord]:
            request = CreateVmBatchInput(batch=batch, network=self._networks[key[2]])
            options = create_vm_options(self._limits.create_attempts)
            return await run_activity("create_vm_batch", request, list[VmRecord], options)

        if self._batched:  # a group whose network failed before gets another try
            groups = {self._vms[n].group for n in names}
            lacking = [g for g in self._groups if g.name in groups and g.name not in self._networks]
            if lacking:
                await self._prepare_networks(lacking)
        ready = [n for n in names if self._vms[n].status is not VmStatus.FAILED]
        if self._batched:
            await self._in_batches(ready, create_batch, by_group=True)
            await self._observe(ready, TargetAction.CREATE)
        else:
            await self._fan_out(ready, create, observe=TargetAction.CREATE)
        for name in names:
            vm = self._vms[name]
            if vm.status not in (VmStatus.RUNNING, VmStatus.FAILED):
                self._fail(name, f"ended {vm.status.value} ({vm.native_status}), not Running")
        await self._save(self._vms[n] for n in names)

    async def _apply_partial_failure_policy(self) -> McisPhase:
        if self._policy is PartialFailurePolicy.REFINE:
            for _ in range(self._limits.refine_rounds):
                failed = self._failed()
                if not failed:
                    break
                if workflow.patched(PATCH_VMS_KEPT_UNTIL_GONE):
                    # Replace only what the cloud confirms gone: a VM whose terminate failed
                    # stays recorded (Failed, with the reason) instead of leaking.
                    await self._act_on(failed, TargetAction.TERMINATE, wait=True)
                    kept = self._keep_unless_gone(failed)
                    failed = [n for n in failed if n not in kept]
                else:
                    await self._act_on(failed, TargetAction.TERMINATE, wait=False)
                for name in failed:
                    vm = self._vms[name]
                    if self._batched and vm.csp_id is None:
                        # Never made, or made by a create whose answer was lost: its own token
                        # again finds it rather than making a second VM.
                        update = {"status": VmStatus.CREATING, "error": None, "native_status": None}
                        self._put(vm.model_copy(update=update))
                    else:
                        self._put(replacement(vm, self._token_scope(), self._take_serials(1)))
                self._set_target(TargetAction.CREATE)
                await self._save(self._vms[n] for n in failed)
                await self._create_vms(failed)
        elif self._policy is PartialFailurePolicy.ROLLBACK and self._failed():
            await self._act_on(list(self._vms), TargetAction.TERMINATE, wait=True)
            return McisPhase.FAILED
        return McisPhase.ACTIVE

    # --- operations on a created MCIS -----------------------------------------------------

    async def _run_next_operation(self) -> None:
        """Run the oldest queued operation. However it ends (done, refused, failed after its
        bounded retries, cancelled by a forced delete) it is recorded, and the MCIS goes on."""
        record, request = self._queue.pop(0)
        record.state = OperationState.RUNNING
        self._current, self._operation = record, record.kind.value
        self._publish_details()
        try:
            plan = check_operation(
                request, list(self._vms.values()), self._groups, self._name, self._phase
            )
            record.message, report = await self._cancellable(self._execute(request, plan))
            # the first names of each list: a record rides in every snapshot and status answer
            record.report = {key: names[:REPORT_NAMES_KEPT] for key, names in report.items()}
            self._finish(record, OperationState.DONE)
        except OperationRefused as exc:
            self._finish(record, OperationState.REJECTED, str(exc))
        except asyncio.CancelledError:
            if not self._cancelled:
                raise  # the workflow itself is cancelled
            self._finish(record, OperationState.CANCELLED, CANCELLED_BY_DELETE)
        except OPERATION_ERRORS as exc:
            if not workflow.patched(PATCH_FAILURES_REPORTED):
                raise
            self._finish(record, OperationState.FAILED, failure_message(exc))

    async def _cancellable(self, work: Coroutine[Any, Any, T]) -> T:
        """Run `work` as the operation in flight, which a forced delete may cancel."""
        task = asyncio.ensure_future(work)
        self._running = task
        try:
            return await task
        finally:
            self._running = None

    def _finish(self, record: OperationRecord, state: OperationState, message: str = "") -> None:
        """Record how an operation ended; the target of an unfinished action is dropped."""
        record.state = state
        record.message = message or record.message
        record.ended_at = workflow.now()
        self._operations = [*self._operations, record][-OPERATIONS_KEPT:]
        if record is self._current:
            self._current, self._operation = None, None
        # The target is the MCIS's way to a status: an unfinished action drops it, and so does
        # a group's or a VM's action once done (the other VMs never go that way).
        if state is not OperationState.DONE or (
            record.scope != "mcis" and workflow.patched(PATCH_TARGET_ENDS_WITH_OPERATION)
        ):
            self._target_action, self._target_status = TargetAction.NONE, TargetStatus.NONE
        self._status_changed()

    async def _execute(
        self, request: OperationRequest, plan: ActionPlan | None
    ) -> tuple[str, dict[str, list[str]]]:
        kind = request.kind
        if plan is not None and plan.action is Action.REFINE:
            return await self._remove(plan.affected, "failed VMs")
        if plan is not None:
            if plan.affected:
                await self._act_on(plan.affected, plan.action.target_action, wait=True)
                await self._save(self._vms[n] for n in plan.affected)
            failed = [n for n in plan.affected if self._vms[n].status is VmStatus.FAILED]
            report = {"affected": plan.affected, "skipped": plan.skipped, "failed": failed}
            if not plan.affected:
                return (
                    f"{kind.value}: nothing to do ({len(plan.skipped)} VMs already there)",
                    report,
                )
            return f"{kind.value}: {len(plan.affected)} VMs, {len(failed)} failed", report
        if kind is OperationKind.SCALE_OUT:
            return await self._scale_out(request.group or "", request.count or 0)
        if kind is OperationKind.SCALE_IN:
            scoped = scope_vms(request, list(self._vms.values()), self._name)
            victims = [vm.name for vm in newest_first(scoped)[: request.count]]
            return await self._remove(victims, "VMs")
        if kind is OperationKind.REMOVE_VM:
            return await self._remove([request.vm or ""], "VM")
        if kind is OperationKind.ADD_GROUP:
            assert request.new_group is not None
            return await self._add_group(request.new_group)
        if kind is OperationKind.RECONCILE:
            return await self._reconcile()
        return await self._refresh()

    async def _scale_out(self, group_name: str, count: int) -> tuple[str, dict[str, list[str]]]:
        group = next(g for g in self._groups if g.name == group_name)
        taken = [vm_index(vm.name) for vm in self._vms.values() if vm.group == group_name]
        plan = PlanGroupInput(
            namespace=self._namespace,
            mcis=self._name,
            token_scope=self._token_scope(),
            group=group.model_copy(update={"count": count}),
            first_index=max(taken, default=0) + 1,
            first_serial=self._take_serials(count),
        )
        return await self._add_vms(group, plan, f"added {count} VMs to group {group_name}")

    async def _add_group(self, group: GroupRequest) -> tuple[str, dict[str, list[str]]]:
        self._groups.append(group)
        plan = PlanGroupInput(
            namespace=self._namespace,
            mcis=self._name,
            token_scope=self._token_scope(),
            group=group,
            first_serial=self._take_serials(group.count),
        )
        return await self._add_vms(group, plan, f"added group {group.name} of {group.count} VMs")

    async def _add_vms(
        self, group: GroupRequest, plan: PlanGroupInput, message: str
    ) -> tuple[str, dict[str, list[str]]]:
        added = planned_group(plan)
        self._vms.update({vm.name: vm for vm in added})
        self._set_target(TargetAction.CREATE)
        await self._record_planned([plan])
        if group.name not in self._networks:
            await self._prepare_networks([group])
        names = [vm.name for vm in added]
        await self._create_vms(names)
        failed = [n for n in names if self._vms[n].status is VmStatus.FAILED]
        if failed:
            message += f"; {len(failed)} failed ({', '.join(failed[:5])}): see their errors"
        return message, {"added": names, "failed": failed}

    async def _remove(self, names: list[str], what: str) -> tuple[str, dict[str, list[str]]]:
        """Terminate VMs (waiting until the cloud says so) and drop them from the MCIS. A VM
        the cloud does not confirm gone stays recorded, Failed with the reason."""
        live = [n for n in names if self._vms[n].status is not VmStatus.TERMINATED]
        await self._act_on(live, TargetAction.TERMINATE, wait=True)
        gone = names
        if workflow.patched(PATCH_VMS_KEPT_UNTIL_GONE):
            kept = self._keep_unless_gone(names)
            gone = [n for n in names if n not in kept]
        forget = ForgetVmsInput(namespace=self._namespace, mcis=self._name, names=gone)
        await run_activity("forget_vms", forget, type(None), STORE)
        for name in gone:
            del self._vms[name]
            self._dirty.discard(name)
        self._set_target(TargetAction.NONE)  # the removed VMs reached it; the rest never had it
        kept = [n for n in names if n not in gone]
        message = f"removed {len(gone)} {what}"
        if kept:
            await self._save(self._vms[n] for n in kept)
            message += f"; {len(kept)} could not be terminated and stay recorded (Failed)"
        return message, {"removed": gone, "failed": kept} if kept else {"removed": gone}

    def _keep_unless_gone(self, names: list[str]) -> list[str]:
        """Those of `names` the cloud has not confirmed gone, each marked Failed with why."""
        kept = [
            n
            for n in names
            if self._vms[n].csp_id and self._vms[n].status is not VmStatus.TERMINATED
        ]
        for name in kept:
            vm = self._vms[name]
            why = vm.error if vm.status is VmStatus.FAILED and vm.error else vm.status.value
            if not why.startswith("terminate failed"):
                self._fail(name, f"terminate failed: {why}")
        return kept

    async def _reconcile(self) -> tuple[str, dict[str, list[str]]]:
        regions = {(vm.provider, vm.region) for vm in self._vms.values()}
        regions |= {(g.provider, g.region) for g in self._groups}
        request = ReconcileInput(
            namespace=self._namespace,
            mcis=self._name,
            uid=self._uid,
            regions=sorted(regions),
            vms=[] if self._batched else list(self._vms.values()),
            vms_in_store=self._batched,
        )
        if self._batched:
            await self._flush()  # the activity reads the records from the store
        result = await run_activity("reconcile_vms", request, ReconcileResult, CLOUD)
        for vm in [*result.observed, *result.adopted]:
            self._vms[vm.name] = vm
        if self._batched:  # what it observed and adopted is in the store: read it back
            await self._load_vms()
        for name in (n for n in result.missing if n in self._vms):
            self._put(
                self._vms[name].model_copy(
                    update={
                        "status": VmStatus.UNDEFINED,
                        "native_status": None,
                        "error": "no longer exists at the cloud",
                    }
                )
            )
        await self._save(self._vms.values())
        self._status_changed()
        adopted = [vm.name for vm in result.adopted] + result.adopted_names
        message = f"adopted {len(adopted)} VMs, {len(result.missing)} missing at the cloud"
        return message, {"adopted": adopted, "missing": result.missing}

    async def _refresh(self) -> tuple[str, dict[str, list[str]]]:
        """Read every VM's status from its cloud once."""
        before = {n: vm.status for n, vm in self._vms.items()}
        batches = self._batches_of(vm for vm in self._vms.values() if vm.csp_id)
        if self._batched:
            await self._observe_round(batches, self._target_action, 0.0, reads_only=True)
        else:
            for (provider, region, _, _), names in batches.items():
                request = self._observe_request(provider, region, names, self._target_action, 0.0)
                changed = await run_activity(
                    "observe_vms", request, list[VmRecord], observe_options(0.0)
                )
                for vm in changed:
                    self._vms[vm.name] = vm
        self._status_changed()
        changed_names = [n for n, vm in self._vms.items() if before.get(n) is not vm.status]
        return f"refreshed {len(self._vms)} VMs, {len(changed_names)} changed", {
            "changed": changed_names
        }

    # --- actions on VMs -----------------------------------------------------------------------

    async def _act_on(self, names: list[str], action: TargetAction, wait: bool) -> None:
        """Send `action` to the named VMs that exist at their cloud, then optionally watch them
        until they leave their transitional states."""
        self._set_target(action)

        async def act(vm: VmRecord) -> VmRecord:
            request = VmActionInput(
                namespace=self._namespace, mcis=self._name, vm=vm, action=action
            )
            return await run_activity("vm_action", request, VmRecord, CLOUD)

        async def act_on_batch(_: BatchKey, batch: VmBatch) -> list[VmRecord]:
            request = VmActionBatchInput(batch=batch, action=action)
            return await run_activity("vm_action_batch", request, list[VmRecord], CLOUD)

        existing = [n for n in names if self._vms[n].csp_id]
        if not self._batched:
            await self._fan_out(existing, act, observe=action if wait else None)
            return
        await self._in_batches(existing, act_on_batch)
        if wait:
            await self._observe(existing, action)

    async def _in_batches(
        self,
        names: list[str],
        call: Callable[[BatchKey, VmBatch], Awaitable[list[VmRecord]]],
        by_group: bool = False,
    ) -> None:
        """One `call` per batch of the named VMs, all at once (one wave: see `_fan_out`); a
        batch whose call fails for good has its VMs marked Failed with the reason."""
        await self._flush()  # the batch activities read the records from the store
        batches = _batches((self._vms[n] for n in names), VM_BATCH_SIZE, by_group)
        keys = list(batches)
        results = await asyncio.gather(
            *(call(key, self._batch(key, batches[key])) for key in keys), return_exceptions=True
        )
        self._take_batch_results(batches, results)

    def _batch(self, key: BatchKey, names: list[str]) -> VmBatch:
        provider, region, _, _ = key
        return VmBatch(
            namespace=self._namespace,
            mcis=self._name,
            uid=self._uid,
            provider=provider,
            region=region,
            names=names,
        )

    async def _fan_out(
        self,
        names: list[str],
        call: Callable[[VmRecord], Awaitable[VmRecord]],
        observe: TargetAction | None,
    ) -> None:
        """Run `call` for every named VM in waves bounded per cloud and per region; then (with
        `observe`) watch their regions until the VMs are stable. A VM whose call fails for good
        is marked Failed with the reason.

        Commands go out only where every call before them has returned (a whole wave, a whole
        round of observations), never as a reaction to one completion among several: a worker
        that replays the history after a crash may receive the same completions grouped
        otherwise, and must still send the same commands in the same order."""
        vms = [self._vms[n] for n in names]
        limits = self._limits
        for wave in call_waves(vms, limits.per_region_concurrency, limits.per_provider_concurrency):
            results = await asyncio.gather(
                *(call(self._vms[n]) for n in wave), return_exceptions=True
            )
            for name, result in zip(wave, results, strict=True):
                if isinstance(result, ActivityError):
                    self._fail(name, failure_message(result))
                elif isinstance(result, BaseException):
                    raise result
                else:
                    self._vms[name] = result
            self._status_changed()
        if observe is not None:
            await self._observe(names, observe)

    async def _observe(self, names: list[str], action: TargetAction) -> None:
        """Rounds of one observation per region (per batch, from release 0.3) with VMs in
        transition, until none is."""
        limits = self._limits
        deadline = workflow.now() + timedelta(seconds=limits.vm_ready_timeout_s)
        pending = self._batches_of(
            self._vms[n]
            for n in names
            if self._vms[n].csp_id and self._vms[n].status in TRANSITIONAL
        )
        while pending:
            await self._observe_round(pending, action, limits.observe_max_wait_s)
            pending = {
                key: still
                for key, batch_names in pending.items()
                if (still := [n for n in batch_names if self._vms[n].status in TRANSITIONAL])
            }
            if pending and workflow.now() >= deadline:
                target = TARGET_OF_ACTION[action].value
                for name in (n for batch_names in pending.values() for n in batch_names):
                    self._fail(name, f"did not reach {target} in {limits.vm_ready_timeout_s:.0f}s")
                self._status_changed()
                return

    async def _observe_round(
        self,
        batches: dict[BatchKey, list[str]],
        action: TargetAction,
        wait_s: float,
        reads_only: bool = False,
    ) -> None:
        """One observation of every batch at once; a batch whose observation fails for good
        has its VMs marked Failed (`reads_only`: they keep their status, and once the other
        batches' results are in, the failure is raised)."""
        await self._flush()  # observations of batches read the records from the store
        keys = list(batches)
        results = await asyncio.gather(
            *(
                run_activity(
                    "observe_vms",
                    self._observe_request(p, r, batches[(p, r, g, i)], action, wait_s),
                    list[VmRecord],
                    observe_options(wait_s),
                )
                for p, r, g, i in keys
            ),
            return_exceptions=True,
        )
        self._take_batch_results(batches, results, reads_only)

    def _take_batch_results(
        self,
        batches: dict[BatchKey, list[str]],
        results: list[list[VmRecord] | BaseException],
        reads_only: bool = False,
    ) -> None:
        """Take each batch's records, in batch order; a batch that failed for good has its VMs
        marked Failed with the reason (`reads_only`: they keep their status, and the first
        failure is raised once every other batch's records are in)."""
        failure: ActivityError | None = None
        for names, result in zip(batches.values(), results, strict=True):
            if isinstance(result, ActivityError) and reads_only:
                failure = failure or result
            elif isinstance(result, ActivityError):
                for name in names:
                    self._fail(name, failure_message(result))
            elif isinstance(result, BaseException):
                raise result
            else:
                for vm in result:
                    self._vms[vm.name] = vm
        self._status_changed()
        if failure is not None:
            raise failure

    def _batches_of(self, vms: Iterable[VmRecord]) -> dict[BatchKey, list[str]]:
        """Observation batches: one a region before release 0.3, else chunks of a region."""
        return _batches(vms, VM_BATCH_SIZE if self._batched else None)

    def _observe_request(
        self, provider: str, region: str, names: list[str], action: TargetAction, wait_s: float
    ) -> ObserveVmsInput:
        return ObserveVmsInput(
            namespace=self._namespace,
            mcis=self._name,
            uid=self._uid,
            provider=provider,
            region=region,
            vms=[] if self._batched else [self._vms[n] for n in names],
            names=names if self._batched else [],
            known={n: self._vms[n].status for n in names} if self._batched else {},
            action=action,
            poll_interval_s=self._limits.poll_interval_s,
            max_wait_s=wait_s,
            report_every_s=self._limits.observe_report_every_s if self._batched else 0.0,
        )

    # --- delete -------------------------------------------------------------------------------

    async def _delete_mcis(self, record: OperationRecord) -> bool:
        """Terminate every VM, forget the MCIS, release its shared networks; True when it is
        gone. VMs the cloud does not confirm gone (after a few rounds) keep the MCIS alive,
        Failed with the reason, the delete reported failed; a shared network that cannot be
        released is reported (it stays a namespace resource), never retried forever."""
        record.state = OperationState.RUNNING
        self._current, self._operation = record, "deleting"
        self._publish_details()
        before = self._phase
        try:
            await self._set_phase(McisPhase.DELETING)
            if self._cancelled and workflow.patched(PATCH_FORCE_CANCELS):
                await self._reconcile()  # a cancelled create may have left VMs unrecorded
            elif self._batched and any(
                vm.csp_id is None and vm.status is VmStatus.FAILED for vm in self._vms.values()
            ):  # a create batch that failed for good may have made VMs nobody heard of
                with contextlib.suppress(ActivityError):  # where it can look (a cloud whose
                    await self._reconcile()  # connection is gone cannot be): best effort
            live = [n for n, vm in self._vms.items() if vm.status is not VmStatus.TERMINATED]
            await self._act_on(live, TargetAction.TERMINATE, wait=True)
            if workflow.patched(PATCH_VMS_KEPT_UNTIL_GONE):
                left = self._keep_unless_gone(live)
                for _ in range(DELETE_TERMINATE_ROUNDS - 1):
                    if not left:
                        break
                    await self._act_on(left, TargetAction.TERMINATE, wait=True)
                    left = self._keep_unless_gone(left)
                if left:
                    await self._save(self._vms[n] for n in left)
                    shown = ", ".join(left[:5]) + (
                        f" and {len(left) - 5} more" if len(left) > 5 else ""
                    )
                    raise ApplicationError(
                        f"{len(left)} VMs could not be terminated ({shown}: "
                        f"{self._vms[left[0]].error}); the MCIS is kept, delete it again once "
                        "the cause is fixed"
                    )
            phase_input = McisPhaseInput(
                namespace=self._namespace, mcis=self._name, phase=McisPhase.DELETED
            )
            await run_activity("forget_mcis", phase_input, type(None), STORE)
            kept_networks = await self._release_shared_networks()
        except OPERATION_ERRORS as exc:
            if not workflow.patched(PATCH_FAILURES_REPORTED):
                raise
            self._delete = None
            await self._set_phase_reporting(before)
            self._finish(record, OperationState.FAILED, failure_message(exc))
            return False
        self._phase = McisPhase.DELETED
        message = f"deleted: {len(live)} VMs terminated"
        if kept_networks:
            message += "; " + "; ".join(kept_networks)
        self._finish(record, OperationState.DONE, message)
        return True

    async def _release_shared_networks(self) -> list[str]:
        """Release the shared vNet/SG/key of every dynamic region; what could not be released,
        each as one line."""
        regions = sorted({(g.provider, g.region) for g in self._groups if not g.is_static})
        refs = [
            SharedNetworkRef(namespace=self._namespace, provider=p, region=r) for p, r in regions
        ]
        if self._batched:  # every region at once
            results = await asyncio.gather(
                *(run_activity("release_shared_network", ref, bool, CLOUD) for ref in refs),
                return_exceptions=True,
            )
        else:
            results = []
            for ref in refs:
                try:
                    results.append(await run_activity("release_shared_network", ref, bool, CLOUD))
                except ActivityError as exc:
                    results.append(exc)
        kept: list[str] = []
        for ref, result in zip(refs, results, strict=True):
            if isinstance(result, ActivityError):
                kept.append(
                    f"shared network of {ref.provider}/{ref.region} kept: {failure_message(result)}"
                )
            elif isinstance(result, BaseException):
                raise result
        return kept

    # --- state helpers ------------------------------------------------------------------------

    async def _guarded(self, call: Awaitable[NetworkRefs]) -> NetworkRefs | BaseException:
        try:
            return await call
        except ActivityError as exc:
            return exc

    async def _save(self, vms: Iterable[VmRecord]) -> None:
        """Write records to the store: the given ones before release 0.3, else every VM this
        workflow changed (the batch activities write what they change themselves)."""
        if self._batched:
            await self._flush()
        else:
            await run_activity("save_vms", list(vms), type(None), STORE)

    async def _flush(self) -> None:
        """Write the VMs changed here since the last write, a batch per activity, all at once."""
        if not self._dirty:
            return
        names = sorted(self._dirty)
        self._dirty = set()
        results = await asyncio.gather(
            *(
                run_activity(
                    "save_vms",
                    [self._vms[n] for n in names[start : start + VM_BATCH_SIZE]],
                    type(None),
                    STORE,
                )
                for start in range(0, len(names), VM_BATCH_SIZE)
            ),
            return_exceptions=True,
        )
        failures = [r for r in results if isinstance(r, BaseException)]
        if failures:
            self._dirty.update(n for n in names if n in self._vms)  # written by the next flush
            raise failures[0]

    async def _record_planned(self, plans: list[PlanGroupInput]) -> None:
        """Record new VMs: their records before release 0.3, else their groups' plans (the
        activity computes the same records from them)."""
        if not self._batched:
            added = [vm for plan in plans for vm in planned_group(plan)]
            await self._save(self._vms[vm.name] for vm in added)
            return
        await run_activity("record_planned_vms", plans, type(None), STORE)

    async def _load_vms(self) -> None:
        """Read the VMs back from the store, a page at a time (a run continued from one that
        left them there)."""
        after = ""
        while True:
            page_input = VmPageInput(namespace=self._namespace, mcis=self._name, after=after)
            try:
                page = await run_activity("load_vm_page", page_input, list[VmRecord], STORE)
            except ActivityError:  # the store is away: nothing to operate on until it is back
                await workflow.sleep(timedelta(seconds=STORE_RETRY_S))
                continue
            self._vms.update((vm.name, vm) for vm in page)
            if len(page) < page_input.limit:
                break
            after = page[-1].name
        self._loaded, self._carried = True, None

    async def _set_phase_reporting(self, phase: McisPhase) -> None:
        """Set the phase after a failure: shown even when the store cannot record it."""
        try:
            await self._set_phase(phase)
        except ActivityError:
            self._phase = phase
            self._status_changed()

    def _token_scope(self) -> str:
        """What VM tokens derive from besides the serial: the uid (and the epoch of a rebuild)."""
        return f"{self._uid}~{self._token_epoch}" if self._token_epoch else self._uid

    def _take_serials(self, count: int) -> int:
        """The first of `count` fresh VM serials (0 before release 0.2: tokens from names)."""
        if not self._serials:
            return 0
        first = self._next_serial
        self._next_serial += count
        return first

    async def _set_phase(self, phase: McisPhase) -> None:
        """Record the phase, then show it: a query never sees a phase the store lacks."""
        phase_input = McisPhaseInput(namespace=self._namespace, mcis=self._name, phase=phase)
        await run_activity("set_mcis_phase", phase_input, type(None), STORE)
        self._phase = phase
        self._status_changed()

    def _set_target(self, action: TargetAction) -> None:
        self._target_action, self._target_status = action, TARGET_OF_ACTION[action]
        self._status_changed()

    def _fail(self, name: str, error: str) -> None:
        self._put(self._vms[name].model_copy(update={"status": VmStatus.FAILED, "error": error}))

    def _put(self, vm: VmRecord) -> None:
        """Change a record here (written to the store by the next `_flush`)."""
        self._vms[vm.name] = vm
        if self._batched:
            self._dirty.add(vm.name)

    def _failed(self) -> list[str]:
        return [n for n, vm in self._vms.items() if vm.status is VmStatus.FAILED]

    def _aggregate(self) -> McisStatus:
        return aggregate(
            [(n, vm.status) for n, vm in self._vms.items()],
            self._target_action,
            self._target_status,
        )

    def _summary(self) -> McisStatus:
        """The status of every VM; while a large MCIS's records are still in the store, the
        status the last run carried over."""
        return self._aggregate() if self._loaded or self._carried is None else self._carried

    def _status_changed(self) -> None:
        """Clear the target once reached, publish the status label as search attribute and the
        status with the operation under way as the workflow's current details (Temporal UI)."""
        if target_reached((vm.status for vm in self._vms.values()), self._target_status):
            self._target_action, self._target_status = TargetAction.NONE, TargetStatus.NONE
        aggregated = self._aggregate()  # once: an MCIS may hold 10,000 VMs
        label = "Deleted" if self._phase is McisPhase.DELETED else aggregated.label
        if label != self._label:
            self._label = label
            workflow.upsert_search_attributes([MCIS_STATUS.value_set(label)])
        loaded = self._loaded or self._carried is None
        self._publish_details(aggregated if loaded else self._carried)

    def _publish_details(self, summary: McisStatus | None = None) -> None:
        summary = summary or self._summary()
        current = self._current
        operation = f"#{current.id} {current.kind.value} {current.scope}" if current else None
        workflow.set_current_details(
            mcis_details(
                f"{self._label or summary.label} "
                f"({summary.counts.get(summary.status, 0)}/{summary.total})",
                self._phase.value,
                {status.value: n for status, n in summary.counts.items()},
                operation,
            )
        )

    def _snapshot(self) -> McisSnapshot:
        # Up to VMS_IN_VIEW records travel in the snapshot (the next run answers with them at
        # once); more are read back from the store.
        in_store = self._batched and len(self._vms) > VMS_IN_VIEW
        return McisSnapshot(
            uid=self._uid,
            phase=self._phase,
            vms=[] if in_store else list(self._vms.values()),
            vms_in_store=in_store,
            status=self._aggregate() if in_store else None,
            groups=self._groups,
            target_action=self._target_action,
            target_status=self._target_status,
            networks=self._networks,
            operations=self._operations,
            next_operation_id=self._next_operation_id,
            next_serial=self._next_serial,
            token_epoch=self._token_epoch,
        )

    def _restore(self, snapshot: McisSnapshot) -> None:
        self._uid = snapshot.uid
        self._phase = snapshot.phase
        self._vms = {vm.name: vm for vm in snapshot.vms}
        self._target_action = snapshot.target_action
        self._target_status = snapshot.target_status
        self._networks = dict(snapshot.networks)
        self._groups = list(snapshot.groups)
        self._operations = list(snapshot.operations)
        self._next_operation_id = snapshot.next_operation_id
        self._next_serial = snapshot.next_serial
        self._token_epoch = snapshot.token_epoch
        self._loaded = not snapshot.vms_in_store
        self._carried = snapshot.status
        if self._loaded or self._carried is None:
            self._label = self._aggregate().label
        else:
            self._label = self._carried.label
