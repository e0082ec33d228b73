"""The policy state machine under the time-skipping server: 30 simulated days of hourly samples,
actions exactly where a condition holds over its period outside the cool-down, history bounded
by continue-as-new; and, with the real MCIS workflow, a worker restart while Operating still
gives exactly one scale-out, and a policy ends with its MCIS (deleted, re-created, never there)
at its next check, saying why."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import pytest
from temporalio import activity
from temporalio.client import WorkflowHandle
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from activities.autocontrol import AutoControlActivities
from activities.registry import all_activities
from models.lifecycle import OperationKind, OperationRecord, OperationState
from models.policy import (
    McisOperationCall,
    Metric,
    MetricsQuery,
    MetricsSample,
    PolicyState,
    PolicyView,
    PolicyWorkflowInput,
    seed_demo_policy,
)
from models.status import VmStatus
from tests.conftest import venv_binary
from tests.workflows.conftest import Harness
from tests.workflows.mcis_helpers import created, request, start, status
from workflows.mcis import McisWorkflow
from workflows.policy import PolicyWorkflow
from workflows.registry import ALL_WORKFLOWS, workflow_runner

HOUR = timedelta(hours=1)
DAYS = 30


def cpu_at(at: datetime, started: datetime) -> float:
    """High load for the first 6 hours of each simulated day, low for the rest."""
    hour = int((at - started) / HOUR) % 24
    return 90.0 if hour < 6 else 30.0


@dataclass
class SimulatedMcis:
    started: datetime | None = None  # the policy's start: one interval before the first sample
    vm_count: int = 3
    samples: list[tuple[datetime, float, int]] = field(default_factory=list)
    actions: list[tuple[int, OperationKind, int]] = field(default_factory=list)  # sample index
    seen_requests: set[str] = field(default_factory=set)

    @activity.defn(name="collect_metrics")
    async def collect_metrics(self, query: MetricsQuery) -> MetricsSample:
        at = activity.info().current_attempt_scheduled_time
        self.started = self.started or at - HOUR
        cpu = cpu_at(at, self.started)
        self.samples.append((at, cpu, self.vm_count))
        return MetricsSample(at=at, vm_count=self.vm_count, values={Metric.CPU: cpu})

    @activity.defn(name="run_mcis_operation")
    async def run_mcis_operation(self, call: McisOperationCall) -> OperationRecord:
        request = call.request
        assert request.request_id and request.count
        if request.request_id not in self.seen_requests:
            self.seen_requests.add(request.request_id)
            sign = 1 if request.kind is OperationKind.SCALE_OUT else -1
            self.vm_count += sign * request.count
            self.actions.append((len(self.samples) - 1, request.kind, request.count))
        return OperationRecord(
            id=len(self.actions),
            kind=request.kind,
            scope="group web",
            state=OperationState.DONE,
            message="ok",
        )


def expected_actions(
    samples: list[tuple[datetime, float, int]], cooldown: timedelta, floor: int, ceiling: int
) -> list[tuple[int, OperationKind, int]]:
    """Re-derive from the recorded samples where the seed policy must act."""
    actions: list[tuple[int, OperationKind, int]] = []
    window: list[float] = []
    quiet_until: datetime | None = None
    for index, (at, cpu, vms) in enumerate(samples):
        window.append(cpu)
        if len(window) < 3 or (quiet_until is not None and at < quiet_until):
            continue
        mean = sum(window[-3:]) / 3
        if mean >= 80 and vms < ceiling:
            actions.append((index, OperationKind.SCALE_OUT, 1))
        elif mean <= 60 and vms > floor:
            actions.append((index, OperationKind.SCALE_IN, 1))
        else:
            continue
        window, quiet_until = [], at + cooldown
    return actions


@pytest.fixture
async def private_env() -> AsyncIterator[WorkflowEnvironment]:
    """A time-skipping server of its own: skipping 30 days must not drag along the long-lived
    workflows other tests left in the shared one."""
    environment = await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=venv_binary("temporal-test-server"),
        data_converter=pydantic_data_converter,
    )
    yield environment
    await environment.shutdown()


async def test_thirty_days_of_samples(private_env: WorkflowEnvironment) -> None:
    env = private_env
    task_queue = f"policy-{uuid.uuid4()}"
    policy = seed_demo_policy("web", floor=2).model_copy(
        update={"sample_interval_s": 3600, "cooldown_s": 4 * 3600, "max_vms": 5}
    )
    sim = SimulatedMcis()
    async with Worker(
        env.client,
        task_queue=task_queue,
        workflows=ALL_WORKFLOWS,
        activities=[sim.collect_metrics, sim.run_mcis_operation],
        workflow_runner=workflow_runner(),
    ):
        handle = await env.client.start_workflow(
            PolicyWorkflow.run,
            PolicyWorkflowInput(namespace="ns", mcis="sim", policy=policy),
            id=f"policy/ns/sim-{uuid.uuid4().hex[:6]}",
            task_queue=task_queue,
        )
        await env.sleep(timedelta(days=DAYS, hours=2))  # the server skips time, work runs
        view: PolicyView = await handle.query(PolicyWorkflow.status)
        await handle.execute_update(PolicyWorkflow.delete)
        final = await handle.result()
    assert (final.state, final.ended) == (PolicyState.ENDED, "deleted")
    samples = sim.samples[: DAYS * 24]
    assert samples[-1][0] - samples[0][0] >= timedelta(days=DAYS - 1)
    actual = [a for a in sim.actions if a[0] < len(samples)]
    expected = expected_actions(samples, timedelta(hours=4), floor=2, ceiling=5)
    assert actual == expected
    assert {kind for _, kind, _ in actual} == {OperationKind.SCALE_OUT, OperationKind.SCALE_IN}
    assert len(actual) >= DAYS  # it acted every simulated day
    assert view.runs >= DAYS * 24 // 200  # continue-as-new kept each run's history bounded
    history = await env.client.get_workflow_handle(handle.id).fetch_history()
    assert len(history.events) < 4000


async def test_an_operation_retried_after_a_crash_scales_out_once(harness: Harness) -> None:
    """A worker that dies while Operating loses the activity's result; Temporal runs the activity
    again. Here the first attempt dies right after the MCIS accepted the scale-out (the real
    kill -9 of a worker is in tests/e2e); the retry must not scale out a second time."""
    attempts: list[int] = []
    real_operation = AutoControlActivities(harness.deps).run_mcis_operation

    @activity.defn(name="run_mcis_operation")
    async def crashing_once(call: McisOperationCall) -> OperationRecord:
        attempts.append(activity.info().attempt)
        if activity.info().attempt == 1:
            handle = harness.client.get_workflow_handle(f"mcis/{call.namespace}/{call.mcis}")
            await handle.execute_update("operate", call.request, id=call.request.request_id)
            raise RuntimeError("worker died after the update was accepted")
        return await real_operation(call)

    @activity.defn(name="collect_metrics")
    async def busy_vms(query: MetricsQuery) -> MetricsSample:
        return MetricsSample(
            at=activity.info().current_attempt_scheduled_time, vm_count=2, values={Metric.CPU: 95.0}
        )

    demo = seed_demo_policy("g-aws", floor=1)
    no_deploy = demo.rules[0].model_copy(
        update={"action": demo.rules[0].action.model_copy(update={"deploy": None})}
    )
    policy = demo.model_copy(
        update={"sample_interval_s": 1, "max_vms": 3, "rules": [no_deploy, demo.rules[1]]}
    )
    names = {"run_mcis_operation", "collect_metrics"}
    real = [a for a in all_activities(harness.deps) if getattr(a, "__name__", "") not in names]
    async with Worker(
        harness.client,
        task_queue=harness.task_queue,
        workflows=ALL_WORKFLOWS,
        activities=[*real, crashing_once, busy_vms],
        workflow_runner=workflow_runner(),
    ):
        mcis = await start(harness, request("auto", {"aws": 2}))
        await created(mcis)
        handle = await harness.client.start_workflow(
            PolicyWorkflow.run,
            PolicyWorkflowInput(namespace="ns", mcis=mcis.id.split("/")[-1], policy=policy),
            id=f"policy/ns/auto-{uuid.uuid4().hex[:6]}",
            task_queue=harness.task_queue,
        )
        for _ in range(600):
            view = await handle.query(PolicyWorkflow.status)
            if view.decisions and view.decisions[0].outcome:
                break
            await asyncio.sleep(0.05)
        mcis_view = await status(mcis)
        await handle.execute_update(PolicyWorkflow.delete)
    assert attempts == [1, 2]
    assert view.decisions[0].outcome.startswith("done: added 1 VMs")
    assert [op.kind for op in mcis_view.operations] == ["create", "scale-out"]
    assert len(harness.cloud.vms) == 3
    assert [vm.status for vm in mcis_view.vms] == [VmStatus.RUNNING] * 3


async def start_policy(
    harness: Harness, mcis: str, mcis_uid: str | None
) -> WorkflowHandle[PolicyWorkflow, PolicyView]:
    """The seed's policy sampling every second for MCIS `mcis` of namespace ns."""
    policy = seed_demo_policy("g-aws", floor=1).model_copy(update={"sample_interval_s": 1})
    return await harness.client.start_workflow(
        PolicyWorkflow.run,
        PolicyWorkflowInput(namespace="ns", mcis=mcis, policy=policy, mcis_uid=mcis_uid),
        id=f"policy/ns/{mcis}",
        task_queue=harness.task_queue,
    )


