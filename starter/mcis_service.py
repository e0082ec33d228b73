"""What the CLI and the REST API both do to an MCIS, without printing or waiting: start its
workflow, send it an operation or its deletion (each accepted at once, answered with the
operation's record), read its status and list a namespace's MCIS. The callers choose how to
show the result (`starter/*_commands.py` print and follow the workflow; `api/native` answer
202 with where to follow it)."""

from __future__ import annotations

import uuid

from pydantic import BaseModel
from temporalio.client import WorkflowHandle, WorkflowUpdateFailedError
from temporalio.common import (
    SearchAttributePair,
    TypedSearchAttributes,
    WorkflowIDConflictPolicy,
    WorkflowIDReusePolicy,
)
from temporalio.exceptions import WorkflowAlreadyStartedError

from models.failures import failure_message, failure_type
from models.lifecycle import OperationKind, OperationRecord
from models.mcis import MAX_VMS_PER_GROUP, GroupRequest, McisRequest, McisView
from models.naming import mcis_workflow_id
from models.operations import McisWorkflowInput, OperationRequest, rebuilt_snapshot
from models.records import McisPhase
from models.status import VmStatus, aggregate
from starter.context import Context
from starter.errors import FAILED, CliError, check_input_size
from starter.output import progress
from starter.policy_service import end_policy
from starter.requests import check_group, request_from_groups
from starter.views import checked_name, is_running, mcis_handle
from starter.watch import query_status
from workflows.mcis import McisWorkflow
from workflows.search_attributes import MCIS_NAME, MCIS_NAMESPACE
from workflows.summaries import mcis_summary

McisHandle = WorkflowHandle[McisWorkflow, McisView]


class OperationRefusedError(CliError):
    """The MCIS's workflow refused an operation or a deletion (busy, being deleted, not allowed
    in its status, an unknown group or VM): `failure_type` says which kind of refusal."""

    def __init__(self, message: str, failure_type: str | None) -> None:
        super().__init__(message)
        self.failure_type = failure_type


class McisSummary(BaseModel):
    """One MCIS of `mcis list`: its phase and status from the store's records."""

    name: str
    phase: str
    status: str
    total: int
    counts: dict[VmStatus, int]
    description: str


def mcis_search_attributes(namespace: str, name: str) -> TypedSearchAttributes:
    return TypedSearchAttributes(
        [SearchAttributePair(MCIS_NAMESPACE, namespace), SearchAttributePair(MCIS_NAME, name)]
    )


async def start_mcis(ctx: Context, namespace: str, request: McisRequest) -> McisHandle:
    """Start the MCIS workflow of a checked request (`requests.check_request`); refused before
    anything starts when its input is too large or the MCIS exists."""
    client = await ctx.client()
    inp = McisWorkflowInput(namespace=namespace, request=request)
    await check_input_size(
        client.data_converter,
        inp,
        f"MCIS request {request.name!r}",
        f"give fewer groups (a group holds up to {MAX_VMS_PER_GROUP:,} VMs)",
    )
    try:
        return await client.start_workflow(
            McisWorkflow.run,
            inp,
            id=mcis_workflow_id(namespace, request.name),
            task_queue=ctx.settings.task_queue,
            id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE,
            id_conflict_policy=WorkflowIDConflictPolicy.FAIL,
            search_attributes=mcis_search_attributes(namespace, request.name),
            static_summary=mcis_summary(
                namespace, request.name, [(g.provider, g.count) for g in request.groups]
            ),
        )
    except WorkflowAlreadyStartedError:
        raise CliError(f"MCIS {request.name!r} already exists in namespace {namespace!r}") from None


async def current_view(handle: McisHandle) -> McisView:
    """The status query's answer, or a clear error when no worker answers."""
    view = await query_status(handle)
    if view is None:
        name = handle.id.rpartition("/")[2]
        raise CliError(f"no worker answered for MCIS {name!r}: is the stack up?", FAILED)
    return view


async def accept_operation(handle: McisHandle, request: OperationRequest) -> OperationRecord:
    """Send an operation to the MCIS's workflow: its record once accepted (queued or running),
    OperationRefusedError saying why when refused."""
    try:
        return await handle.execute_update(McisWorkflow.operate, request)
    except WorkflowUpdateFailedError as exc:
        raise OperationRefusedError(failure_message(exc), failure_type(exc)) from None


