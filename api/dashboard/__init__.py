"""The dashboard (`/`): a static page (HTML, JS, CSS in `static/`, no framework, no CDN) fed by
the native API, and `GET /dashboard/config` with what the page cannot know by itself (where
the Temporal UI is). Country shapes are `static/vendor/`, fetched by `make install` from npm's
world-atlas (Natural Earth); without them the map shows its grid and says so."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.responses import FileResponse
from pydantic import BaseModel

from api.context import context
from api.errors import ApiError
from starter.context import Context

STATIC = Path(__file__).parent / "static"

router = APIRouter(include_in_schema=False)


class DashboardConfig(BaseModel):
    temporal_ui_port: int
    temporal_namespace: str


@router.get("/")
async def index() -> FileResponse:
    return FileResponse(STATIC / "index.html")


@router.get("/dashboard/config", response_model=DashboardConfig)
async def config(ctx: Annotated[Context, Depends(context)]) -> DashboardConfig:
    return DashboardConfig(
        temporal_ui_port=ctx.settings.temporal_ui_port,
        temporal_namespace=ctx.settings.temporal_namespace,
    )


@router.get("/dashboard/{path:path}")
async def static_file(path: str) -> FileResponse:
    """A file of `static/`; nothing outside it."""
    wanted = (STATIC / path).resolve()
    if not wanted.is_relative_to(STATIC.resolve()) or not wanted.is_file():
        raise ApiError(404, "not_found", f"no dashboard file {path!r}")
    return FileResponse(wanted)
