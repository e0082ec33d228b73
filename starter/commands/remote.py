"""`mcis cmd|put|deploy APP|bench|access`: working on the VMs of an MCIS over SSH."""

from __future__ import annotations

from models.apps import APPS
from models.remote import MAX_CONCURRENCY, MAX_TIMEOUT_S
from starter import bench_commands, remote_commands
from starter.arguments import integer, positive_seconds
from starter.commands import MCIS, Command, Commands, Group, arg

REMOTE = (
    *MCIS,
    arg("--group"),
    arg("--vm"),
    arg("--timeout", type=positive_seconds(MAX_TIMEOUT_S), default=120.0, help="seconds per VM"),
    arg("--concurrency", type=integer(1, MAX_CONCURRENCY), default=50, help="VMs at once"),
)
"""The MCIS, which of its VMs, and how: every command run on VMs over SSH."""

COMMANDS: Commands = (
    Command(
        "cmd",
        remote_commands.cmd,
        "run a command on the VMs over SSH: mcis cmd NS NAME -- CMD",
        (*REMOTE, arg("command", nargs="*", help="the command, best after --")),
    ),
    Command(
        "put",
        remote_commands.put,
        "copy a file to the VMs",
        (*REMOTE, arg("source"), arg("destination")),
    ),
    Group("deploy", "deploy an app on every VM"),
    *(
        Command(
            f"deploy {app}",
            remote_commands.deploy,
            f"deploy {app} on the VMs",
            REMOTE,
            {"app": app},
        )
        for app in sorted(APPS)
    ),
    Command(
        "bench",
        bench_commands.bench,
        "benchmark the VMs over SSH (cpus, cpum, memR, memW, fioR, fioW, dbR, dbW, rtt, mrtt)",
        (
            *MCIS,
            arg("--action", default="all", help="A or A1,A2,... (default: all)"),
            arg(
                "--target",
                help="rtt: the IP address to ping (default: where mcis reaches the VM from)",
            ),
            arg(
                "--seconds",
                type=integer(1, 60),
                default=2,
                help="each timed sysbench and fio run",
            ),
            arg("--pings", type=integer(1, 50), default=5, help="rtt and mrtt: pings per target"),
            arg("--show", action="store_true", help="print the stored results, run nothing"),
        ),
    ),
    Command(
        "access",
        remote_commands.access,
        "how to reach the VMs",
        (
            *MCIS,
            arg("--key-file", help="write the private key there (mode 0600)"),
            arg(
                "--forget-host-keys",
                action="store_true",
                help="forget recorded host keys (after a VM was rebuilt)",
            ),
        ),
    ),
)
