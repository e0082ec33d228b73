"""What the native API's noun routers share (namespaces, resources, catalog, remote,
benchmarks, policies, sweep): the `Ctx` parameter, the DELETE answer and the 202 answer of a
started workflow (its status URL answers a `starter.runs_service.RunState`)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends
from pydantic import BaseModel

from api.context import context
from starter.context import Context

Ctx = Annotated[Context, Depends(context)]
"""The API's one Context, as a route parameter."""


class Deleted(BaseModel):
    """What a DELETE answers (resources also name their kind)."""

    deleted: str
    kind: str | None = None


class Started(BaseModel):
    """A long operation's 202: its workflow and where to read its state."""

    workflow_id: str
    status_url: str
