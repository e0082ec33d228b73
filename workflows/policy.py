"""The policy workflow: one durable state machine per auto-controlled MCIS (id
`policy/NS/NAME`): Ready -> Checking -> Detected -> Operating -> Stabilizing -> Ready, and Failed.
A timer between samples, an activity to sample, the MCIS workflow's own Update to act (with a
request id, so an action in progress completes exactly once across any restart), the added VMs
provisioned by a child remote workflow, continue-as-new to keep history bounded. It ends (Ended,
with the reason in its status) when deleted, or at the check that finds its MCIS gone: deleted,
or another MCIS created anew under that name (a new uid)."""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.exceptions import ActivityError, ChildWorkflowError

from models.apps import APPS
from models.failures import failure_message, failure_type
from models.lifecycle import OperationKind, OperationRecord, OperationState
from models.naming import vm_group
from models.operations import OperationRequest
from models.policy import (
    MCIS_GONE,
    ActionKind,
    Decision,
    McisOperationCall,
    Metric,
    MetricsQuery,
    MetricsSample,
    Policy,
    PolicyCarry,
    PolicyState,
    PolicyView,
    PolicyWorkflowInput,
    choose_action,
    cooldown_end,
)
from models.remote import RemoteWorkflowInput, TargetQuery
from workflows.options import ActivityOptions, retry_policy, run_activity
from workflows.remote import RemoteWorkflow
from workflows.summaries import policy_details

CHECKS_PER_RUN = 200
"""Samples one run takes before it continues as new (history stays a few thousand events)."""
DECISIONS_KEPT = 50
SAMPLE = ActivityOptions(timedelta(seconds=60), timedelta(seconds=20), retry_policy(attempts=3))
OPERATE = ActivityOptions(timedelta(hours=2), timedelta(seconds=30), retry_policy())
ENDS_WITH_ITS_MCIS = "policy-ends-with-its-mcis"
"""Patch: a policy ends when its MCIS is gone, and an end during a check is never lost to a
continue-as-new (before: it failed at every check; a delete then could be dropped)."""
DELETED = "deleted"

_KIND = {
    ActionKind.SCALE_OUT: OperationKind.SCALE_OUT,
    ActionKind.SCALE_IN: OperationKind.SCALE_IN,
    ActionKind.SUSPEND: OperationKind.SUSPEND,
    ActionKind.RESUME: OperationKind.RESUME,
    ActionKind.REPLACE: OperationKind.REFINE,
}


def policy_workflow_id(namespace: str, mcis: str) -> str:
    return f"policy/{namespace}/{mcis}"


