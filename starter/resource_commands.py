"""`mcis resource create|list|delete`: MCIR (vNet, security group, SSH key) through the
resource workflow, so the cloud call is durable and retried like every other; the work is in
`starter.resource_service`, shared with the API."""

from __future__ import annotations

import argparse

from starter import resource_service
from starter.context import Context
from starter.output import print_json, print_table
from starter.resource_service import KINDS, parse_rule, parse_subnet


async def create(ctx: Context, args: argparse.Namespace) -> int:
    record = await resource_service.create_resource(
        ctx,
        args.kind,
        args.namespace,
        args.name,
        args.provider,
        args.region,
        cidr=args.cidr,
        subnets=lambda: [parse_subnet(s, "--subnet") for s in args.subnet],
        vnet=args.vnet,
        rules=lambda: [parse_rule(r, "--rule") for r in args.rule],
    )
    if args.json:
        print_json(record)
    elif record is not None:
        print(
            f"{args.kind} {args.namespace}/{args.name} ready at "
            f"{record.provider}/{record.region}: {record.csp_id}"
        )
    return 0


async def list_resources(ctx: Context, args: argparse.Namespace) -> int:
    records = resource_service.list_resources(ctx, args.namespace, args.kind)
    if args.json:
        print_json(records)
    else:
        print_table(
            ["KIND", "NAME", "CLOUD", "REGION", "CSP_ID", "SHARED"],
            [(r.kind.value, r.name, r.provider, r.region, r.csp_id, r.shared) for r in records],
        )
    return 0


async def delete(ctx: Context, args: argparse.Namespace) -> int:
    await resource_service.delete_resource(ctx, args.namespace, args.kind, args.name)
    if args.json:
        print_json({"deleted": args.name, "kind": KINDS[args.kind].value})
    else:
        print(f"{args.kind} {args.namespace}/{args.name} deleted")
    return 0
