"""`mcis resource create|list|delete`: MCIR, the vNets, security groups and SSH keys."""

from __future__ import annotations

from starter import resource_commands
from starter.commands import Command, Commands, Group, arg
from starter.resource_service import KINDS as RESOURCE_KINDS

KINDS = sorted(RESOURCE_KINDS)
RESOURCE = (arg("kind", choices=KINDS), arg("namespace"), arg("name"))

COMMANDS: Commands = (
    Group("resource", "MCIR: vNets, security groups, SSH keys"),
    Command(
        "resource create",
        resource_commands.create,
        "create a resource",
        (
            *RESOURCE,
            arg("--provider", required=True),
            arg("--region", required=True),
            arg("--cidr", help="vnet: address range"),
            arg("--subnet", action="append", default=[], help="vnet: NAME=CIDR"),
            arg("--vnet", help="security-group: its vnet"),
            arg(
                "--rule",
                action="append",
                default=[],
                help="security-group: tcp:22, tcp:80-90@10.0.0.0/8, icmp",
            ),
        ),
    ),
    Command(
        "resource list",
        resource_commands.list_resources,
        "list resources",
        (arg("namespace"), arg("--kind", choices=KINDS)),
    ),
    Command("resource delete", resource_commands.delete, "delete a resource", RESOURCE),
)
