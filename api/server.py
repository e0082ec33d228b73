"""Serving the API: `mcis api` runs the app (and the CB-Spider endpoints on their own port)
with uvicorn until stopped."""

from __future__ import annotations

import asyncio

import uvicorn

from api.app import create_app
from api.spider import create_spider_app
from settings import Settings

SHUTDOWN_GRACE_S = 3
"""On SIGTERM, how long open requests may go on: event streams never end by themselves."""


async def serve(settings: Settings) -> None:
    config = uvicorn.Config(
        create_app(settings),
        host=settings.api_bind,
        port=settings.api_port,
        log_level="warning",
        timeout_graceful_shutdown=SHUTDOWN_GRACE_S,
    )
    spider = uvicorn.Config(
        create_spider_app(settings),
        host=settings.api_bind,
        port=settings.spider_port,
        log_level="warning",
        timeout_graceful_shutdown=SHUTDOWN_GRACE_S,
    )
    await asyncio.gather(uvicorn.Server(config).serve(), uvicorn.Server(spider).serve())


def main() -> None:
    from settings import load_settings

    asyncio.run(serve(load_settings()))


if __name__ == "__main__":
    main()
