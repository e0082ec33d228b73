"""`mcis suspend|resume|reboot|terminate|refine|scale-out|scale-in|add-group|remove-vm|
reconcile`: operations on a created MCIS, sent to its workflow as a validated Update, followed
with progress, ending with the same status object as `mcis status`."""

from __future__ import annotations

import argparse

from temporalio.client import WorkflowUpdateFailedError

from models.lifecycle import OperationKind, OperationState
from models.operations import OperationRequest
from starter.context import Context
from starter.errors import FAILED, CliError
from starter.output import progress
from starter.requests import check_group, request_from_groups
from starter.views import checked_name, running_handle
from starter.watch import show_all, watch
from workflows.failures import failure_message
from workflows.mcis import McisWorkflow


async def run_operation(ctx: Context, args: argparse.Namespace, request: OperationRequest) -> int:
    handle = await running_handle(ctx, args.namespace, args.name)
    try:
        accepted = await handle.execute_update(McisWorkflow.operate, request)
    except WorkflowUpdateFailedError as exc:
        raise CliError(failure_message(exc)) from None
    if not args.json:
        progress(f"{request.kind.value} {request.scope} of {args.namespace}/{args.name}: accepted")
    view = await watch(
        handle, lambda v: any(op.id == accepted.id for op in v.operations), quiet=args.json
    )
    record = next(op for op in view.operations if op.id == accepted.id)
    if record.state is not OperationState.DONE:  # rejected, failed or cancelled: say why
        show_all(ctx, view, args.json)
        raise CliError(f"{request.kind.value} {record.state.value}: {record.message}", FAILED)
    if not args.json:
        progress(f"{request.kind.value} done: {record.message}")
    show_all(ctx, view, args.json)
    return FAILED if record.report.get("failed") else 0


async def action(ctx: Context, args: argparse.Namespace) -> int:
    request = OperationRequest(
        kind=OperationKind(args.command), group=args.group, vm=args.vm, force=args.force
    )
    return await run_operation(ctx, args, request)


async def scale(ctx: Context, args: argparse.Namespace) -> int:
    if args.count < 1:
        raise CliError(f"--count must be 1 or more, got {args.count}")
    request = OperationRequest(
        kind=OperationKind(args.command), group=args.group, count=args.count, force=args.force
    )
    return await run_operation(ctx, args, request)


async def add_group(ctx: Context, args: argparse.Namespace) -> int:
    checked_name(args.namespace, "namespace")
    checked_name(args.name, "MCIS name")
    group_name = checked_name(args.group_name, "group name")
    parsed = request_from_groups(args.name, [args.group], "", "continue").groups[0]
    group = parsed.model_copy(update={"name": group_name})
    await check_group(ctx, args.namespace, group)
    request = OperationRequest(kind=OperationKind.ADD_GROUP, new_group=group, force=args.force)
    return await run_operation(ctx, args, request)


async def remove_vm(ctx: Context, args: argparse.Namespace) -> int:
    request = OperationRequest(kind=OperationKind.REMOVE_VM, vm=args.vm, force=args.force)
    return await run_operation(ctx, args, request)


async def reconcile(ctx: Context, args: argparse.Namespace) -> int:
    request = OperationRequest(kind=OperationKind.RECONCILE, force=args.force)
    return await run_operation(ctx, args, request)
