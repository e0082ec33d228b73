"""`mcis create|status|list|delete`: an MCIS from a request (or a recommendation) to its end."""

from __future__ import annotations

from starter import mcis_commands
from starter.commands import FORCE, MCIS, Command, Commands, arg
from starter.commands.placement import CREATE
from starter.requests import POLICIES

COMMANDS: Commands = (
    Command(
        "create",
        mcis_commands.create,
        "create an MCIS",
        (
            arg("namespace"),
            arg("name", nargs="?"),
            arg("-f", "--file", help="request file (YAML or JSON)"),
            arg("--group", action="append", help="SPEC_ID,IMAGE_ID,COUNT (repeatable)"),
            arg("--description", default=""),
            arg("--on-partial-failure", dest="policy", choices=POLICIES, default="continue"),
            arg("--no-wait", action="store_true", help="return once started"),
            *CREATE,
        ),
    ),
    Command(
        "status",
        mcis_commands.status,
        "show an MCIS and its VMs",
        (*MCIS, arg("--refresh", action="store_true", help="read every VM from its cloud")),
    ),
    Command("delete", mcis_commands.delete, "terminate every VM, delete the MCIS", (*MCIS, FORCE)),
    Command("list", mcis_commands.list_mcis, "list the MCIS of a namespace", (arg("namespace"),)),
)
