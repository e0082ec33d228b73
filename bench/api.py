"""Benchmark: reading an MCIS's status over the REST API under load. On a private embedded stack
(its API server included), an MCIS is created over the native API; then N concurrent clients
read `GET /v1/ns/NS/mcis/NAME` over HTTP for S seconds, and in the same run N concurrent
readers send the same workflow's status query through the Temporal client directly (what the
API does for each read, less HTTP, auth, the liveness check and JSON). Prints the reads, reads
per second, p50, p99 and the errors of each.

    python -m bench.api --clients 200 --seconds 30
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import httpx
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.service import RPCError

from bench.private_stack import private_stack
from models.naming import mcis_workflow_id
from settings import Settings
from starter.stack import api_url
from workflows.mcis import McisWorkflow

NAMESPACE, NAME = "bench", "web"
GROUPS = (
    "aws+us-east-1+t3.small,aws+us-east-1+ubuntu-jammy-22.04-amd64-server,{n}",
    "gcp+us-central1+e2-small,gcp+us-central1+ubuntu-2204-lts,{n}",
    "azure+koreacentral+Standard_B1s,azure+koreacentral+Ubuntu2204,{n}",
)
TIME_SCALE = 0.02
READY_TIMEOUT_S = 120.0


@dataclass
class Run:
    """The reads of one path: each one's latency, and the failures by kind."""

    name: str
    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)
    errors: dict[str, int] = field(default_factory=dict)

    def line(self) -> str:
        reads = len(self.latencies)
        cuts = statistics.quantiles(self.latencies, n=100) if reads > 1 else [0.0] * 99
        errors = sum(self.errors.values())
        detail = f" ({', '.join(f'{k} {v}' for k, v in self.errors.items())})" if errors else ""
        return (
            f"{self.name:<22} {reads:>8} {reads / self.seconds:>9.0f} "
            f"{cuts[49] * 1000:>9.1f} {cuts[98] * 1000:>9.1f} {errors:>7}{detail}"
        )


class KeepAlive:
    """One client's HTTP/1.1 keep-alive connection sending GETs with HTTP Basic. The bench's
    own client, not httpx: with 200 clients on two shared cores, httpx's work per request
    capped the reads it measured far below what the server answered."""

    def __init__(self, url: str, username: str, password: str) -> None:
        parsed = urlsplit(url)
        self.host, self.port = parsed.hostname or "127.0.0.1", parsed.port or 80
        token = base64.b64encode(f"{username}:{password}".encode()).decode()
        self.headers = f"Host: {self.host}\r\nAuthorization: Basic {token}\r\n\r\n"
        self.streams: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None

    async def get(self, path: str) -> bytes:
        """The body of a 200 answer; RuntimeError for any other status."""
        if self.streams is None:
            self.streams = await asyncio.open_connection(self.host, self.port)
        reader, writer = self.streams
        try:
            writer.write(f"GET {path} HTTP/1.1\r\n{self.headers}".encode())
            head = await reader.readuntil(b"\r\n\r\n")
            fields = dict(line.split(b":", 1) for line in head.split(b"\r\n")[1:] if b":" in line)
            length = int({k.strip().lower(): v for k, v in fields.items()}[b"content-length"])
            body = await reader.readexactly(length)
        except BaseException:
            writer.close()
            self.streams = None
            raise
        status = int(head.split(b" ", 2)[1])
        if status != 200:
            raise RuntimeError(f"HTTP {status}")
        return body


HEADER = f"{'path':<22} {'reads':>8} {'reads/s':>9} {'p50 ms':>9} {'p99 ms':>9} {'errors':>7}"


async def load(
    name: str, clients: int, seconds: float, reader: Callable[[], Callable[[], Awaitable[None]]]
) -> Run:
    """`clients` loops, each calling its own `reader()` until `seconds` have passed."""
    run = Run(name)
    deadline = time.monotonic() + seconds

    async def client() -> None:
        read = reader()
        while time.monotonic() < deadline:
            started = time.perf_counter()
            try:
                await read()
            except Exception as exc:  # counted and shown, the loop goes on
                kind = type(exc).__name__
                if isinstance(exc, RPCError):
                    kind += f" {exc.status.name}"
                run.errors[kind] = run.errors.get(kind, 0) + 1
                continue
            run.latencies.append(time.perf_counter() - started)

    began = time.monotonic()
    await asyncio.gather(*(client() for _ in range(clients)))
    run.seconds = time.monotonic() - began
    return run


async def create_mcis(http: httpx.AsyncClient, per_cloud: int) -> None:
    """The namespace and a Running MCIS of `per_cloud` VMs on each of aws, gcp and azure."""
    (await http.post("/v1/ns", json={"name": NAMESPACE})).raise_for_status()
    groups = [g.format(n=per_cloud) for g in GROUPS]
    answer = await http.post(f"/v1/ns/{NAMESPACE}/mcis", json={"name": NAME, "groups": groups})
    answer.raise_for_status()
    deadline = time.monotonic() + READY_TIMEOUT_S
    while (view := (await http.get(answer.json()["status_url"])).json())["phase"] == "creating":
        if time.monotonic() > deadline:
            sys.exit(f"the MCIS was not created in {READY_TIMEOUT_S:.0f} s: {view['display']}")
        await asyncio.sleep(0.5)
    if view["status"] != "Running":
        sys.exit(f"the MCIS did not come up Running: {view['display']}")


async def bench(settings: Settings, clients: int, seconds: float, per_cloud: int) -> None:
    auth = (settings.api_username, settings.api_password)
    async with httpx.AsyncClient(
        base_url=api_url(settings), auth=auth, timeout=30, trust_env=False
    ) as http:
        await create_mcis(http, per_cloud)
    status_path = f"/v1/ns/{NAMESPACE}/mcis/{NAME}"

    def over_http() -> Callable[[], Awaitable[None]]:
        connection = KeepAlive(api_url(settings), *auth)

        async def read() -> None:
            json.loads(await connection.get(status_path))

        return read

    client = await Client.connect(
        settings.temporal_address,
        namespace=settings.temporal_namespace,
        data_converter=pydantic_data_converter,
    )
    handle = client.get_workflow_handle_for(McisWorkflow.run, mcis_workflow_id(NAMESPACE, NAME))

    def through_temporal() -> Callable[[], Awaitable[None]]:
        async def read() -> None:
            await handle.query(McisWorkflow.status)

        return read

    await load("warm-up", 10, 2.0, over_http)
    print(f"{clients} concurrent clients, {seconds:.0f} s each, MCIS of {3 * per_cloud} VMs")
    print(HEADER)
    for name, reader in (
        ("HTTP GET status", over_http),
        ("Temporal query direct", through_temporal),
    ):
        print((await load(name, clients, seconds, reader)).line(), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--vms-per-cloud", type=int, default=2)
    args = parser.parse_args()
    with private_stack(time_scale=TIME_SCALE) as (settings, _home):
        asyncio.run(bench(settings, args.clients, args.seconds, args.vms_per_cloud))


if __name__ == "__main__":
    main()
