"""`mcis localcloud vms|fault|timing|doctor`: inspecting and steering the local cloud."""

from __future__ import annotations

from starter import localcloud_commands
from starter.arguments import integer, number
from starter.commands import Command, Commands, Group, arg

CLEAR = arg("--clear", action="store_true")

COMMANDS: Commands = (
    Group("localcloud", "inspect and steer the local cloud"),
    Command(
        "localcloud vms",
        localcloud_commands.vms,
        "what the local cloud really holds",
        (arg("--tag", action="append", default=[], help="KEY=VALUE filter"),),
    ),
    Command(
        "localcloud fault",
        localcloud_commands.fault,
        "inject faults (or --clear)",
        (
            arg("--provider", default="*"),
            arg("--region", default="*"),
            arg("--api-error-rate", type=number(0, 1), default=0.0),
            arg("--boot-failure-rate", type=number(0, 1), default=0.0),
            arg("--throttle-rate", type=number(0, 1), default=0.0),
            arg("--retry-after", type=number(0, 3600), default=1.0, help="seconds"),
            arg("--quota", type=integer(0, 10**6), help="VMs per region"),
            CLEAR,
        ),
    ),
    Command(
        "localcloud timing",
        localcloud_commands.timing,
        "set lifecycle durations in seconds (or --clear)",
        (
            arg("--provider", default="*"),
            *(
                arg(f"--{field}", type=number(0, 3600), help="seconds")
                for field in ("boot", "stop", "start", "reboot", "terminate")
            ),
            CLEAR,
        ),
    ),
    Command(
        "localcloud doctor",
        localcloud_commands.doctor,
        "what real VMs left behind (exit 1 if any)",
        (arg("--clean", action="store_true", help="remove what was left behind"),),
    ),
)
