"""`mcis stack up|down|status` and `mcis api`: the processes mcis runs in the background or in
the foreground."""

from __future__ import annotations

from starter import api_commands, stack_commands
from starter.commands import Command, Commands, Group

COMMANDS: Commands = (
    Group("stack", "the embedded stack"),
    Command("stack up", stack_commands.up, "start Temporal, the local cloud and a worker"),
    Command("stack down", stack_commands.down, "stop the embedded stack"),
    Command("stack status", stack_commands.status, "show what runs"),
    Command(
        "api", api_commands.serve, "serve the REST API and the CB-Spider endpoints until stopped"
    ),
)
