"""`mcis ns create|list|delete`: namespaces."""

from __future__ import annotations

from starter import namespace_commands
from starter.commands import Command, Group, arg

COMMANDS = (
    Group(
        "ns",
        "namespaces",
        (
            Command(
                "create",
                namespace_commands.create,
                "create a namespace",
                (arg("name"), arg("--description", default="")),
            ),
            Command("list", namespace_commands.list_namespaces, "list namespaces"),
            Command(
                "delete", namespace_commands.delete, "delete an empty namespace", (arg("name"),)
            ),
        ),
    ),
)
