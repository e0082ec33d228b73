"""The `mcis` command: argument parsing and dispatch. Every failure the user can cause or meet
ends as one line on stderr and a non-zero exit code (2 bad input, 1 a failed operation)."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Awaitable, Callable, Sequence

from pydantic import ValidationError
from temporalio.client import WorkflowQueryFailedError
from temporalio.service import RPCError

from catalog.records import CatalogSource
from models.mcis import MAX_VMS_PER_GROUP
from models.remote import MAX_CONCURRENCY, MAX_TIMEOUT_S
from remote.apps import APPS
from starter import (
    bench_commands,
    catalog_commands,
    connection_commands,
    lifecycle_commands,
    localcloud_commands,
    mcis_commands,
    namespace_commands,
    placement_commands,
    policy_commands,
    remote_commands,
    resource_commands,
    stack_commands,
    sweep_commands,
)
from starter.arguments import add_spec_ranges, integer, number, positive_seconds
from starter.context import Context
from starter.errors import BAD_INPUT, FAILED, CliError, one_line, validation_message
from starter.requests import POLICIES

Handler = Callable[[Context, argparse.Namespace], Awaitable[int]]


class _Parser(argparse.ArgumentParser):
    """argparse that reports bad usage as one line and exit code 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        command = self.prog.removeprefix("mcis").strip()  # `mcis: create: ...`, not `mcis: mcis`
        raise CliError(f"{command}: {message}" if command else message)


def _command(
    sub: argparse._SubParsersAction[_Parser], name: str, handler: Handler, help_text: str
) -> _Parser:
    parser = sub.add_parser(name, help=help_text, description=help_text)
    parser.add_argument("--json", action="store_true", help="print JSON for scripts")
    parser.set_defaults(handler=handler)
    return parser


def _mcis_command(
    sub: argparse._SubParsersAction[_Parser], name: str, handler: Handler, help_text: str
) -> _Parser:
    parser = _command(sub, name, handler, help_text)
    parser.add_argument("namespace")
    parser.add_argument("name")
    return parser


def _forcible(parser: _Parser) -> _Parser:
    parser.add_argument(
        "--force", action="store_true", help="queue it even while another operation runs"
    )
    return parser


def _remote_options(parser: _Parser) -> None:
    parser.add_argument("--group")
    parser.add_argument("--vm")
    parser.add_argument(
        "--timeout", type=positive_seconds(MAX_TIMEOUT_S), default=120.0, help="seconds per VM"
    )
    parser.add_argument(
        "--concurrency", type=integer(1, MAX_CONCURRENCY), default=50, help="VMs at once"
    )


def _groups(parser: _Parser, title: str) -> argparse._SubParsersAction[_Parser]:
    return parser.add_subparsers(title=title, required=True, parser_class=_Parser)


