"""`mcis localcloud vms|fault|timing|doctor`: look inside the local cloud and steer it (faults
to inject, lifecycle durations), find and remove what its real VMs left behind."""

from __future__ import annotations

import argparse

from drivers.errors import CloudError
from starter.context import Context
from starter.errors import FAILED, CliError
from starter.output import print_json, print_table


def _tags(pairs: list[str]) -> dict[str, str]:
    tags = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise CliError(f"--tag {pair!r}: expected KEY=VALUE")
        tags[key] = value
    return tags


def _rate(value: float, flag: str) -> float:
    if not 0.0 <= value <= 1.0:
        raise CliError(f"{flag} must be between 0 and 1, got {value}")
    return value


async def vms(ctx: Context, args: argparse.Namespace) -> int:
    try:
        found = await ctx.admin.vms(_tags(args.tag))
    except CloudError as exc:
        raise CliError(exc.message, FAILED) from None
    if args.json:
        print_json(found)
    else:
        print_table(
            ["ID", "CLOUD", "REGION", "NATIVE", "IP", "MCIS", "VM"],
            [
                (
                    vm.csp_id,
                    vm.provider,
                    vm.region,
                    vm.native_status,
                    vm.public_ip or "-",
                    vm.tags.get("mcis-name", "-"),
                    vm.tags.get("mcis-vm", "-"),
                )
                for vm in found
            ],
        )
    return 0


async def fault(ctx: Context, args: argparse.Namespace) -> int:
    try:
        if args.clear:
            await ctx.admin.clear_faults()
        else:
            if args.quota is not None and args.quota < 0:
                raise CliError(f"--quota must be 0 or more, got {args.quota}")
            await ctx.admin.set_faults(
                args.provider,
                args.region,
                api_error_rate=_rate(args.api_error_rate, "--api-error-rate"),
                boot_failure_rate=_rate(args.boot_failure_rate, "--boot-failure-rate"),
                throttle_rate=_rate(args.throttle_rate, "--throttle-rate"),
                retry_after_s=args.retry_after,
                quota=args.quota,
            )
    except CloudError as exc:
        raise CliError(exc.message) from None
    if args.json:
        print_json({"ok": True})
    else:
        print("faults cleared" if args.clear else f"faults set for {args.provider}/{args.region}")
    return 0


async def timing(ctx: Context, args: argparse.Namespace) -> int:
    durations = {
        f"{k}_s": getattr(args, k) for k in ("boot", "stop", "start", "reboot", "terminate")
    }
    for key, value in durations.items():
        if value is not None and value < 0:
            raise CliError(f"--{key[:-2]} must be 0 or more seconds")
    try:
        if args.clear:
            await ctx.admin.clear_timings()
        else:
            await ctx.admin.set_timings(args.provider, **durations)
    except CloudError as exc:
        raise CliError(exc.message) from None
    if args.json:
        print_json({"ok": True})
    else:
        print("timings reset" if args.clear else f"timings set for {args.provider}")
    return 0


async def doctor(ctx: Context, args: argparse.Namespace) -> int:
    """Exit code 1 while something is leaked (with --clean: still leaked after cleaning)."""
    try:
        report = await (ctx.admin.doctor_clean() if args.clean else ctx.admin.doctor())
    except CloudError as exc:
        raise CliError(exc.message, FAILED) from None
    summary, leaks = report["summary"], report["leaks"]
    if args.json:
        print_json(report)
    else:
        for leak in report["cleaned"]:
            print(f"removed {leak['kind']} {leak['name']}")
        if leaks:
            print_table(
                ["KIND", "NAME", "VM", "DETAIL"],
                [(x["kind"], x["name"], x["vm_id"] or "-", x["detail"]) for x in leaks],
            )
        for db in summary["other_clouds"].values():
            print(f"VMs of another local cloud run here (not leaked): {db}")
        if summary["checked"]:
            print(f"{summary['leaked']} leaked; {summary['live_vms']} live VMs")
        else:
            print(f"not checked: {summary['note']}")
    return FAILED if leaks else 0
