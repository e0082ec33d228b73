"""`mcis api`: serve the REST API (native `/v1`, CB-Tumblebug `/tumblebug`, the dashboard) and
the CB-Spider endpoints until stopped."""

from __future__ import annotations

import argparse

from api.server import serve as serve_api
from starter.context import Context


async def serve(ctx: Context, args: argparse.Namespace) -> int:
    await serve_api(ctx.settings)
    return 0
