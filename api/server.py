"""Serving the API: `mcis api` runs the app (and the CB-Spider endpoints on their own port)
with uvicorn until stopped."""

from __future__ import annotations

import asyncio
import sys

import uvicorn
from fastapi import FastAPI

from api.app import create_app
from api.spider import create_spider_app
from settings import Settings
from starter.errors import FAILED, CliError
from starter.processes import port_in_use

SHUTDOWN_GRACE_S = 3
"""On SIGTERM, how long open requests may go on: event streams never end by themselves."""


def check_ports(settings: Settings) -> None:
    """One clear line, before anything starts, when a port is taken or cannot be bound (uvicorn
    would exit with a traceback)."""
    for what, variable, port in (
        ("API", "MCIS_API_PORT", settings.api_port),
        ("CB-Spider endpoints", "MCIS_SPIDER_PORT", settings.spider_port),
    ):
        where = f"cannot serve the {what} at {settings.api_bind}:{port}"
        try:
            taken = port_in_use(settings.api_bind, port)
        except OSError as exc:
            raise CliError(f"{where}: {exc.strerror} (MCIS_API_BIND)", FAILED) from None
        if taken:
            raise CliError(f"{where}: the port is in use (set {variable})", FAILED)


async def serve(settings: Settings) -> None:
    check_ports(settings)
    await asyncio.gather(
        _server(create_app(settings), settings, settings.api_port).serve(),
        _server(create_spider_app(settings), settings, settings.spider_port).serve(),
    )


def _server(app: FastAPI, settings: Settings, port: int) -> uvicorn.Server:
    config = uvicorn.Config(
        app,
        host=settings.api_bind,
        port=port,
        log_level="warning",
        timeout_graceful_shutdown=SHUTDOWN_GRACE_S,
    )
    return uvicorn.Server(config)


def main() -> None:
    from settings import load_settings

    try:
        asyncio.run(serve(load_settings()))
    except CliError as exc:
        sys.exit(f"mcis api: {exc.message}")


if __name__ == "__main__":
    main()