async def accept_delete(
    ctx: Context, handle: McisHandle, namespace: str, name: str, force: bool
) -> OperationRecord | None:
    """Ask the MCIS's workflow to delete it and end its policy: the delete's record once
    accepted, OperationRefusedError when refused (busy without `force`, already deleting)."""
    try:
        accepted = await handle.execute_update(McisWorkflow.delete, force)
    except WorkflowUpdateFailedError as exc:
        raise OperationRefusedError(failure_message(exc), failure_type(exc)) from None
    await end_policy(ctx, namespace, name)
    return accepted.operation


async def deletable_handle(ctx: Context, namespace: str, name: str) -> McisHandle:
    """The MCIS's running workflow; for an MCIS the store holds but whose workflow does not run
    (failed, terminated, lost with a Temporal database), a new run rebuilt from the store."""
    checked_name(namespace, "namespace")
    checked_name(name, "MCIS name")
    client = await ctx.client()
    handle = mcis_handle(client, namespace, name)
    if await is_running(handle):
        return handle
    record = ctx.store.get_mcis(namespace, name)
    if record is None or record.phase is McisPhase.DELETED:
        raise CliError(f"MCIS {name!r} not found in namespace {namespace!r}")
    vms = ctx.store.list_vms(namespace, name)
    progress(
        f"MCIS {namespace}/{name} has no running workflow: rebuilt from the store "
        f"({len(vms)} VMs) to delete it"
    )
    snapshot = rebuilt_snapshot(record, vms, epoch=uuid.uuid4().hex[:12])
    request = McisRequest.model_validate(record.request)
    inp = McisWorkflowInput(namespace=namespace, request=request, snapshot=snapshot)
    await check_input_size(client.data_converter, inp, f"MCIS {name!r} rebuilt from the store")
    return await client.start_workflow(
        McisWorkflow.run,
        inp,
        id=mcis_workflow_id(namespace, name),
        task_queue=ctx.settings.task_queue,
        id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE,
        id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
        search_attributes=mcis_search_attributes(namespace, name),
        static_summary=mcis_summary(namespace, name, [(vm.provider, 1) for vm in vms])
        + " · rebuilt from the store",
    )


def list_mcis(ctx: Context, namespace: str) -> list[McisSummary]:
    """Every MCIS of a namespace with its status, from the store."""
    namespace = checked_name(namespace, "namespace")
    if ctx.store.get_namespace(namespace) is None:
        raise CliError(f"namespace {namespace!r} does not exist")
    items = []
    for record in ctx.store.list_mcis(namespace):
        vms = ctx.store.list_vms(namespace, record.name)
        summary = aggregate([(vm.name, vm.status) for vm in vms])
        items.append(
            McisSummary(
                name=record.name,
                phase=record.phase.value,
                status=summary.label,
                total=summary.total,
                counts=summary.counts,
                description=record.description,
            )
        )
    return items


def scale_request(
    kind: OperationKind, group: str, count: int, force: bool, request_id: str | None = None
) -> OperationRequest:
    """A scale-out or scale-in of `count` VMs of `group`."""
    if count < 1:
        raise CliError(f"--count must be 1 or more, got {count}")
    return OperationRequest(kind=kind, group=group, count=count, force=force, request_id=request_id)


def group_from_text(group_name: str, text: str) -> GroupRequest:
    """The group `group_name` of the `SPEC_ID,IMAGE_ID,COUNT` short form (`--group`)."""
    group_name = checked_name(group_name, "group name")
    parsed = request_from_groups(group_name, [text], "", "continue").groups[0]
    return parsed.model_copy(update={"name": group_name})


async def add_group_request(
    ctx: Context,
    namespace: str,
    name: str,
    group: GroupRequest,
    force: bool,
    request_id: str | None = None,
) -> OperationRequest:
    """An add-group of `group`, checked against the catalog and the namespace's resources."""
    checked_name(namespace, "namespace")
    checked_name(name, "MCIS name")
    await check_group(ctx, namespace, group)
    return OperationRequest(
        kind=OperationKind.ADD_GROUP, new_group=group, force=force, request_id=request_id
    )