def build_parser() -> _Parser:
    root = _Parser(prog="mcis", description="Multi-cloud infrastructure (MCIS) on Temporal")
    top = _groups(root, "commands")

    stack = _groups(top.add_parser("stack", help="the embedded stack"), "stack commands")
    _command(stack, "up", stack_commands.up, "start Temporal, the local cloud and a worker")
    _command(stack, "down", stack_commands.down, "stop the embedded stack")
    _command(stack, "status", stack_commands.status, "show what runs")

    catalog = _groups(top.add_parser("catalog", help="specs and images"), "catalog commands")
    specs = _command(catalog, "specs", catalog_commands.specs, "list specs, cheapest first")
    images = _command(catalog, "images", catalog_commands.images, "list images")
    for parser in (specs, images):
        parser.add_argument("--provider")
        parser.add_argument("--region")
    specs.add_argument("--min-vcpus", type=integer(0, 1_000_000))
    specs.add_argument("--max-vcpus", type=integer(0, 1_000_000))
    specs.add_argument("--min-memory", type=number(0, 1e9), help="GiB")
    specs.add_argument("--max-memory", type=number(0, 1e9), help="GiB")
    specs.add_argument("--max-price", type=number(0, 1e9), help="USD per hour")
    add_spec_ranges(specs)
    specs.add_argument("--source", choices=[s.value for s in CatalogSource])
    specs.add_argument("--limit", type=integer(1, 10**6), help="show at most this many")
    refresh = _command(
        catalog,
        "refresh",
        catalog_commands.refresh_catalog,
        "load the local cloud, public clouds (Libcloud data) and the RTT matrix",
    )
    refresh.add_argument("--rtt-file", help="RTT YAML (default: $MCIS_HOME/rtt.yaml if present)")
    refresh.add_argument("--no-public", action="store_true", help="skip the public clouds")

    recommend = _command(
        top, "recommend", placement_commands.recommend, "best specs under weighted priorities"
    )
    placement_commands.add_placement_arguments(recommend)
    recommend.add_argument("--limit", type=integer(1, 10**6), default=10)

    ns = _groups(top.add_parser("ns", help="namespaces"), "namespace commands")
    ns_create = _command(ns, "create", namespace_commands.create, "create a namespace")
    ns_create.add_argument("name")
    ns_create.add_argument("--description", default="")
    _command(ns, "list", namespace_commands.list_namespaces, "list namespaces")
    _command(ns, "delete", namespace_commands.delete, "delete an empty namespace").add_argument(
        "name"
    )

    resource = _groups(
        top.add_parser("resource", help="MCIR: vNets, security groups, SSH keys"),
        "resource commands",
    )
    res_create = _command(resource, "create", resource_commands.create, "create a resource")
    res_create.add_argument("kind", choices=sorted(resource_commands.KINDS))
    res_create.add_argument("namespace")
    res_create.add_argument("name")
    res_create.add_argument("--provider", required=True)
    res_create.add_argument("--region", required=True)
    res_create.add_argument("--cidr", help="vnet: address range")
    res_create.add_argument("--subnet", action="append", default=[], help="vnet: NAME=CIDR")
    res_create.add_argument("--vnet", help="security-group: its vnet")
    res_create.add_argument(
        "--rule",
        action="append",
        default=[],
        help="security-group: tcp:22, tcp:80-90@10.0.0.0/8, icmp",
    )
    res_list = _command(resource, "list", resource_commands.list_resources, "list resources")
    res_list.add_argument("namespace")
    res_list.add_argument("--kind", choices=sorted(resource_commands.KINDS))
    res_delete = _command(resource, "delete", resource_commands.delete, "delete a resource")
    res_delete.add_argument("kind", choices=sorted(resource_commands.KINDS))
    res_delete.add_argument("namespace")
    res_delete.add_argument("name")

    create = _command(top, "create", mcis_commands.create, "create an MCIS")
    create.add_argument("namespace")
    create.add_argument("name", nargs="?")
    create.add_argument("-f", "--file", help="request file (YAML or JSON)")
    create.add_argument("--group", action="append", help="SPEC_ID,IMAGE_ID,COUNT (repeatable)")
    create.add_argument("--description", default="")
    create.add_argument("--on-partial-failure", dest="policy", choices=POLICIES, default="continue")
    create.add_argument("--no-wait", action="store_true", help="return once started")
    placement_commands.add_create_arguments(create)

    status = _mcis_command(top, "status", mcis_commands.status, "show an MCIS and its VMs")
    status.add_argument("--refresh", action="store_true", help="read every VM from its cloud")
    _forcible(
        _mcis_command(top, "delete", mcis_commands.delete, "terminate every VM, delete the MCIS")
    )
    for action, text in (
        ("suspend", "suspend VMs (MCIS, --group or --vm)"),
        ("resume", "resume suspended VMs"),
        ("reboot", "reboot running VMs"),
        ("terminate", "terminate VMs (they stay listed as Terminated)"),
        ("refine", "drop Failed and Undefined VMs"),
    ):
        parser = _forcible(_mcis_command(top, action, lifecycle_commands.action, text))
        parser.add_argument("--group")
        parser.add_argument("--vm")
        parser.set_defaults(command=action)
    for action, text in (
        ("scale-out", "add VMs to a group (its spec, image and network)"),
        ("scale-in", "remove the newest VMs of a group"),
    ):
        parser = _forcible(_mcis_command(top, action, lifecycle_commands.scale, text))
        parser.add_argument("--group", required=True)
        parser.add_argument("--count", type=integer(1, MAX_VMS_PER_GROUP), required=True)
        parser.set_defaults(command=action)
    add = _forcible(_mcis_command(top, "add-group", lifecycle_commands.add_group, "add a VM group"))
    add.add_argument("--group", required=True, help="SPEC_ID,IMAGE_ID,COUNT")
    add.add_argument("--group-name", required=True)
    remove = _mcis_command(top, "remove-vm", lifecycle_commands.remove_vm, "drop one VM")
    _forcible(remove).add_argument("vm")
    reconcile = _forcible(
        _command(
            top,
            "reconcile",
            sweep_commands.reconcile,
            "adopt VMs the cloud holds for this MCIS, report vanished ones; --all: find VMs "
            "with mcis tags that no MCIS owns (orphans)",
        )
    )
    reconcile.add_argument("namespace", nargs="?")
    reconcile.add_argument("name", nargs="?")
    reconcile.add_argument("--all", action="store_true", help="sweep every cloud region")
    reconcile.add_argument(
        "--delete-orphans", action="store_true", help="with --all: terminate the orphans"
    )
    _command(top, "list", mcis_commands.list_mcis, "list the MCIS of a namespace").add_argument(
        "namespace"
    )

    for name, handler, text in (
        ("cmd", remote_commands.cmd, "run a command on the VMs over SSH: mcis cmd NS NAME -- CMD"),
        ("put", remote_commands.put, "copy a file to the VMs"),
    ):
        parser = _mcis_command(top, name, handler, text)
        _remote_options(parser)
        if name == "cmd":
            parser.add_argument("command", nargs="*", help="the command, best after --")
        else:
            parser.add_argument("source")
            parser.add_argument("destination")
    deploy = _groups(top.add_parser("deploy", help="deploy an app on every VM"), "apps")
    for app in sorted(APPS):
        parser = _mcis_command(deploy, app, remote_commands.deploy, f"deploy {app} on the VMs")
        _remote_options(parser)
        parser.set_defaults(app=app)
    bench = _mcis_command(
        top,
        "bench",
        bench_commands.bench,
        "benchmark the VMs over SSH (cpus, cpum, memR, memW, fioR, fioW, dbR, dbW, rtt, mrtt)",
    )
    bench.add_argument("--action", default="all", help="A or A1,A2,... (default: all)")
    bench.add_argument(
        "--target", help="rtt: the IP address to ping (default: where mcis reaches the VM from)"
    )
    bench.add_argument(
        "--seconds", type=integer(1, 60), default=2, help="each timed sysbench and fio run"
    )
    bench.add_argument(
        "--pings", type=integer(1, 50), default=5, help="rtt and mrtt: pings per target"
    )
    bench.add_argument("--show", action="store_true", help="print the stored results, run nothing")
    access = _mcis_command(top, "access", remote_commands.access, "how to reach the VMs")
    access.add_argument("--key-file", help="write the private key there (mode 0600)")
    access.add_argument(
        "--forget-host-keys",
        action="store_true",
        help="forget recorded host keys (after a VM was rebuilt)",
    )

    policy = _groups(top.add_parser("policy", help="auto-control policies"), "policy commands")
    policy_create = _mcis_command(
        policy, "create", policy_commands.create, "start auto-control of an MCIS"
    )
    policy_create.add_argument("-f", "--file", required=True, help="policy file (YAML or JSON)")
    _mcis_command(policy, "status", policy_commands.status, "state, samples, decisions")
    for change in ("pause", "resume", "delete"):
        _mcis_command(policy, change, policy_commands.change, f"{change} the policy").set_defaults(
            change=change
        )
    load = _mcis_command(top, "load", policy_commands.load, "make CPU load on the VMs")
    _remote_options(load)
    load.add_argument("--cpu", type=integer(1, 100), default=90, help="percent")
    load.add_argument("--duration", type=integer(1, 86_400), default=120, help="seconds")
    load.add_argument("--stop", action="store_true")

    lc = _groups(
        top.add_parser("localcloud", help="inspect and steer the local cloud"),
        "local cloud commands",
    )
    lc_vms = _command(lc, "vms", localcloud_commands.vms, "what the local cloud really holds")
    lc_vms.add_argument("--tag", action="append", default=[], help="KEY=VALUE filter")
    fault = _command(lc, "fault", localcloud_commands.fault, "inject faults (or --clear)")
    fault.add_argument("--provider", default="*")
    fault.add_argument("--region", default="*")
    fault.add_argument("--api-error-rate", type=number(0, 1), default=0.0)
    fault.add_argument("--boot-failure-rate", type=number(0, 1), default=0.0)
    fault.add_argument("--throttle-rate", type=number(0, 1), default=0.0)
    fault.add_argument("--retry-after", type=number(0, 3600), default=1.0, help="seconds")
    fault.add_argument("--quota", type=integer(0, 10**6), help="VMs per region")
    fault.add_argument("--clear", action="store_true")
    timing = _command(
        lc, "timing", localcloud_commands.timing, "set lifecycle durations in seconds (or --clear)"
    )
    timing.add_argument("--provider", default="*")
    for field in ("boot", "stop", "start", "reboot", "terminate"):
        timing.add_argument(f"--{field}", type=number(0, 3600), help="seconds")
    timing.add_argument("--clear", action="store_true")
    doctor = _command(
        lc, "doctor", localcloud_commands.doctor, "what real VMs left behind (exit 1 if any)"
    )
    doctor.add_argument("--clean", action="store_true", help="remove what was left behind")

    connection_commands.register(top, _command, _groups)
    return root


