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
    context = ctx or Context(settings)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        try:
            yield
        finally:
            await context.aclose()

    app = FastAPI(title="mcis", version=VERSION, lifespan=lifespan)
    app.state.ctx = context
    app.state.status_reads = StatusReads(workflow_reader(context))
    install_error_handlers(app)

    @app.get("/health", tags=["health"])
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    app.include_router(native.router, prefix="/v1")
    app.include_router(tumblebug.router, prefix="/tumblebug")
    app.include_router(dashboard.router)
    app.add_middleware(BasicAuth, username=settings.api_username, password=settings.api_password)
    return app
