"""`mcis connection add|list|check|remove`: the cloud accounts of the credentials file
(MCIS_HOME/credentials.yaml, mode 0600; see drivers/credentials.py).

Secrets need never be on the command line, where shell history keeps them. Each credential is
taken from, in order: its option (`--access-key-id`, `--secret-access-key`, `--credential
KEY=VALUE`), then, for the cloud's secret, the first line of standard input with
`--secret-stdin`, then its environment variable (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY,
AZURE_CLIENT_SECRET, OS_PASSWORD, ALIBABA_CLOUD_ACCESS_KEY_SECRET, ...: CREDENTIAL_FIELDS):

    printf '%s\\n' "$SECRET" | mcis connection add ec2 --cloud aws --region us-east-1 \\
        --access-key-id AKIA... --secret-stdin
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from typing import Any

from drivers.base import CloudDriver
from drivers.connection import CREDENTIAL_FIELDS, Connection, ConnectionsError, parse_connection
from drivers.credentials import load_connections, save_connections
from drivers.errors import CloudError
from drivers.registry import connection_driver, shadowing_error
from localcloud.flavors import FLAVORS
from starter.context import Context
from starter.errors import FAILED, CliError
from starter.output import print_json, print_table
from starter.views import checked_name


def _pairs(items: list[str], option: str) -> dict[str, str]:
    pairs = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise CliError(f"{option} {item.split('=')[0]!r}...: expected KEY=VALUE")
        pairs[key.strip()] = value
    return pairs


def _connections(ctx: Context) -> dict[str, Connection]:
    try:
        return load_connections(ctx.settings.connections_file)
    except ConnectionsError as exc:
        raise CliError(str(exc)) from None


def _secret_field(cloud: str) -> str:
    """The credential `--secret-access-key` and `--secret-stdin` give for this cloud."""
    for field in CREDENTIAL_FIELDS[cloud]:
        if field.secret and field.required:
            return field.name
    names = ", ".join(f.name for f in CREDENTIAL_FIELDS[cloud])
    raise CliError(
        f"cloud {cloud} has no secret to give with --secret-access-key or --secret-stdin "
        f"(its credentials: {names}; use --credential KEY=VALUE)"
    )


def _credentials(args: argparse.Namespace) -> dict[str, str]:
    """Every credential of the cloud from options, stdin or the environment."""
    cloud = args.cloud
    given = _pairs(args.credential, "--credential")
    if args.access_key_id is not None:
        given["access_key_id"] = args.access_key_id
    if args.secret_access_key is not None:
        given[_secret_field(cloud)] = args.secret_access_key
    if args.secret_stdin:
        line = sys.stdin.readline().strip()
        if not line:
            raise CliError("--secret-stdin: standard input held no secret")
        given.setdefault(_secret_field(cloud), line)
    credentials = {}
    missing = []
    for field in CREDENTIAL_FIELDS[cloud]:
        value = given.pop(field.name, None) or os.environ.get(field.env or "", "")
        if value:
            credentials[field.name] = value
        elif field.required:
            how = "--secret-stdin" if field.secret else f"--credential {field.name}=..."
            env = f" or set {field.env}" if field.env else ""
            missing.append(f"{field.name} (give {how}{env})")
    if given:
        known = ", ".join(f.name for f in CREDENTIAL_FIELDS[cloud])
        raise CliError(
            f"unknown credential {sorted(given)[0]!r} for cloud {cloud} (known: {known})"
        )
    if missing:
        raise CliError(f"missing credential {'; '.join(missing)}")
    return credentials


async def add(ctx: Context, args: argparse.Namespace) -> int:
    path = ctx.settings.connections_file
    if args.name in FLAVORS and ctx.settings.localcloud_enabled:
        raise CliError(str(shadowing_error(args.name, path)))
    entry: dict[str, Any] = {
        "name": args.name,
        "cloud": args.cloud,
        "regions": args.region,
        "credentials": _credentials(args),
        "options": _pairs(args.option, "--option"),
    }
    if args.endpoint:
        entry["endpoint"] = {"url": args.endpoint}
    try:
        connection = parse_connection(entry, f"connection {args.name!r}")
    except ConnectionsError as exc:
        raise CliError(str(exc)) from None
    connections = _connections(ctx)
    if connection.name in connections and not args.replace:
        raise CliError(f"connection {connection.name!r} already exists in {path} (use --replace)")
    connections[connection.name] = connection
    save_connections(path, connections)
    if args.json:
        print_json(connection.public_view())
    else:
        regions = ", ".join(connection.regions)
        print(f"connection {connection.name} ({connection.cloud}, {regions}) saved to {path}")
    return 0


async def list_connections(ctx: Context, args: argparse.Namespace) -> int:
    views = [c.public_view() for c in _connections(ctx).values()]
    if args.json:
        print_json(views)
    else:
        print_table(
            ["NAME", "CLOUD", "REGIONS", "ENDPOINT", "CREDENTIALS"],
            [
                (
                    v["name"],
                    v["cloud"],
                    ",".join(v["regions"]),
                    v["endpoint"] or "-",
                    ",".join(v["credentials"]),
                )
                for v in views
            ],
        )
    return 0


async def remove(ctx: Context, args: argparse.Namespace) -> int:
    checked_name(args.name, "connection name")
    connections = _connections(ctx)
    if connections.pop(args.name, None) is None:
        raise CliError(f"connection {args.name!r} does not exist")
    save_connections(ctx.settings.connections_file, connections)
    if not args.json:
        print(f"connection {args.name} removed")
    return 0


async def _inventory(driver: CloudDriver, connection: Connection) -> list[dict[str, Any]]:
    regions = await driver.regions()
    offered = {r.name for r in regions}
    absent = [r for r in connection.regions if r not in offered]
    if absent:
        unplaced = absent[0] not in connection.locations
        raise CliError(
            f"connection {connection.name!r}: region {absent[0]!r} is not offered by the account"
            + (
                ", or has no known place: give it a `locations` entry (latitude, longitude) in "
                "the credentials file"
                if unplaced
                else ""
            ),
            FAILED,
        )
    found = []
    for region in regions:
        specs, images = await asyncio.gather(driver.specs(region.name), driver.images(region.name))
        found.append({"region": region.name, "specs": len(specs), "images": len(images)})
    return found


async def check(ctx: Context, args: argparse.Namespace) -> int:
    """Reach the cloud through the connection's driver: its regions, and the specs and images of
    each. One line on failure (bad credentials, endpoint unreachable, ...)."""
    checked_name(args.name, "connection name")
    connection = _connections(ctx).get(args.name)
    if connection is None:
        raise CliError(f"connection {args.name!r} does not exist (see `mcis connection list`)")
    try:
        driver = connection_driver(connection)
    except CloudError as exc:
        raise CliError(exc.message, FAILED) from None
    try:
        inventory = await _inventory(driver, connection)
    except CloudError as exc:
        raise CliError(exc.message, FAILED) from None
    finally:
        await driver.aclose()
    if args.json:
        print_json({"name": connection.name, "cloud": connection.cloud, "regions": inventory})
    else:
        regions = ", ".join(
            f"{r['region']} ({r['specs']} specs, {r['images']} images)" for r in inventory
        )
        print(f"{connection.name}: ok ({connection.cloud}): {regions}")
    return 0
