"""`mcis reconcile NS NAME` (one MCIS: adopt, report vanished VMs) and `mcis reconcile --all
[--delete-orphans]`: the orphan sweep over every cloud region, run by the sweep workflow
(started by `starter.sweep_service`, shared with the API)."""

from __future__ import annotations

import argparse

from temporalio.client import WorkflowFailureError

from models.failures import failure_message
from models.sweep import SweepReport
from starter import lifecycle_commands, sweep_service
from starter.context import Context
from starter.errors import FAILED, CliError
from starter.output import print_json, print_table, progress
from starter.views import checked_name


async def reconcile(ctx: Context, args: argparse.Namespace) -> int:
    if not args.all:
        if args.delete_orphans:
            raise CliError(
                "--delete-orphans goes with --all: mcis reconcile --all --delete-orphans"
            )
        if args.namespace is None or args.name is None:
            raise CliError("give NS NAME of one MCIS, or --all for the orphan sweep")
        checked_name(args.namespace, "namespace")
        checked_name(args.name, "MCIS name")
        return await lifecycle_commands.reconcile(ctx, args)
    if args.namespace is not None or args.name is not None:
        raise CliError("give either NS NAME or --all, not both")
    if args.force:
        raise CliError("--force applies to one MCIS (NS NAME), not to --all")
    return await sweep(ctx, args.delete_orphans, args.json)


async def sweep(ctx: Context, delete_orphans: bool, as_json: bool) -> int:
    handle = await sweep_service.start_sweep(ctx, delete_orphans)
    if not as_json:
        doing = "sweeping for orphans, deleting them" if delete_orphans else "sweeping for orphans"
        progress(f"{doing}: workflow {handle.id}")
    try:
        report = await handle.result()
    except WorkflowFailureError as exc:
        raise CliError(failure_message(exc), FAILED) from None
    show(report, as_json)
    return FAILED if sweep_service.sweep_failed(report) else 0


def show(report: SweepReport, as_json: bool) -> None:
    if as_json:
        print_json(report)
        return
    print(
        f"{report.regions} regions scanned, {report.tagged} live VMs with mcis tags: "
        f"{len(report.orphans)} orphans, {len(report.unrecorded)} unrecorded, "
        f"{len(report.drift)} MCIS with records of vanished VMs"
    )
    if report.orphans:
        print_table(
            ["CLOUD", "REGION", "CSP_ID", "NAMESPACE", "MCIS", "VM", "STATUS", "REASON", "ACTION"],
            [
                (
                    o.provider,
                    o.region,
                    o.csp_id,
                    o.namespace,
                    o.mcis,
                    o.vm or "-",
                    f"{o.status.value} ({o.native_status})",
                    o.reason,
                    o.action,
                )
                for o in report.orphans
            ],
        )
        if all(o.action == "none" for o in report.orphans):
            print("remove them with: mcis reconcile --all --delete-orphans")
    for vm in report.unrecorded:
        print(
            f"unrecorded: {vm.provider}/{vm.region} {vm.csp_id} ({vm.vm or vm.name}) carries the "
            f"tags of {vm.namespace}/{vm.mcis}: `mcis reconcile {vm.namespace} {vm.mcis}` adopts it"
        )
    for drift in report.drift:
        print(
            f"drift: {drift.namespace}/{drift.mcis} has records of {', '.join(drift.missing)} "
            f"with no VM at the cloud: `mcis reconcile {drift.namespace} {drift.mcis}` marks them"
        )
    for error in report.errors:
        where = error.provider if error.region == "*" else f"{error.provider}/{error.region}"
        print(f"not scanned: {where}: {error.error}")
