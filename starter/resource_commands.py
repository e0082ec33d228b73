"""`mcis resource create|list|delete`: MCIR (vNet, security group, SSH key) through the
resource workflow, so the cloud call is durable and retried like every other."""

from __future__ import annotations

import argparse

from temporalio.client import WorkflowFailureError
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy

from models.cloud import FirewallRule, SubnetSpec
from models.operations import (
    SHARED_SUBNET,
    SHARED_VNET_CIDR,
    EnsureSecurityGroupInput,
    EnsureSshKeyInput,
    EnsureVNetInput,
    ResourceRef,
)
from models.records import ResourceKind, ResourceRecord
from starter.context import Context
from starter.errors import FAILED, CliError, check_input_size
from starter.output import print_json, print_table
from starter.views import checked_name
from workflows.failures import failure_message
from workflows.mcir import ResourceWorkflow, ResourceWorkflowInput, resource_workflow_id

KINDS = {
    "vnet": ResourceKind.VNET,
    "security-group": ResourceKind.SECURITY_GROUP,
    "ssh-key": ResourceKind.SSH_KEY,
}


def _subnet(text: str) -> SubnetSpec:
    name, sep, cidr = text.partition("=")
    if not sep or not name or not cidr:
        raise CliError(f"--subnet {text!r}: expected NAME=CIDR")
    return SubnetSpec(name=checked_name(name, "subnet name"), cidr=cidr)


def _rule(text: str) -> FirewallRule:
    """`tcp:22`, `tcp:8000-8100`, `icmp`, optionally `@CIDR`."""
    spec, _, cidr = text.partition("@")
    protocol, _, ports = spec.partition(":")
    if protocol not in ("tcp", "udp", "icmp", "all"):
        raise CliError(f"--rule {text!r}: protocol must be tcp, udp, icmp or all")
    low, _, high = ports.partition("-")
    try:
        first = int(low) if low else -1
        last = int(high) if high else first
    except ValueError:
        raise CliError(
            f"--rule {text!r}: ports must be numbers, e.g. tcp:22 or tcp:80-90"
        ) from None
    return FirewallRule(protocol=protocol, from_port=first, to_port=last, cidr=cidr or "0.0.0.0/0")


async def _run(ctx: Context, inp: ResourceWorkflowInput) -> ResourceRecord | None:
    client = await ctx.client()
    await check_input_size(client.data_converter, inp, f"{inp.ref.kind.value} {inp.ref.name!r}")
    try:
        return await client.execute_workflow(
            ResourceWorkflow.run,
            inp,
            id=resource_workflow_id(inp.ref),
            task_queue=ctx.settings.task_queue,
            id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
        )
    except WorkflowFailureError as exc:
        raise CliError(failure_message(exc), FAILED) from None


async def create(ctx: Context, args: argparse.Namespace) -> int:
    ns = checked_name(args.namespace, "namespace")
    name = checked_name(args.name, "resource name")
    if ctx.store.get_namespace(ns) is None:
        raise CliError(f"namespace {ns!r} does not exist")
    ctx.driver(args.provider)
    place = {"namespace": ns, "name": name, "provider": args.provider, "region": args.region}
    if args.kind == "vnet":
        subnets = [_subnet(s) for s in args.subnet] or [SHARED_SUBNET]
        inp = ResourceWorkflowInput(
            vnet=EnsureVNetInput(**place, cidr=args.cidr or SHARED_VNET_CIDR, subnets=subnets)
        )
    elif args.kind == "security-group":
        if not args.vnet:
            raise CliError("a security group needs --vnet NAME")
        rules = [_rule(r) for r in args.rule]
        sg = EnsureSecurityGroupInput(**place, vnet=args.vnet)
        inp = ResourceWorkflowInput(
            security_group=sg.model_copy(update={"rules": rules or sg.rules})
        )
    else:
        inp = ResourceWorkflowInput(ssh_key=EnsureSshKeyInput(**place))
    record = await _run(ctx, inp)
    if args.json:
        print_json(record)
    elif record is not None:
        print(
            f"{args.kind} {ns}/{name} ready at {record.provider}/{record.region}: {record.csp_id}"
        )
    return 0


async def list_resources(ctx: Context, args: argparse.Namespace) -> int:
    ns = checked_name(args.namespace, "namespace")
    if ctx.store.get_namespace(ns) is None:
        raise CliError(f"namespace {ns!r} does not exist")
    kind = KINDS[args.kind] if args.kind else None
    records = ctx.store.list_resources(ns, kind)
    if args.json:
        print_json(records)
    else:
        print_table(
            ["KIND", "NAME", "CLOUD", "REGION", "CSP_ID", "SHARED"],
            [(r.kind.value, r.name, r.provider, r.region, r.csp_id, r.shared) for r in records],
        )
    return 0


async def delete(ctx: Context, args: argparse.Namespace) -> int:
    ns = checked_name(args.namespace, "namespace")
    kind = KINDS[args.kind]
    checked_name(args.name, "resource name")
    if ctx.store.get_resource(ns, kind, args.name) is None:
        raise CliError(f"{kind.value} {args.name!r} does not exist in namespace {ns!r}")
    await _run(
        ctx, ResourceWorkflowInput(delete=ResourceRef(namespace=ns, kind=kind, name=args.name))
    )
    if args.json:
        print_json({"deleted": args.name, "kind": kind.value})
    else:
        print(f"{args.kind} {ns}/{args.name} deleted")
    return 0
