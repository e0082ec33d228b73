"""`mcis stack up|down|status`: the embedded stack (Temporal dev server with its UI, the local
cloud, a worker) in the background."""

from __future__ import annotations

import argparse

from starter.context import Context
from starter.errors import FAILED, CliError
from starter.output import print_json, print_table, progress
from starter.stack import Stack, StackError, StackStatus


def _show(status: StackStatus, as_json: bool) -> None:
    if as_json:
        print_json(status)
        return
    print_table(
        ["COMPONENT", "RUNNING", "PID", "ADDRESS", "LOG"],
        [(c.name, c.running, c.pid or "-", c.address, c.log_file) for c in status.components],
    )
    if status.ui_url:
        print(f"Temporal UI: {status.ui_url}")
    if status.localcloud_backend:
        print(f"local cloud VMs: {status.localcloud_backend}")


async def up(ctx: Context, args: argparse.Namespace) -> int:
    try:
        status = Stack(ctx.settings).up(None if args.json else progress)
    except StackError as exc:
        raise CliError(str(exc), FAILED) from None
    _show(status, args.json)
    return 0


async def down(ctx: Context, args: argparse.Namespace) -> int:
    try:
        Stack(ctx.settings).down(None if args.json else progress)
    except StackError as exc:
        raise CliError(str(exc), FAILED) from None
    if args.json:
        print_json(Stack(ctx.settings).status())
    return 0


async def status(ctx: Context, args: argparse.Namespace) -> int:
    _show(Stack(ctx.settings).status(), args.json)
    return 0
