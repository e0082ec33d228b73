"""`mcis suspend|resume|reboot|terminate|refine|scale-out|scale-in|add-group|remove-vm|
reconcile`: operations on a created MCIS, sent to its workflow as a validated Update, followed
with progress, ending with the same status object as `mcis status`."""

from __future__ import annotations

import argparse

from models.lifecycle import OperationKind, OperationState
from models.operations import OperationRequest
from starter.context import Context
from starter.errors import FAILED, CliError
from starter.mcis_service import (
    accept_operation,
    add_group_request,
    group_from_text,
    scale_request,
)
from starter.output import progress
from starter.views import running_handle
from starter.watch import show_all, watch


async def run_operation(ctx: Context, args: argparse.Namespace, request: OperationRequest) -> int:
    handle = await running_handle(ctx, args.namespace, args.name)
    accepted = await accept_operation(handle, request)
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
    request = scale_request(OperationKind(args.command), args.group, args.count, args.force)
    return await run_operation(ctx, args, request)


async def add_group(ctx: Context, args: argparse.Namespace) -> int:
    group = group_from_text(args.group_name, args.group)
    request = await add_group_request(ctx, args.namespace, args.name, group, args.force)
    return await run_operation(ctx, args, request)


async def remove_vm(ctx: Context, args: argparse.Namespace) -> int:
    request = OperationRequest(kind=OperationKind.REMOVE_VM, vm=args.vm, force=args.force)
    return await run_operation(ctx, args, request)


async def reconcile(ctx: Context, args: argparse.Namespace) -> int:
    request = OperationRequest(kind=OperationKind.RECONCILE, force=args.force)
    return await run_operation(ctx, args, request)
