"""`mcis ns create|list|delete`: namespaces are records only (no cloud call); the work is in
`starter.namespace_service`, shared with the API."""

from __future__ import annotations

import argparse

from starter import namespace_service
from starter.context import Context
from starter.output import print_json, print_table


async def create(ctx: Context, args: argparse.Namespace) -> int:
    record = namespace_service.create_namespace(ctx, args.name, args.description)
    if args.json:
        print_json(record)
    else:
        print(f"namespace {record.name} created")
    return 0


async def list_namespaces(ctx: Context, args: argparse.Namespace) -> int:
    records = namespace_service.list_namespaces(ctx)
    if args.json:
        print_json(records)
    else:
        print_table(["NAME", "DESCRIPTION"], [(r.name, r.description) for r in records])
    return 0


async def delete(ctx: Context, args: argparse.Namespace) -> int:
    namespace_service.delete_namespace(ctx, args.name)
    if args.json:
        print_json({"deleted": args.name})
    else:
        print(f"namespace {args.name} deleted")
    return 0
