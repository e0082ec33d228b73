"""What the native API's noun routers share (namespaces, resources, catalog, remote,
benchmarks, policies, sweep): the `Ctx` parameter, request bodies that refuse unknown fields,
the DELETE answer and the 202 answer of a started workflow (its status URL answers a
`starter.runs_service.RunState`)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request, Response
from pydantic import BaseModel, ConfigDict

from api.context import context
from starter.context import Context

Ctx = Annotated[Context, Depends(context)]
"""The API's one Context, as a route parameter."""


class Body(BaseModel):
    """A request body: a field it does not know is an error (a typo is never ignored)."""

    model_config = ConfigDict(extra="forbid")


class Deleted(BaseModel):
    """What a DELETE answers (resources also name their kind)."""

    deleted: str
    kind: str | None = None


class Started(BaseModel):
    """A long operation's 202: its workflow and where to read its state."""

    workflow_id: str
    status_url: str


def started(
    request: Request, response: Response, workflow_id: str, route: str, **params: str
) -> Started:
    """The 202 of a started workflow whose status URL (also its `Location`) is the route
    `route` with `params` and the run's token (the last part of its workflow id) as `run`."""
    token = workflow_id.rsplit("/", 1)[-1]
    url = str(request.app.url_path_for(route, run=token, **params))
    response.status_code = 202
    response.headers["Location"] = url
    return Started(workflow_id=workflow_id, status_url=url)
