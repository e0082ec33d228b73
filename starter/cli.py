"""The `mcis` command: the parser of every noun's commands (declared in starter/commands/),
dispatch to their handlers, and errors. Every failure the user can cause or meet ends as one
line on stderr and a non-zero exit code (2 bad input, 1 a failed operation)."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Sequence

from pydantic import ValidationError
from temporalio.client import WorkflowQueryFailedError
from temporalio.service import RPCError

from starter.commands import (
    Commands,
    Handler,
    Parser,
    catalog,
    connection,
    lifecycle,
    localcloud,
    mcis,
    ns,
    placement,
    policy,
    remote,
    resource,
    stack,
)
from starter.commands import build_parser as parser_of
from starter.context import Context
from starter.errors import BAD_INPUT, FAILED, CliError, one_line, validation_message

COMMANDS: Commands = (
    *stack.COMMANDS,
    *catalog.COMMANDS,
    *placement.COMMANDS,
    *ns.COMMANDS,
    *resource.COMMANDS,
    *mcis.COMMANDS,
    *lifecycle.COMMANDS,
    *remote.COMMANDS,
    *policy.COMMANDS,
    *localcloud.COMMANDS,
    *connection.COMMANDS,
)
"""Every `mcis` command, in the order `mcis --help` lists them."""


def build_parser() -> Parser:
    return parser_of(COMMANDS, "Multi-cloud infrastructure (MCIS) on Temporal")


def parse(argv: Sequence[str]) -> argparse.Namespace:
    """The arguments of a command line; in `mcis cmd NS NAME [options] -- COMMAND...` what
    follows `--` is the remote command, word for word."""
    words = list(argv)
    cut = words.index("--") if "--" in words else len(words)
    parser = build_parser()
    args = parser.parse_args(words[:cut])
    if cut < len(words):
        if isinstance(getattr(args, "command", None), list):
            args.command = [*args.command, *words[cut + 1 :]]
        else:  # a command without a remote command: argparse's own answer
            args = parser.parse_args(words)
    return args


async def run(argv: Sequence[str]) -> int:
    ctx = Context()
    try:
        args = parse(argv)
        handler: Handler = args.handler
        return await handler(ctx, args)
    finally:
        await ctx.aclose()


def execute(argv: Sequence[str]) -> int:
    """Run one command in this process; its exit code, any error written as one line."""
    try:
        return asyncio.run(run(argv))
    except CliError as exc:
        _report(exc.message)
        return exc.exit_code
    except ValidationError as exc:
        _report(validation_message(exc, "input"))
        return BAD_INPUT
    except (RPCError, WorkflowQueryFailedError) as exc:  # Temporal went away, or a query broke
        _report(f"Temporal did not answer as expected: {exc}")
        return FAILED
    except KeyboardInterrupt:
        _report("interrupted (the workflow goes on; see `mcis status`)")
        return FAILED


def _report(message: str) -> None:
    sys.stderr.write(f"mcis: {one_line(message)}\n")


def main(argv: Sequence[str] | None = None) -> None:
    """Entry point of the `mcis` console script."""
    code = execute(sys.argv[1:] if argv is None else argv)
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)  # avoids the SDK's rare crash at interpreter exit (sdk-python issue 300)
