"""`mcis suspend|resume|reboot|terminate|refine|scale-out|scale-in|add-group|remove-vm|reconcile`:
operations on a created MCIS."""

from __future__ import annotations

from models.mcis import MAX_VMS_PER_GROUP
from starter import lifecycle_commands, sweep_commands
from starter.arguments import integer
from starter.commands import FORCE, MCIS, Command, Commands, arg

ACTIONS = {
    "suspend": "suspend VMs (MCIS, --group or --vm)",
    "resume": "resume suspended VMs",
    "reboot": "reboot running VMs",
    "terminate": "terminate VMs (they stay listed as Terminated)",
    "refine": "drop Failed and Undefined VMs",
}
SCALES = {
    "scale-out": "add VMs to a group (its spec, image and network)",
    "scale-in": "remove the newest VMs of a group",
}

COMMANDS: Commands = (
    *(
        Command(
            name,
            lifecycle_commands.action,
            text,
            (*MCIS, FORCE, arg("--group"), arg("--vm")),
            {"command": name},
        )
        for name, text in ACTIONS.items()
    ),
    *(
        Command(
            name,
            lifecycle_commands.scale,
            text,
            (
                *MCIS,
                FORCE,
                arg("--group", required=True),
                arg("--count", type=integer(1, MAX_VMS_PER_GROUP), required=True),
            ),
            {"command": name},
        )
        for name, text in SCALES.items()
    ),
    Command(
        "add-group",
        lifecycle_commands.add_group,
        "add a VM group",
        (
            *MCIS,
            FORCE,
            arg("--group", required=True, help="SPEC_ID,IMAGE_ID,COUNT"),
            arg("--group-name", required=True),
        ),
    ),
    Command("remove-vm", lifecycle_commands.remove_vm, "drop one VM", (*MCIS, FORCE, arg("vm"))),
    Command(
        "reconcile",
        sweep_commands.reconcile,
        "adopt VMs the cloud holds for this MCIS, report vanished ones; --all: find VMs with "
        "mcis tags that no MCIS owns (orphans)",
        (
            FORCE,
            arg("namespace", nargs="?"),
            arg("name", nargs="?"),
            arg("--all", action="store_true", help="sweep every cloud region"),
            arg("--delete-orphans", action="store_true", help="with --all: terminate the orphans"),
        ),
    ),
)
