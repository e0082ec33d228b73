"""Starting an MCIS workflow in the workflow tests and waiting for it."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta
from typing import Any

from temporalio.client import WorkflowHandle, WorkflowUpdateRPCTimeoutOrCancelledError
from temporalio.service import RPCError

from models.lifecycle import OperationRecord
from models.mcis import GroupRequest, McisRequest, McisView, PartialFailurePolicy
from models.naming import mcis_workflow_id
from models.operations import McisLimits, McisWorkflowInput, OperationRequest
from models.records import NamespaceRecord, ResourceKind, ResourceRecord
from tests.workflows.conftest import Harness
from workflows.mcis import McisWorkflow

Handle = WorkflowHandle[McisWorkflow, McisView]

FAST = McisLimits(poll_interval_s=0.01, observe_max_wait_s=2, refine_rounds=2)


def request(name: str, counts: dict[str, int], policy: str = "continue") -> McisRequest:
    groups = [
        GroupRequest(name=f"g-{p}", spec=f"{p}+r1+small", image=f"{p}+r1+ubuntu", count=n)
        for p, n in counts.items()
    ]
    return McisRequest(name=name, groups=groups, on_partial_failure=PartialFailurePolicy(policy))


async def start(h: Harness, req: McisRequest) -> WorkflowHandle[McisWorkflow, McisView]:
    if h.store.get_namespace("ns") is None:
        h.store.create_namespace(NamespaceRecord(name="ns"))
    # The handle is not pinned to the first run: queries and Updates reach the latest run of
    # an MCIS that continued as new.
    return await h.client.start_workflow(
        McisWorkflow.run,
        McisWorkflowInput(namespace="ns", request=req, limits=FAST),
        id=mcis_workflow_id("ns", f"{req.name}-{uuid.uuid4().hex[:6]}"),
        task_queue=h.task_queue,
    )


async def status(handle: Handle) -> McisView:
    """The MCIS's status query. Temporal's time-skipping test server drops a query that meets
    the end of a run continuing as new (the dev server answers it): ask again after a second."""
    for _ in range(30):
        try:
            return await handle.query(McisWorkflow.status, rpc_timeout=timedelta(seconds=1))
        except RPCError:
            await asyncio.sleep(0.02)
    raise AssertionError("the status query was never answered")


async def created(handle: Handle, timeout_s: float = 30.0) -> McisView:
    """Poll the status query until creation has ended."""
    deadline = asyncio.get_running_loop().time() + timeout_s
    while asyncio.get_running_loop().time() < deadline:
        view = await status(handle)
        if view.phase != "creating":
            return view
        await asyncio.sleep(0.02)
    view = await status(handle)
    raise AssertionError(
        f"creation did not end in {timeout_s:.0f}s: {view.display}, {view.operation}"
    )


async def answered(handle: Handle, update: Any, arg: Any) -> Any:
    """Run an Update of the MCIS. The time-skipping test server can drop an Update that meets
    the end of a run continuing as new, as it drops queries: sent again under the same update
    id (Temporal runs an Update id once) until it is answered."""
    update_id = str(uuid.uuid4())
    for _ in range(30):
        try:
            return await handle.execute_update(
                update, arg, id=update_id, rpc_timeout=timedelta(seconds=2)
            )
        except (RPCError, WorkflowUpdateRPCTimeoutOrCancelledError):
            await asyncio.sleep(0.05)
    raise AssertionError(f"{update.__name__} was never answered")


async def request_operation(handle: Handle, request: OperationRequest) -> OperationRecord:
    """The `operate` Update, sent until answered."""
    record: OperationRecord = await answered(handle, McisWorkflow.operate, request)
    return record


async def request_delete(handle: Handle, force: bool = False) -> McisView:
    """The `delete` Update, sent until answered."""
    view: McisView = await answered(handle, McisWorkflow.delete, force)
    return view


async def operate(handle: Handle, **fields: object) -> tuple[OperationRecord, McisView]:
    """Send an operation and wait until it has finished; the record as it ended, and the view."""
    accepted = await request_operation(handle, OperationRequest.model_validate(fields))
    return await finished(handle, accepted.id)


async def finished(
    handle: Handle, operation_id: int, timeout_s: float = 30.0
) -> tuple[OperationRecord, McisView]:
    """Poll the status query until operation `operation_id` has ended; its record and the view."""
    deadline = asyncio.get_running_loop().time() + timeout_s
    while asyncio.get_running_loop().time() < deadline:
        view = await status(handle)
        done = [op for op in view.operations if op.id == operation_id]
        if done:
            return done[0], view
        await asyncio.sleep(0.02)
    raise AssertionError(f"operation {operation_id} did not finish in {timeout_s:.0f}s")


def store_ssh_key(h: Harness, private_key: str) -> None:
    """Namespace `ns` with SSH key resource `key` (aws/r1) holding `private_key`."""
    store = h.store
    store.create_namespace(NamespaceRecord(name="ns"))
    store.put_secret("ssh_key/ns/key", private_key)
    store.upsert_resource(
        ResourceRecord(
            namespace="ns",
            kind=ResourceKind.SSH_KEY,
            name="key",
            provider="aws",
            region="r1",
            csp_id="ns-key",
            secret_ref="ssh_key/ns/key",
        )
    )


async def deleted(handle: Handle) -> McisView:
    await request_delete(handle)
    return await gone(handle)


async def gone(handle: Handle) -> McisView:
    """The MCIS's last view once its deletion ended (polled: the time-skipping server's long
    poll for a result can miss the end of a chain of continued runs)."""
    for _ in range(1500):
        view = await status(handle)
        if view.phase == "deleted":
            return view
        await asyncio.sleep(0.02)
    raise AssertionError("the MCIS was not deleted")
