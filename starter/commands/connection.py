"""`mcis connection add|list|check|remove`: the cloud accounts of the credentials file."""

from __future__ import annotations

from drivers.connection import CLOUDS
from starter import connection_commands
from starter.commands import Command, Commands, Group, arg

NAME = arg("name")

COMMANDS: Commands = (
    Group("connection", "cloud accounts (the credentials file)"),
    Command(
        "connection add",
        connection_commands.add,
        "add a cloud connection (secrets: env or stdin)",
        (
            arg("name", help="a valid mcis name: the provider of catalog ids"),
            arg("--cloud", required=True, choices=CLOUDS),
            arg("--region", action="append", required=True, help="repeatable"),
            arg("--access-key-id", help="aws/alibaba (or env AWS_ACCESS_KEY_ID, ...)"),
            arg(
                "--secret-access-key",
                help="the cloud's secret (kept in shell history: prefer --secret-stdin or the "
                "env var)",
            ),
            arg("--secret-stdin", action="store_true", help="read the cloud's secret from stdin"),
            arg("--credential", action="append", default=[], help="KEY=VALUE (repeatable)"),
            arg("--endpoint", help="API URL of an emulator, e.g. http://127.0.0.1:5000"),
            arg("--option", action="append", default=[], help="KEY=VALUE"),
            arg("--replace", action="store_true", help="overwrite one of that name"),
        ),
    ),
    Command(
        "connection list", connection_commands.list_connections, "list connections (no secrets)"
    ),
    Command(
        "connection check",
        connection_commands.check,
        "reach the cloud: regions, specs and images",
        (NAME,),
    ),
    Command("connection remove", connection_commands.remove, "remove a connection", (NAME,)),
)
