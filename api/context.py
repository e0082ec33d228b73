"""The API's one `Context` (settings, store, Temporal client, drivers), shared by every request
as the CLI's commands share theirs; routes get it with `Depends(context)`."""

from __future__ import annotations

from fastapi import Request

from starter.context import Context


def context(request: Request) -> Context:
    ctx: Context = request.app.state.ctx
    return ctx
