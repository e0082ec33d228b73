"""A client that skips the pydantic models and sends raw, invalid input (another SDK, a raw dict)
gets its workflow failed at once with one clear, non-retryable line, never a workflow task that
fails forever; an invalid Update argument is rejected. State carried across continue-as-new
that no longer decodes fails the task instead (retried until the release is fixed), so a
long-lived MCIS is never ended by a bad release."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.client import (
    WorkflowExecutionStatus,
    WorkflowFailureError,
    WorkflowUpdateFailedError,
)

from models.failures import failure_message, failure_type
from models.workflow_input import INVALID_INPUT
from tests.workflows.conftest import Harness
from tests.workflows.mcis_helpers import created, request, start

GROUP = {"name": "g", "spec": "aws+r1+small", "image": "aws+r1+ubuntu", "count": 1}
BAD_INPUTS: list[tuple[str, dict[str, Any], str]] = [
    (
        "McisWorkflow",
        {"namespace": "ns", "request": {"name": "web", "groups": [{**GROUP, "count": 10**9}]}},
        "request.groups.0.count: Input should be less than or equal to 1000",
    ),
    (
        "McisWorkflow",
        {"namespace": "Bad NS", "request": {"name": "web", "groups": [GROUP]}},
        "namespace: name 'Bad NS' is invalid",
    ),
    ("McisWorkflow", {"namespace": "ns"}, "request: Field required"),
    (
        "RemoteWorkflow",
        {"query": {"namespace": "ns", "mcis": "web"}, "command": "true", "timeout_s": 1e300},
        "timeout_s: Input should be less than or equal to 86400",
    ),
    (
        "PolicyWorkflow",
        {"namespace": "ns", "mcis": "web", "policy": {"rules": []}},
        "policy.rules: List should have at least 1 item",
    ),
    ("ResourceWorkflow", {}, "give exactly one of vnet, security_group, ssh_key, delete"),
    ("SweepWorkflow", {"delete_orphans": "maybe"}, "delete_orphans: Input should be a valid"),
]


@pytest.mark.parametrize(("workflow", "data", "expected"), BAD_INPUTS)
async def test_a_raw_invalid_input_fails_the_workflow_at_once(
    harness: Harness, workflow: str, data: dict[str, Any], expected: str
) -> None:
    async with harness.worker():
        handle = await harness.client.start_workflow(
            workflow, data, id=f"bad/{uuid.uuid4().hex[:8]}", task_queue=harness.task_queue
        )
        with pytest.raises(WorkflowFailureError) as failed:
            await asyncio.wait_for(handle.result(), 30)
    assert failure_type(failed.value) == INVALID_INPUT
    message = failure_message(failed.value)
    assert (
        message.startswith(f"invalid {workflow.removesuffix('Workflow')}") and expected in message
    )
    assert "\n" not in message
    events = [e.event_type for e in (await handle.fetch_history()).events]
    assert EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED not in events


async def test_an_invalid_update_argument_is_rejected(harness: Harness) -> None:
    async with harness.worker():
        handle = await start(harness, request("upd", {"aws": 1}))
        await created(handle)
        for data, expected in (
            ({"kind": "scale-out", "group": "g-aws", "count": 10**9}, "count: Input should be"),
            ({"kind": "suspend", "vm": "../etc"}, "vm: name '../etc' is invalid"),
            ({"kind": "explode"}, "kind: Input should be"),
        ):
            with pytest.raises(WorkflowUpdateFailedError) as refused:
                await handle.execute_update("operate", data)
            assert expected in failure_message(refused.value)
        assert (await handle.describe()).status == WorkflowExecutionStatus.RUNNING


async def test_carried_state_that_no_longer_decodes_fails_the_task_not_the_mcis(
    harness: Harness,
) -> None:
    data = {
        "namespace": "ns",
        "request": {"name": "web", "groups": [GROUP]},
        "snapshot": {"uid": "u", "phase": "no-such-phase", "vms": [], "groups": []},
    }
    async with harness.worker():
        handle = await harness.client.start_workflow(
            "McisWorkflow",
            data,
            id=f"carried/{uuid.uuid4().hex[:8]}",
            task_queue=harness.task_queue,
        )
        for _ in range(100):
            events = [e.event_type for e in (await handle.fetch_history()).events]
            if EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED in events:
                break
            await asyncio.sleep(0.05)
        assert EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED in events
        assert (await handle.describe()).status == WorkflowExecutionStatus.RUNNING
        await handle.terminate("test over")