async def test_a_policy_ends_at_its_next_check_once_its_mcis_is_deleted(harness: Harness) -> None:
    async with harness.worker():
        mcis = await start(harness, request("doomed", {"aws": 1}))
        view = await created(mcis)
        name = mcis.id.split("/")[-1]
        policy = await start_policy(harness, name, view.uid)
        await mcis.execute_update(McisWorkflow.delete, False)
        await mcis.result()
        ended = await asyncio.wait_for(policy.result(), timeout=60)
    assert ended.state is PolicyState.ENDED
    # it saw the deletion under way or done, depending on when its check came
    assert ended.ended in (
        f"MCIS {name!r} of namespace 'ns' is being deleted",
        f"MCIS {name!r} of namespace 'ns' was deleted",
    )
    assert ended.decisions == []


async def test_a_policy_of_an_earlier_mcis_of_that_name_leaves_the_new_one_alone(
    harness: Harness,
) -> None:
    async with harness.worker():
        mcis = await start(harness, request("reborn", {"aws": 1}))
        view = await created(mcis)
        name = mcis.id.split("/")[-1]
        policy = await start_policy(harness, name, "uid-of-the-deleted-one")
        ended = await asyncio.wait_for(policy.result(), timeout=60)
        after = await status(mcis)
    assert ended.state is PolicyState.ENDED
    assert ended.ended == (
        f"MCIS {name!r} of namespace 'ns' is another one now, deleted and created anew "
        f"(uid {view.uid}; this policy was for uid-of-the-deleted-one)"
    )
    assert after.operations == view.operations  # it did not act on the new MCIS


async def test_a_policy_of_an_mcis_that_never_existed_ends(harness: Harness) -> None:
    async with harness.worker():
        policy = await start_policy(harness, f"ghost-{uuid.uuid4().hex[:6]}", None)
        ended = await asyncio.wait_for(policy.result(), timeout=60)
    assert ended.state is PolicyState.ENDED
    assert ended.ended == f"MCIS {ended.mcis!r} of namespace 'ns' does not exist"


async def test_a_policy_deleted_with_a_reason_ends_with_it(harness: Harness) -> None:
    async with harness.worker():
        mcis = await start(harness, request("kept", {"aws": 1}))
        view = await created(mcis)
        policy = await start_policy(harness, mcis.id.split("/")[-1], view.uid)
        await policy.execute_update(PolicyWorkflow.delete, "MCIS 'kept' was deleted")
        ended = await policy.result()
    assert (ended.state, ended.ended) == (PolicyState.ENDED, "MCIS 'kept' was deleted")
