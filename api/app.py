"""The API application: routers of the native API, the CB-Tumblebug API and the dashboard on
one FastAPI app, HTTP Basic in front, JSON errors, OpenAPI at `/openapi.json`, docs at `/docs`."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from api import dashboard, native, tumblebug
from api.auth import BasicAuth
from api.errors import install_error_handlers
from api.native.status_reads import StatusReads, workflow_reader
from settings import Settings
from starter.context import Context

VERSION = "0.3.0"


def create_app(settings: Settings, ctx: Context | None = None) -> FastAPI:
    app = base_app("mcis", settings, ctx)
    app.state.status_reads = StatusReads(workflow_reader(app.state.ctx))

    @app.get("/health", tags=["health"])
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    app.include_router(native.router, prefix="/v1")
    app.include_router(tumblebug.router, prefix="/tumblebug")
    app.include_router(dashboard.router)
    return app


def base_app(title: str, settings: Settings, ctx: Context | None) -> FastAPI:
    """An app without routes on `ctx` (its own `Context` unless given one, closed when the app
    stops), with JSON errors and HTTP Basic in front; the CB-Spider endpoints' app is one too."""
    context = ctx or Context(settings)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        try:
            yield
        finally:
            await context.aclose()

    app = FastAPI(title=title, version=VERSION, lifespan=lifespan)
    app.state.ctx = context
    install_error_handlers(app)
    app.add_middleware(BasicAuth, username=settings.api_username, password=settings.api_password)
    return app
