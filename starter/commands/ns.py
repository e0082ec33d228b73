"""`mcis ns create|list|delete`: namespaces."""

from __future__ import annotations

from starter import namespace_commands
from starter.commands import Command, Commands, Group, arg

COMMANDS: Commands = (
    Group("ns", "namespaces"),
    Command(
        "ns create",
        namespace_commands.create,
        "create a namespace",
        (arg("name"), arg("--description", default="")),
    ),
    Command("ns list", namespace_commands.list_namespaces, "list namespaces"),
    Command("ns delete", namespace_commands.delete, "delete an empty namespace", (arg("name"),)),
)
