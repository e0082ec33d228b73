"""The MCIS workflow: one long-lived workflow per MCIS (id `mcis/NS/NAME`). It creates the MCIS,
is the single authority for operations on it (Temporal Updates with validators), answers its
status as a query, keeps its status in a search attribute, and deletes it.

Orchestration only: every cloud or store effect is an activity, called by name.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Awaitable, Callable, Iterable
from datetime import timedelta

from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError

from models.lifecycle import OperationKind, OperationRecord, OperationState
from models.mcis import GroupRequest, McisView, PartialFailurePolicy, VmView
from models.naming import shared_resource_name, vm_index
from models.operation_rules import OperationRefused, check_operation, newest_first, scope_vms
from models.operations import (
    SHARED_SUBNET,
    CreateVmInput,
    EnsureSecurityGroupInput,
    EnsureSshKeyInput,
    EnsureVNetInput,
    ForgetVmsInput,
    McisLimits,
    McisPhaseInput,
    McisSnapshot,
    McisWorkflowInput,
    NetworkRefs,
    ObserveVmsInput,
    OperationRequest,
    ReconcileInput,
    ReconcileResult,
    SharedNetworkRef,
    StaticNetworkInput,
    VmActionInput,
)
from models.plan import call_waves, plan_group, plan_vms, replacement
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
from workflows.failures import failure_message
from workflows.options import (
    CLOUD,
    STORE,
    create_vm_options,
    observe_options,
    run_activity,
)
from workflows.search_attributes import MCIS_NAME, MCIS_NAMESPACE, MCIS_STATUS

RegionKey = tuple[str, str]
OPERATIONS_KEPT = 20
BUSY = "Busy"  # error type of an Update refused because another operation runs
REFUSED = "Refused"  # error type of an Update the current state does not allow


def _by_region(vms: Iterable[VmRecord]) -> dict[RegionKey, list[str]]:
    regions: dict[RegionKey, list[str]] = defaultdict(list)
    for vm in vms:
        regions[(vm.provider, vm.region)].append(vm.name)
    return dict(sorted(regions.items()))


@workflow.defn(name="McisWorkflow")
class McisWorkflow:
    def __init__(self) -> None:
        self._namespace = ""
        self._name = ""
        self._description = ""
        self._groups: list[GroupRequest] = []
        self._policy = PartialFailurePolicy.CONTINUE
        self._limits = McisLimits()
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
        self._delete_requested = False
        self._label = ""

    # --- entry point --------------------------------------------------------------------------

    @workflow.run
    async def run(self, inp: McisWorkflowInput) -> McisView:
        self._namespace, self._name = inp.namespace, inp.request.name
        self._description = inp.request.description
        self._groups = list(inp.request.groups)
        self._policy = inp.request.on_partial_failure
        self._limits = inp.limits
        if inp.snapshot is None:
            workflow.upsert_search_attributes(
                [MCIS_NAMESPACE.value_set(self._namespace), MCIS_NAME.value_set(self._name)]
            )
            self._uid = str(workflow.uuid4())
            self._vms = {vm.name: vm for vm in plan_vms(self._namespace, inp.request, self._uid)}
            await self._create()
        else:
            self._restore(inp.snapshot)
        while True:
            await workflow.wait_condition(
                lambda: (
                    bool(self._queue)
                    or self._delete_requested
                    or workflow.info().is_continue_as_new_suggested()
                )
            )
            if self._queue:
                await self._run_next_operation()
            elif self._delete_requested:
                await self._delete()
                return self.status()
            else:
                await workflow.wait_condition(workflow.all_handlers_finished)
                workflow.continue_as_new(inp.model_copy(update={"snapshot": self._snapshot()}))

    # --- queries and updates ------------------------------------------------------------------

    @workflow.query
    def status(self) -> McisView:
        vms = [
            VmView(
                id=vm.name,
                group=vm.group,
                status=vm.status,
                native_status=vm.native_status,
                provider=vm.provider,
                region=vm.region,
                spec=vm.spec,
                image=vm.image,
                public_ip=vm.public_ip,
                private_ip=vm.private_ip,
                csp_id=vm.csp_id,
                error=vm.error,
            )
            for vm in self._vms.values()
        ]
        return McisView.build(
            self._namespace,
            self._name,
            self._uid,
            self._description,
            self._phase.value,
            self._aggregate(),
            vms,
            operation=self._current or (self._queue[0][0] if self._queue else None),
            operations=self._operations,
        )

    @workflow.update
    async def delete(self, force: bool) -> McisView:
        """Accept the deletion; it runs as soon as no other operation is in flight."""
        self._delete_requested = True
        return self.status()

    @delete.validator
    def _validate_delete(self, force: bool) -> None:
        self._refuse_if_busy(force)

    @workflow.update
    async def operate(self, request: OperationRequest) -> OperationRecord:
        """Accept an operation (validated first); it runs after those accepted before it.
        A request id seen before returns the operation it started: a retried call never
        repeats an action."""
        known = self._operation_by_request(request.request_id)
        if known is not None:
            return known
        record = OperationRecord(
            id=self._next_operation_id,
            kind=request.kind,
            scope=request.scope,
            request_id=request.request_id,
            requested_at=workflow.now(),
        )
        self._next_operation_id += 1
        self._queue.append((record, request))
        return record

    @operate.validator
    def _validate_operate(self, request: OperationRequest) -> None:
        if self._operation_by_request(request.request_id) is not None:
            return
        if self._refuse_if_busy(request.force):
            return  # forced behind another operation: checked again when its turn comes
        try:
            check_operation(
                request, list(self._vms.values()), self._groups, self._name, self._phase
            )
        except OperationRefused as exc:
            raise ApplicationError(str(exc), type=REFUSED) from None

    def _operation_by_request(self, request_id: str | None) -> OperationRecord | None:
        if request_id is None:
            return None
        current = [self._current] if self._current else []
        records = [*self._operations, *current, *(r for r, _ in self._queue)]
        return next((r for r in records if r.request_id == request_id), None)

    def _refuse_if_busy(self, force: bool) -> bool:
        """Reject while deleting, or while another operation runs (unless forced). True when
        busy and forced."""
        if self._delete_requested or self._phase in (McisPhase.DELETING, McisPhase.DELETED):
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

    async def _create(self) -> None:
        self._operation = "creating"
        self._set_target(TargetAction.CREATE)
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
        await self._save(self._vms.values())
        await self._prepare_networks(self._groups)
        await self._create_vms(list(self._vms))
        phase = await self._apply_partial_failure_policy()
        await self._set_phase(phase)
        self._operation = None  # in the same workflow task as the phase: no query sees one alone

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
        """The shared vNet, then security group, then key of every region, each step for all
        regions at once (commands go out once a whole step has returned, see `_fan_out`)."""
        ns = self._namespace
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

        vnets = await step(
            "ensure_vnet",
            lambda p, r, name: EnsureVNetInput(
                namespace=ns, name=name, provider=p, region=r, shared=True
            ),
            regions,
        )
        groups = await step(
            "ensure_security_group",
            lambda p, r, name: EnsureSecurityGroupInput(
                namespace=ns, name=name, provider=p, region=r, vnet=name, shared=True
            ),
            list(vnets),
        )
        keys = await step(
            "ensure_ssh_key",
            lambda p, r, name: EnsureSshKeyInput(
                namespace=ns, name=name, provider=p, region=r, shared=True
            ),
            list(groups),
        )
        refs: dict[RegionKey, NetworkRefs | BaseException] = dict(failed)
        for (provider, region), key in keys.items():
            name = shared_resource_name(provider, region)
            vnet = vnets[(provider, region)]
            refs[(provider, region)] = NetworkRefs(
                provider=provider,
                region=region,
                vnet=name,
                vnet_csp_id=vnet.csp_id,
                subnet_csp_id=vnet.details["subnets"][SHARED_SUBNET.name],
                security_groups=[name],
                security_group_csp_ids=[groups[(provider, region)].csp_id],
                ssh_key=name,
                key_csp_name=key.csp_id,
            )
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

        ready = [n for n in names if self._vms[n].status is not VmStatus.FAILED]
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
                await self._act_on(failed, TargetAction.TERMINATE, wait=False)
                for name in failed:
                    self._vms[name] = replacement(self._vms[name], self._uid)
                self._set_target(TargetAction.CREATE)
                await self._save(self._vms[n] for n in failed)
                await self._create_vms(failed)
        elif self._policy is PartialFailurePolicy.ROLLBACK and self._failed():
            await self._act_on(list(self._vms), TargetAction.TERMINATE, wait=True)
            return McisPhase.FAILED
        return McisPhase.ACTIVE

    # --- operations on a created MCIS -----------------------------------------------------

    async def _run_next_operation(self) -> None:
        record, request = self._queue.pop(0)
        record.state = OperationState.RUNNING
        self._current, self._operation = record, record.kind.value
        try:
            plan = check_operation(
                request, list(self._vms.values()), self._groups, self._name, self._phase
            )
            record.message, record.report = await self._execute(request, plan)
            record.state = OperationState.DONE
        except OperationRefused as exc:
            record.state, record.message = OperationState.REJECTED, str(exc)
        record.ended_at = workflow.now()
        self._operations = [*self._operations, record][-OPERATIONS_KEPT:]
        self._current, self._operation = None, None
        self._status_changed()

    async def _execute(
        self, request: OperationRequest, plan: ActionPlan | None
    ) -> tuple[str, dict[str, list[str]]]:
        kind = request.kind
        if plan is not None and plan.action is Action.REFINE:
            await self._remove(plan.affected)
            return f"removed {len(plan.affected)} failed VMs", {"removed": plan.affected}
        if plan is not None:
            if plan.affected:
                await self._act_on(plan.affected, plan.action.target_action, wait=True)
                await self._save(self._vms[n] for n in plan.affected)
            failed = [n for n in plan.affected if self._vms[n].status is VmStatus.FAILED]
            report = {"affected": plan.affected, "skipped": plan.skipped, "failed": failed}
            return f"{kind.value}: {len(plan.affected)} VMs, {len(failed)} failed", report
        if kind is OperationKind.SCALE_OUT:
            return await self._scale_out(request.group or "", request.count or 0)
        if kind is OperationKind.SCALE_IN:
            scoped = scope_vms(request, list(self._vms.values()), self._name)
            victims = [vm.name for vm in newest_first(scoped)[: request.count]]
            await self._remove(victims)
            return f"removed {len(victims)} VMs", {"removed": victims}
        if kind is OperationKind.REMOVE_VM:
            await self._remove([request.vm or ""])
            return f"removed VM {request.vm}", {"removed": [request.vm or ""]}
        if kind is OperationKind.ADD_GROUP:
            assert request.new_group is not None
            return await self._add_group(request.new_group)
        if kind is OperationKind.RECONCILE:
            return await self._reconcile()
        return await self._refresh()

    async def _scale_out(self, group_name: str, count: int) -> tuple[str, dict[str, list[str]]]:
        group = next(g for g in self._groups if g.name == group_name)
        taken = [vm_index(vm.name) for vm in self._vms.values() if vm.group == group_name]
        added = plan_group(
            self._namespace,
            self._name,
            self._uid,
            group.model_copy(update={"count": count}),
            first_index=max(taken, default=0) + 1,
        )
        return await self._add_vms(group, added, f"added {count} VMs to group {group_name}")

    async def _add_group(self, group: GroupRequest) -> tuple[str, dict[str, list[str]]]:
        self._groups.append(group)
        added = plan_group(self._namespace, self._name, self._uid, group)
        return await self._add_vms(group, added, f"added group {group.name} of {group.count} VMs")

    async def _add_vms(
        self, group: GroupRequest, added: list[VmRecord], message: str
    ) -> tuple[str, dict[str, list[str]]]:
        self._vms.update({vm.name: vm for vm in added})
        self._set_target(TargetAction.CREATE)
        await self._save(added)
        if group.name not in self._networks:
            await self._prepare_networks([group])
        names = [vm.name for vm in added]
        await self._create_vms(names)
        failed = [n for n in names if self._vms[n].status is VmStatus.FAILED]
        return message, {"added": names, "failed": failed}

    async def _remove(self, names: list[str]) -> None:
        """Terminate VMs (waiting until the cloud says so) and drop them from the MCIS."""
        live = [n for n in names if self._vms[n].status is not VmStatus.TERMINATED]
        await self._act_on(live, TargetAction.TERMINATE, wait=True)
        forget = ForgetVmsInput(namespace=self._namespace, mcis=self._name, names=names)
        await run_activity("forget_vms", forget, type(None), STORE)
        for name in names:
            del self._vms[name]
        self._set_target(TargetAction.NONE)  # the removed VMs reached it; the rest never had it

    async def _reconcile(self) -> tuple[str, dict[str, list[str]]]:
        regions = {(vm.provider, vm.region) for vm in self._vms.values()}
        regions |= {(g.provider, g.region) for g in self._groups}
        request = ReconcileInput(
            namespace=self._namespace,
            mcis=self._name,
            uid=self._uid,
            regions=sorted(regions),
            vms=list(self._vms.values()),
        )
        result = await run_activity("reconcile_vms", request, ReconcileResult, CLOUD)
        for vm in [*result.observed, *result.adopted]:
            self._vms[vm.name] = vm
        for name in result.missing:
            self._vms[name] = self._vms[name].model_copy(
                update={
                    "status": VmStatus.UNDEFINED,
                    "native_status": None,
                    "error": "no longer exists at the cloud",
                }
            )
        await self._save(self._vms.values())
        self._status_changed()
        adopted = [vm.name for vm in result.adopted]
        message = f"adopted {len(adopted)} VMs, {len(result.missing)} missing at the cloud"
        return message, {"adopted": adopted, "missing": result.missing}

    async def _refresh(self) -> tuple[str, dict[str, list[str]]]:
        """Read every VM's status from its cloud once."""
        before = {n: vm.status for n, vm in self._vms.items()}
        regions = _by_region(vm for vm in self._vms.values() if vm.csp_id)
        for (provider, region), names in regions.items():
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

        existing = [n for n in names if self._vms[n].csp_id]
        await self._fan_out(existing, act, observe=action if wait else None)

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
        """Rounds of one observation per region with VMs in transition, until none is."""
        limits = self._limits
        deadline = workflow.now() + timedelta(seconds=limits.vm_ready_timeout_s)
        pending = _by_region(
            self._vms[n]
            for n in names
            if self._vms[n].csp_id and self._vms[n].status in TRANSITIONAL
        )
        while pending:
            keys = list(pending)
            results = await asyncio.gather(
                *(
                    run_activity(
                        "observe_vms",
                        self._observe_request(
                            p, r, pending[(p, r)], action, limits.observe_max_wait_s
                        ),
                        list[VmRecord],
                        observe_options(limits.observe_max_wait_s),
                    )
                    for p, r in keys
                ),
                return_exceptions=True,
            )
            for key, result in zip(keys, results, strict=True):
                if isinstance(result, ActivityError):
                    for name in pending[key]:
                        self._fail(name, failure_message(result))
                elif isinstance(result, BaseException):
                    raise result
                else:
                    for vm in result:
                        self._vms[vm.name] = vm
            self._status_changed()
            pending = {
                key: still
                for key, region_names in pending.items()
                if (still := [n for n in region_names if self._vms[n].status in TRANSITIONAL])
            }
            if pending and workflow.now() >= deadline:
                target = TARGET_OF_ACTION[action].value
                for name in (n for region_names in pending.values() for n in region_names):
                    self._fail(name, f"did not reach {target} in {limits.vm_ready_timeout_s:.0f}s")
                self._status_changed()
                return

    def _observe_request(
        self, provider: str, region: str, names: list[str], action: TargetAction, wait_s: float
    ) -> ObserveVmsInput:
        return ObserveVmsInput(
            namespace=self._namespace,
            mcis=self._name,
            uid=self._uid,
            provider=provider,
            region=region,
            vms=[self._vms[n] for n in names],
            action=action,
            poll_interval_s=self._limits.poll_interval_s,
            max_wait_s=wait_s,
        )

    # --- delete -------------------------------------------------------------------------------

    async def _delete(self) -> None:
        self._operation = "deleting"
        await self._set_phase(McisPhase.DELETING)
        live = [n for n, vm in self._vms.items() if vm.status is not VmStatus.TERMINATED]
        await self._act_on(live, TargetAction.TERMINATE, wait=True)
        phase_input = McisPhaseInput(
            namespace=self._namespace, mcis=self._name, phase=McisPhase.DELETED
        )
        await run_activity("forget_mcis", phase_input, type(None), STORE)
        for provider, region in sorted(
            {(g.provider, g.region) for g in self._groups if not g.is_static}
        ):
            ref = SharedNetworkRef(namespace=self._namespace, provider=provider, region=region)
            await run_activity("release_shared_network", ref, bool, CLOUD)
        self._phase = McisPhase.DELETED
        self._operation = None
        self._status_changed()

    # --- state helpers ------------------------------------------------------------------------

    async def _guarded(self, call: Awaitable[NetworkRefs]) -> NetworkRefs | BaseException:
        try:
            return await call
        except ActivityError as exc:
            return exc

    async def _save(self, vms: Iterable[VmRecord]) -> None:
        await run_activity("save_vms", list(vms), type(None), STORE)

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
        self._vms[name] = self._vms[name].model_copy(
            update={"status": VmStatus.FAILED, "error": error}
        )

    def _failed(self) -> list[str]:
        return [n for n, vm in self._vms.items() if vm.status is VmStatus.FAILED]

    def _aggregate(self) -> McisStatus:
        return aggregate(
            [(n, vm.status) for n, vm in self._vms.items()],
            self._target_action,
            self._target_status,
        )

    def _status_changed(self) -> None:
        """Clear the target once reached, and publish the status label as search attribute."""
        if target_reached((vm.status for vm in self._vms.values()), self._target_status):
            self._target_action, self._target_status = TargetAction.NONE, TargetStatus.NONE
        label = "Deleted" if self._phase is McisPhase.DELETED else self._aggregate().label
        if label != self._label:
            self._label = label
            workflow.upsert_search_attributes([MCIS_STATUS.value_set(label)])

    def _snapshot(self) -> McisSnapshot:
        return McisSnapshot(
            uid=self._uid,
            phase=self._phase,
            vms=list(self._vms.values()),
            groups=self._groups,
            target_action=self._target_action,
            target_status=self._target_status,
            networks=self._networks,
            operations=self._operations,
            next_operation_id=self._next_operation_id,
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
        self._label = self._aggregate().label
