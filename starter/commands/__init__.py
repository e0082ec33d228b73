"""The one shape of an `mcis` command. Each module of this package declares the commands of one
noun as `COMMANDS`: a `Command` is its words (`"ns create"`), its handler `(ctx, args) -> int`, a
help text, its arguments (`arg(...)`, the words of `add_argument`) and fixed values for the
handler; a `Group` is a noun with commands of its own (`"ns"`), declared before them.
`build_parser` makes the argparse tree from them and gives every command `--json`; bad usage is
one line and exit code 2."""

from __future__ import annotations

import argparse
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from starter.context import Context
from starter.errors import CliError

Handler = Callable[[Context, argparse.Namespace], Awaitable[int]]


@dataclass(frozen=True)
class Arg:
    """One argument: what `add_argument` takes."""

    names: tuple[str, ...]
    options: Mapping[str, Any]


def arg(*names: str, **options: Any) -> Arg:
    """An argument declared like `add_argument(*names, **options)`."""
    return Arg(names, options)


@dataclass(frozen=True)
class Command:
    """`mcis NAME`: runs `handler` with the parsed arguments and `fixed` values."""

    name: str
    handler: Handler
    help: str
    args: Sequence[Arg] = ()
    fixed: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Group:
    """`mcis NAME ...`: a noun whose commands follow its name."""

    name: str
    help: str


Commands = tuple[Command | Group, ...]
"""What a noun module declares, in the order `mcis --help` lists them."""

MCIS = (arg("namespace"), arg("name"))
"""The MCIS a command works on: `mcis status NS NAME`."""
FORCE = arg("--force", action="store_true", help="queue it even while another operation runs")


class Parser(argparse.ArgumentParser):
    """argparse that reports bad usage as one line and exit code 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        command = self.prog.removeprefix("mcis").strip()  # `mcis: create: ...`, not `mcis: mcis`
        raise CliError(f"{command}: {message}" if command else message)


def build_parser(commands: Commands, description: str) -> Parser:
    """The `mcis` parser of these commands."""
    root = Parser(prog="mcis", description=description)
    groups = {"": root.add_subparsers(title="commands", required=True, parser_class=Parser)}
    for command in commands:
        group, _, name = command.name.rpartition(" ")
        parser = groups[group].add_parser(name, help=command.help, description=command.help)
        if isinstance(command, Group):
            groups[command.name] = parser.add_subparsers(
                title=f"{command.name} commands", required=True, parser_class=Parser
            )
            continue
        parser.add_argument("--json", action="store_true", help="print JSON for scripts")
        for argument in command.args:
            parser.add_argument(*argument.names, **argument.options)
        parser.set_defaults(handler=command.handler, **command.fixed)
    return root
