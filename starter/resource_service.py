"""MCIR (vNet, security group, SSH key) as the CLI (`mcis resource`) and the API
(`/v1/namespaces/NS/resources`) both handle them: created and deleted through the resource
workflow, so the cloud call is durable and retried like every other; listed from the store. An
SSH key's private key is read only by `private_key`, on request."""

from __future__ import annotations

from collections.abc import Callable

from temporalio.client import WorkflowFailureError
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy

from models.cloud import FirewallRule, SubnetSpec
from models.failures import failure_message
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
from starter.namespace_service import existing_namespace
from starter.views import checked_name
from workflows.mcir import ResourceWorkflow, ResourceWorkflowInput, resource_workflow_id

KINDS = {
    "vnet": ResourceKind.VNET,
    "security-group": ResourceKind.SECURITY_GROUP,
    "ssh-key": ResourceKind.SSH_KEY,
}
"""Resource kinds as the CLI and the API name them."""

PROTOCOLS = ("tcp", "udp", "icmp", "all")


def resource_kind(kind: str) -> ResourceKind:
    if kind not in KINDS:
        raise CliError(f"unknown resource kind {kind!r} (kinds: {', '.join(sorted(KINDS))})")
    return KINDS[kind]


def parse_subnet(text: str, label: str) -> SubnetSpec:
    """`NAME=CIDR`; `label` names where it came from in a message (`--subnet`)."""
    name, sep, cidr = text.partition("=")
    if not sep or not name or not cidr:
        raise CliError(f"{label} {text!r}: expected NAME=CIDR")
    return SubnetSpec(name=checked_name(name, "subnet name"), cidr=cidr)


def parse_rule(text: str, label: str) -> FirewallRule:
    """`tcp:22`, `tcp:8000-8100`, `icmp`, optionally `@CIDR`; `label` as for `parse_subnet`."""
    spec, _, cidr = text.partition("@")
    protocol, _, ports = spec.partition(":")
    if protocol not in PROTOCOLS:
        raise CliError(f"{label} {text!r}: protocol must be tcp, udp, icmp or all")
    low, _, high = ports.partition("-")
    try:
        first = int(low) if low else -1
        last = int(high) if high else first
    except ValueError:
        raise CliError(
            f"{label} {text!r}: ports must be numbers, e.g. tcp:22 or tcp:80-90"
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
            static_summary=f"{inp.ref.kind.value} {inp.ref.namespace}/{inp.ref.name}",
        )
    except WorkflowFailureError as exc:
        raise CliError(failure_message(exc), FAILED) from None


async def create_resource(
    ctx: Context,
    kind: str,
    namespace: str,
    name: str,
    provider: str,
    region: str,
    *,
    cidr: str | None = None,
    subnets: Callable[[], list[SubnetSpec]] = list,
    vnet: str | None = None,
    rules: Callable[[], list[FirewallRule]] = list,
    vnet_hint: str = "--vnet NAME",
) -> ResourceRecord | None:
    """Create the resource at the cloud (or find it made) and record it. `subnets` (vnet) and
    `rules` (security group) parse the caller's input once the names are checked."""
    checked_name(namespace, "namespace")
    checked_name(name, "resource name")
    existing_namespace(ctx, namespace)
    resource_kind(kind)
    ctx.driver(provider)
    place = {"namespace": namespace, "name": name, "provider": provider, "region": region}
    if kind == "vnet":
        inp = ResourceWorkflowInput(
            vnet=EnsureVNetInput(
                **place, cidr=cidr or SHARED_VNET_CIDR, subnets=subnets() or [SHARED_SUBNET]
            )
        )
    elif kind == "security-group":
        if not vnet:
            raise CliError(f"a security group needs {vnet_hint}")
        sg = EnsureSecurityGroupInput(**place, vnet=vnet)
        inp = ResourceWorkflowInput(
            security_group=sg.model_copy(update={"rules": rules() or sg.rules})
        )
    else:
        inp = ResourceWorkflowInput(ssh_key=EnsureSshKeyInput(**place))
    return await _run(ctx, inp)


def list_resources(ctx: Context, namespace: str, kind: str | None = None) -> list[ResourceRecord]:
    """The namespace's resources (of one kind if given)."""
    existing_namespace(ctx, namespace)
    return ctx.store.list_resources(namespace, resource_kind(kind) if kind else None)


def get_resource(ctx: Context, namespace: str, kind: str, name: str) -> ResourceRecord:
    """The recorded resource; CliError (not found) unless it exists."""
    checked_name(namespace, "namespace")
    found = resource_kind(kind)
    checked_name(name, "resource name")
    record = ctx.store.get_resource(namespace, found, name)
    if record is None:
        raise CliError(f"{found.value} {name!r} does not exist in namespace {namespace!r}")
    return record


def private_key(ctx: Context, record: ResourceRecord) -> str:
    """The private key of an SSH key resource, decrypted from the store."""
    if record.kind is not ResourceKind.SSH_KEY or record.secret_ref is None:
        raise CliError(
            f"{record.kind.value} {record.name!r} has no private key in namespace "
            f"{record.namespace!r}"
        )
    return ctx.store.get_secret(record.secret_ref)


async def delete_resource(ctx: Context, namespace: str, kind: str, name: str) -> None:
    record = get_resource(ctx, namespace, kind, name)
    await _run(
        ctx,
        ResourceWorkflowInput(
            delete=ResourceRef(namespace=namespace, kind=record.kind, name=record.name)
        ),
    )
