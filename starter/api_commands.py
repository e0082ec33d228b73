"""`mcis api`: serve the REST API (native `/v1`, CB-Tumblebug `/tumblebug`, the dashboard) and
the CB-Spider endpoints until stopped."""

from __future__ import annotations

import argparse

from starter.context import Context


async def serve(ctx: Context, args: argparse.Namespace) -> int:
    from api.server import serve as serve_api  # FastAPI and uvicorn: for this command only

    await serve_api(ctx.settings)
    return 0
