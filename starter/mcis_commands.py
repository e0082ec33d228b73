"""`mcis create|status|list|delete`: MCIS creation and deletion through the MCIS workflow."""

from __future__ import annotations

import argparse

from models.lifecycle import OperationKind
from models.mcis import McisRequest, McisView
from models.operations import OperationRequest
from models.records import McisPhase
from starter.context import Context
from starter.errors import FAILED, CliError
from starter.lifecycle_commands import run_operation
from starter.mcis_service import accept_delete, current_view, deletable_handle, start_mcis
from starter.mcis_service import list_mcis as service_list
from starter.output import print_json, print_table, progress
from starter.placement_commands import recommended_request
from starter.requests import check_request, load_request_file, request_from_groups
from starter.views import checked_name, running_handle
from starter.watch import show_all, watch


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
    handle = await start_mcis(ctx, namespace, request)
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
    show_all(ctx, await current_view(handle), args.json)
    return 0


async def list_mcis(ctx: Context, args: argparse.Namespace) -> int:
    items = service_list(ctx, args.namespace)
    if args.json:
        print_json(items)
    else:
        print_table(
            ["NAME", "PHASE", "STATUS", "VMS", "DESCRIPTION"],
            [(i.name, i.phase, i.status, i.total, i.description) for i in items],
        )
    return 0


async def delete(ctx: Context, args: argparse.Namespace) -> int:
    """Delete an MCIS in any state: one whose workflow failed, was terminated or is gone in
    Temporal is first rebuilt from the store's records. Exits non-zero, the MCIS kept, when
    some VMs could not be terminated (the reason is printed)."""
    handle = await deletable_handle(ctx, args.namespace, args.name)
    accepted = await accept_delete(ctx, handle, args.namespace, args.name, args.force)
    if not args.json:
        progress(f"deleting MCIS {args.namespace}/{args.name}")
    delete_id = accepted.id if accepted else None

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