async def run(argv: Sequence[str]) -> int:
    ctx = Context()
    try:
        words = list(argv)
        # `mcis cmd NS NAME [options] -- COMMAND...`: what follows `--` is the remote command.
        remote = words[words.index("--") + 1 :] if "--" in words else None
        args = build_parser().parse_args(words[: words.index("--")] if remote else words)
        if remote is not None and hasattr(args, "command"):
            args.command = [*args.command, *remote]
        handler: Handler = args.handler
        return await handler(ctx, args)
    finally:
        await ctx.aclose()


def execute(argv: Sequence[str]) -> int:
    """Run one command in this process; its exit code, any error written as one line."""
    try:
        return asyncio.run(run(argv))
    except CliError as exc:
        _report(exc.message)
        return exc.exit_code
    except ValidationError as exc:
        _report(validation_message(exc, "input"))
        return BAD_INPUT
    except (RPCError, WorkflowQueryFailedError) as exc:  # Temporal went away, or a query broke
        _report(f"Temporal did not answer as expected: {exc}")
        return FAILED
    except KeyboardInterrupt:
        _report("interrupted (the workflow goes on; see `mcis status`)")
        return FAILED


def _report(message: str) -> None:
    sys.stderr.write(f"mcis: {one_line(message)}\n")


def main(argv: Sequence[str] | None = None) -> None:
    """Entry point of the `mcis` console script."""
    code = execute(sys.argv[1:] if argv is None else argv)
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)  # avoids the SDK's rare crash at interpreter exit (sdk-python issue 300)