@workflow.defn(name="PolicyWorkflow")
class PolicyWorkflow:
    @workflow.init
    def __init__(self, inp: PolicyWorkflowInput) -> None:
        """The state from the input, before any handler runs: a pause that reaches the first
        task of a continued run changes the carried state instead of being overwritten."""
        self._namespace, self._mcis = inp.namespace, inp.mcis
        self._policy: Policy | None = inp.policy
        self._carry = inp.carry or PolicyCarry(uid="")
        self._state_now = PolicyState.READY
        self._last_sample: MetricsSample | None = None
        self._last_error: str | None = None
        self._mcis_uid: str | None = inp.mcis_uid
        self._ended: str | None = None  # why it ends, once it does

    @workflow.run
    async def run(self, inp: PolicyWorkflowInput) -> PolicyView:
        if inp.carry is None:
            self._carry = self._carry.model_copy(update={"uid": str(workflow.uuid4())})
        checks_this_run = 0
        while self._ended is None:
            if self._carry.paused:
                await workflow.wait_condition(
                    lambda: not self._carry.paused or self._ended is not None
                )
                continue
            self._state = PolicyState.READY
            interval = timedelta(seconds=inp.policy.sample_interval_s)
            if await self._wait_or_interrupted(interval):
                continue
            await self._check()
            checks_this_run += 1
            if self._ended is not None and workflow.patched(ENDS_WITH_ITS_MCIS):
                break
            if checks_this_run >= CHECKS_PER_RUN or workflow.info().is_continue_as_new_suggested():
                await workflow.wait_condition(workflow.all_handlers_finished)
                self._carry.runs += 1
                workflow.continue_as_new(inp.model_copy(update={"carry": self._carry}))
        self._state = PolicyState.ENDED
        return self.status()

    @property
    def _state(self) -> PolicyState:
        return self._state_now

    @_state.setter
    def _state(self, state: PolicyState) -> None:
        """Each change of state is the workflow's current details in the Temporal UI."""
        self._state_now = state
        last = self._carry.decisions[-1] if self._carry.decisions else None
        decision = (
            f"#{last.seq} {last.action.kind.value} {last.count} ({last.condition})"
            + (f": {last.outcome}" if last.outcome else "")
            if last
            else None
        )
        workflow.set_current_details(
            policy_details(
                state.value,
                f"{self._namespace}/{self._mcis}",
                self._carry.checks,
                decision,
                self._last_error,
            )
        )

    # --- queries and updates ------------------------------------------------------------------

    @workflow.query
    def status(self) -> PolicyView:
        assert self._policy is not None
        return PolicyView(
            namespace=self._namespace,
            mcis=self._mcis,
            state=self._state,
            paused=self._carry.paused,
            policy=self._policy,
            samples=self._carry.samples,
            last_sample=self._last_sample,
            decisions=self._carry.decisions,
            cooldown_until=self._carry.cooldown_until,
            checks=self._carry.checks,
            runs=self._carry.runs,
            last_error=self._last_error,
            ended=self._ended if self._state is PolicyState.ENDED else None,
        )

    @workflow.update
    def pause(self) -> PolicyView:
        self._carry.paused = True
        return self.status()

    @workflow.update
    def resume(self) -> PolicyView:
        self._carry.paused = False
        return self.status()

    @workflow.update
    def delete(self, reason: str = DELETED) -> PolicyView:
        """End the policy (after an action in progress has completed), for `reason`."""
        self._ended = self._ended or reason
        return self.status()

    # --- the state machine --------------------------------------------------------------------

    async def _wait_or_interrupted(self, interval: timedelta) -> bool:
        """Sleep one sample interval; True if paused or deleted meanwhile."""
        try:
            await workflow.wait_condition(
                lambda: self._carry.paused or self._ended is not None, timeout=interval
            )
        except TimeoutError:
            return False
        return True

    async def _check(self) -> None:
        assert self._policy is not None
        policy, carry = self._policy, self._carry
        self._state = PolicyState.CHECKING
        try:
            sample = await run_activity(
                "collect_metrics",
                MetricsQuery(namespace=self._namespace, mcis=self._mcis, mcis_uid=self._mcis_uid),
                MetricsSample,
                SAMPLE,
            )
        except ActivityError as exc:
            if not self._ends_if_gone(exc):
                self._failed(f"sampling failed: {failure_message(exc)}")
            return
        carry.checks += 1
        self._last_sample = sample
        for metric in Metric:
            if metric in sample.values:
                history = [*carry.samples.get(metric, []), sample.values[metric]]
                carry.samples[metric] = history[-policy.history_length :]
        now = workflow.now()
        choice = choose_action(policy, carry.samples, sample.vm_count, now, carry.cooldown_until)
        if choice is None:
            self._state = PolicyState.READY
            return
        rule_index, count = choice
        rule = policy.rules[rule_index]
        decision = Decision(
            seq=carry.next_seq,
            at=now,
            rule=rule_index,
            condition=rule.condition.text,
            action=rule.action,
            count=count,
        )
        carry.next_seq += 1
        carry.decisions = [*carry.decisions, decision][-DECISIONS_KEPT:]
        self._state = PolicyState.DETECTED
        await self._operate(decision)
        self._state = PolicyState.STABILIZING
        carry.samples = {}
        carry.cooldown_until = cooldown_end(policy, workflow.now())
        self._state = PolicyState.READY

    async def _operate(self, decision: Decision) -> None:
        self._state = PolicyState.OPERATING
        action = decision.action
        kind = _KIND[action.kind]
        group = action.group if kind in (OperationKind.SCALE_OUT, OperationKind.SCALE_IN) else None
        request = OperationRequest(
            kind=kind,
            group=group,
            count=decision.count if group is not None else None,
            request_id=self._request_id(decision.seq),
        )
        try:
            record = await self._run_operation(request)
            if action.kind is ActionKind.REPLACE:
                record = await self._replace(decision, record)
            decision.outcome = f"{record.state.value}: {record.message}"
            added = record.report.get("added", [])
            if added and record.state is OperationState.DONE:
                decision.outcome += await self._provision(decision, added)
        except (ActivityError, ChildWorkflowError) as exc:
            decision.outcome = f"failed: {failure_message(exc)}"
            if not self._ends_if_gone(exc):
                self._failed(decision.outcome)

    async def _replace(self, decision: Decision, refined: OperationRecord) -> OperationRecord:
        """After a refine, create as many VMs in each group as it removed."""
        removed = refined.report.get("removed", [])
        groups = sorted({vm_group(name) for name in removed})
        record = refined
        for index, group in enumerate(groups):
            count = sum(vm_group(name) == group for name in removed)
            request = OperationRequest(
                kind=OperationKind.SCALE_OUT,
                group=group,
                count=count,
                request_id=f"{self._request_id(decision.seq)}-{index + 1}",
            )
            record = await self._run_operation(request)
        return record

    async def _run_operation(self, request: OperationRequest) -> OperationRecord:
        call = McisOperationCall(namespace=self._namespace, mcis=self._mcis, request=request)
        return await run_activity("run_mcis_operation", call, OperationRecord, OPERATE)

    async def _provision(self, decision: Decision, added: list[str]) -> str:
        """Deploy the action's app and run its post-commands on the VMs it added."""
        action = decision.action
        commands = ([APPS[action.deploy]] if action.deploy else []) + action.post_commands
        for index, command in enumerate(commands):
            results = await workflow.execute_child_workflow(
                RemoteWorkflow.run,
                RemoteWorkflowInput(
                    query=TargetQuery(namespace=self._namespace, mcis=self._mcis, vms=added),
                    command=command,
                ),
                id=f"{self._request_id(decision.seq)}-post-{index + 1}",
            )
            failed = [r.vm for r in results if r.exit_code != 0]
            if failed:
                return f"; post-command {index + 1} failed on {', '.join(failed)}"
        return f"; provisioned {', '.join(added)}" if commands else ""

    def _request_id(self, seq: int) -> str:
        return f"policy/{self._namespace}/{self._mcis}/{self._carry.uid}/{seq}"

    def _ends_if_gone(self, exc: ActivityError | ChildWorkflowError) -> bool:
        """End the policy when `exc` says its MCIS is gone; True if so."""
        if failure_type(exc) != MCIS_GONE or not workflow.patched(ENDS_WITH_ITS_MCIS):
            return False
        self._ended = failure_message(exc)
        workflow.logger.info("policy %s/%s ends: %s", self._namespace, self._mcis, self._ended)
        return True

    def _failed(self, error: str) -> None:
        self._state = PolicyState.FAILED
        self._last_error = error
        workflow.logger.warning("policy %s/%s: %s", self._namespace, self._mcis, error)
