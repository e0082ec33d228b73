"""`mcis ns create|list|delete`: namespaces are records only (no cloud call)."""

from __future__ import annotations

import argparse

from models.records import NamespaceRecord
from starter.context import Context
from starter.errors import CliError
from starter.output import print_json, print_table
from starter.views import checked_name
from store.errors import StoreError


async def create(ctx: Context, args: argparse.Namespace) -> int:
    name = checked_name(args.name, "namespace")
    try:
        record = ctx.store.create_namespace(
            NamespaceRecord(name=name, description=args.description)
        )
    except StoreError as exc:
        raise CliError(str(exc)) from None
    if args.json:
        print_json(record)
    else:
        print(f"namespace {name} created")
    return 0


async def list_namespaces(ctx: Context, args: argparse.Namespace) -> int:
    records = ctx.store.list_namespaces()
    if args.json:
        print_json(records)
    else:
        print_table(["NAME", "DESCRIPTION"], [(r.name, r.description) for r in records])
    return 0


async def delete(ctx: Context, args: argparse.Namespace) -> int:
    checked_name(args.name, "namespace")
    try:
        ctx.store.delete_namespace(args.name)
    except StoreError as exc:
        raise CliError(str(exc)) from None
    if args.json:
        print_json({"deleted": args.name})
    else:
        print(f"namespace {args.name} deleted")
    return 0
