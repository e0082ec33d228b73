"""`mcis policy create|status|pause|resume|delete` and `mcis load`: auto-control of an MCIS, and
CPU load on its VMs to see it act."""

from __future__ import annotations

from starter import policy_commands
from starter.arguments import integer
from starter.commands import MCIS, Command, Commands, Group, arg
from starter.commands.remote import REMOTE

COMMANDS: Commands = (
    Group("policy", "auto-control policies"),
    Command(
        "policy create",
        policy_commands.create,
        "start auto-control of an MCIS",
        (*MCIS, arg("-f", "--file", required=True, help="policy file (YAML or JSON)")),
    ),
    Command("policy status", policy_commands.status, "state, samples, decisions", MCIS),
    *(
        Command(
            f"policy {change}",
            policy_commands.change,
            f"{change} the policy",
            MCIS,
            {"change": change},
        )
        for change in ("pause", "resume", "delete")
    ),
    Command(
        "load",
        policy_commands.load,
        "make CPU load on the VMs",
        (
            *REMOTE,
            arg("--cpu", type=integer(1, 100), default=90, help="percent"),
            arg("--duration", type=integer(1, 86_400), default=120, help="seconds"),
            arg("--stop", action="store_true"),
        ),
    ),
)
