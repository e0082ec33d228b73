"""`mcis create|status|list|delete`: MCIS creation and deletion through the MCIS workflow."""

from __future__ import annotations

import argparse
import uuid

from temporalio.client import WorkflowHandle, WorkflowUpdateFailedError
from temporalio.common import (
    SearchAttributePair,
    TypedSearchAttributes,
    WorkflowIDConflictPolicy,
    WorkflowIDReusePolicy,
)
from temporalio.exceptions import WorkflowAlreadyStartedError

from models.lifecycle import OperationKind
from models.mcis import MAX_VMS_PER_GROUP, McisRequest, McisView
from models.naming import mcis_workflow_id
from models.operations import McisWorkflowInput, OperationRequest, rebuilt_snapshot
from models.records import McisPhase
from models.status import aggregate
from starter.context import Context
from starter.errors import FAILED, CliError, check_input_size
from starter.lifecycle_commands import run_operation
from starter.output import print_json, print_table, progress
from starter.placement_commands import recommended_request
from starter.requests import check_request, load_request_file, request_from_groups
from starter.views import checked_name, is_running, running_handle
from starter.watch import query_status, show_all, watch
from workflows.failures import failure_message
from workflows.mcis import McisWorkflow
from workflows.search_attributes import MCIS_NAME, MCIS_NAMESPACE


async def create(ctx: Context, args: argparse.Namespace) -> int:
    namespace = checked_name(args.namespace, "namespace")
    if getattr(args, "recommend", False):
        planned = await recommended_request(ctx, args, namespace)
        return 0 if planned is None else await create_request(ctx, args, namespace, planned)
    if args.file:
        if args.name or args.group:
            raise CliError("give either -f FILE or NAME --group ..., not both")
        request = load_request_file(args.file)
    else:
        if not args.name:
            raise CliError("give the MCIS name (or -f FILE)")
        request = request_from_groups(
            checked_name(args.name, "MCIS name"), args.group or [], args.description, args.policy
        )
    await check_request(ctx, namespace, request)
    return await create_request(ctx, args, namespace, request)


async def create_request(
    ctx: Context, args: argparse.Namespace, namespace: str, request: McisRequest
) -> int:
    """Start the MCIS workflow of a checked request, then wait for it (unless --no-wait)."""
    client = await ctx.client()
    inp = McisWorkflowInput(namespace=namespace, request=request)
    await check_input_size(
        client.data_converter,
        inp,
        f"MCIS request {request.name!r}",
        f"give fewer groups (a group holds up to {MAX_VMS_PER_GROUP:,} VMs)",
    )
    try:
        handle = await client.start_workflow(
            McisWorkflow.run,
            inp,
            id=mcis_workflow_id(namespace, request.name),
            task_queue=ctx.settings.task_queue,
            id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE,
            id_conflict_policy=WorkflowIDConflictPolicy.FAIL,
            search_attributes=mcis_search_attributes(namespace, request.name),
        )
    except WorkflowAlreadyStartedError:
        raise CliError(f"MCIS {request.name!r} already exists in namespace {namespace!r}") from None
    total = sum(g.count for g in request.groups)
    if args.no_wait:
        if args.json:
            print_json({"workflow_id": handle.id, "run_id": handle.result_run_id})
        else:
            print(f"creating MCIS {namespace}/{request.name} ({total} VMs): {handle.id}")
        return 0
    if not args.json:
        progress(f"creating MCIS {namespace}/{request.name}: {total} VMs, workflow {handle.id}")
    view = await watch(handle, lambda v: v.phase != "creating", quiet=args.json)
    show_all(ctx, view, args.json)
    return 0 if view.phase == "active" and not view.failed_vms else FAILED


async def status(ctx: Context, args: argparse.Namespace) -> int:
    if args.refresh:
        return await run_operation(ctx, args, OperationRequest(kind=OperationKind.REFRESH))
    handle = await running_handle(ctx, args.namespace, args.name)
    view = await query_status(handle)
    if view is None:
        raise CliError(f"no worker answered for MCIS {args.name!r}: is the stack up?", FAILED)
    show_all(ctx, view, args.json)
    return 0


async def list_mcis(ctx: Context, args: argparse.Namespace) -> int:
    namespace = checked_name(args.namespace, "namespace")
    if ctx.store.get_namespace(namespace) is None:
        raise CliError(f"namespace {namespace!r} does not exist")
    items = []
    for record in ctx.store.list_mcis(namespace):
        vms = ctx.store.list_vms(namespace, record.name)
        summary = aggregate([(vm.name, vm.status) for vm in vms])
        items.append(
            {
                "name": record.name,
                "phase": record.phase.value,
                "status": summary.label,
                "total": summary.total,
                "counts": {k.value: v for k, v in summary.counts.items()},
                "description": record.description,
            }
        )
    if args.json:
        print_json(items)
    else:
        print_table(
            ["NAME", "PHASE", "STATUS", "VMS", "DESCRIPTION"],
            [(i["name"], i["phase"], i["status"], i["total"], i["description"]) for i in items],
        )
    return 0


async def delete(ctx: Context, args: argparse.Namespace) -> int:
    """Delete an MCIS in any state: one whose workflow failed, was terminated or is gone in
    Temporal is first rebuilt from the store's records. Exits non-zero, the MCIS kept, when
    some VMs could not be terminated (the reason is printed)."""
    handle = await deletable_handle(ctx, args.namespace, args.name)
    try:
        accepted = await handle.execute_update(McisWorkflow.delete, args.force)
    except WorkflowUpdateFailedError as exc:
        raise CliError(failure_message(exc)) from None
    from starter.policy_commands import end_policy

    await end_policy(ctx, args.namespace, args.name)
    if not args.json:
        progress(f"deleting MCIS {args.namespace}/{args.name}")
    delete_id = accepted.operation.id if accepted.operation else None

    def ended(view: McisView) -> bool:
        return any(op.id == delete_id and op.finished for op in view.operations)

    view = await watch(handle, ended, quiet=args.json)
    record = next((op for op in view.operations if op.id == delete_id), None)
    if view.phase != McisPhase.DELETED.value:
        show_all(ctx, view, args.json)
        why = record.message if record else "it was not deleted"
        raise CliError(f"delete of MCIS {args.name!r} failed: {why}", FAILED)
    if args.json:
        print_json(view)  # a large MCIS's rows are gone from the store: `vms_listed` false
    else:
        print(f"deleted MCIS {args.namespace}/{args.name}: {view.total} VMs terminated")
        for kept in record.message.split("; ")[1:] if record else []:
            progress(kept)  # a shared network that could not be released
    return 0


async def deletable_handle(
    ctx: Context, namespace: str, name: str
) -> WorkflowHandle[McisWorkflow, McisView]:
    """The MCIS's running workflow; for an MCIS the store holds but whose workflow does not run
    (failed, terminated, lost with a Temporal database), a new run rebuilt from the store."""
    checked_name(namespace, "namespace")
    checked_name(name, "MCIS name")
    client = await ctx.client()
    handle = client.get_workflow_handle_for(McisWorkflow.run, mcis_workflow_id(namespace, name))
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
    )


def mcis_search_attributes(namespace: str, name: str) -> TypedSearchAttributes:
    return TypedSearchAttributes(
        [SearchAttributePair(MCIS_NAMESPACE, namespace), SearchAttributePair(MCIS_NAME, name)]
    )
