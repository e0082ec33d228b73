"""Native API: remote operations on the VMs of an MCIS (`/v1/ns/NS/mcis/NAME/...`), as
`mcis cmd|put|deploy|access`; `group` or `vm` in the body narrows them as `--group`/`--vm` do.

A command, a file put or a deploy runs as a remote workflow and answers **202** with its
`workflow_id` and `status_url` (`GET .../remote/RUN`, or `.../deploy/APP/RUN`: `running`, then
`completed` with a result per VM, or `failed`); with `?wait=true` it answers **200** with that
completed state once the workflow ends (bounded by `timeout_s` per VM, as `mcis cmd` waits).
`GET .../access` shows how to reach the VMs, their SSH private keys only with
`?include_private_key=true`."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel, Field
from temporalio.client import WorkflowFailureError, WorkflowHandle

from api.errors import ApiError
from api.native.common import Body, Ctx, Started, started
from models.apps import APPS
from models.failures import failure_message
from models.naming import NAME_MAX_LENGTH
from models.remote import MAX_CONCURRENCY, MAX_TIMEOUT_S, RemoteResult, RemoteWorkflowInput
from starter import remote_service
from starter.context import Context
from starter.errors import CliError
from starter.remote_service import MAX_UPLOAD_BYTES
from starter.runs_service import COMPLETED, FAILED, RunState

router = APIRouter(prefix="/ns/{ns}/mcis/{name}", tags=["remote"])

MAX_COMMAND_CHARS = 100_000
Wait = Annotated[bool, Query(description="answer 200 once the workflow has ended")]


class Target(Body):
    """Which VMs (the whole MCIS unless `group` or `vm`), how long each may take, how many at
    once."""

    group: str | None = Field(default=None, max_length=NAME_MAX_LENGTH)
    vm: str | None = Field(default=None, max_length=NAME_MAX_LENGTH)
    timeout_s: float = Field(default=120.0, gt=0, le=MAX_TIMEOUT_S)
    concurrency: int = Field(default=50, ge=1, le=MAX_CONCURRENCY)


class Command(Target):
    command: str = Field(min_length=1, max_length=MAX_COMMAND_CHARS)


class PutFile(Target):
    destination: str = Field(min_length=1, max_length=4096, description="absolute path")
    content_base64: str = Field(max_length=(MAX_UPLOAD_BYTES + 2) // 3 * 4)


class Access(BaseModel):
    vms: list[dict[str, Any]]
    private_keys: dict[str, str] | None = None


def _input(ctx: Context, ns: str, name: str, target: Target, **what: Any) -> RemoteWorkflowInput:
    return RemoteWorkflowInput(
        query=remote_service.target_query(ctx, ns, name, target.group, target.vm),
        timeout_s=target.timeout_s,
        concurrency=target.concurrency,
        **what,
    )


async def answer(
    ctx: Context,
    request: Request,
    response: Response,
    inp: RemoteWorkflowInput,
    wait: bool,
    shown: Callable[[list[RemoteResult]], Any] | None = None,
    route: str = "remote_run",
    **params: str,
) -> Started | RunState:
    """Start the remote workflow; 202 with where to follow it (the route `route` with
    `params`), or (`wait`) its end state; `shown` turns its results into what the caller
    sees."""
    handle: WorkflowHandle[Any, Any] = await remote_service.start_remote(ctx, inp)
    if not wait:
        return started(request, response, handle.id, route, **params)
    try:
        results = await remote_service.remote_results(ctx, handle, handle.result_run_id or "")
    except WorkflowFailureError as exc:
        return RunState(workflow_id=handle.id, state=FAILED, error=failure_message(exc))
    return RunState(
        workflow_id=handle.id, state=COMPLETED, result=shown(results) if shown else results
    )


@router.post("/cmd", status_code=200, responses={202: {"model": Started}})
async def run_command(
    ctx: Ctx,
    request: Request,
    response: Response,
    ns: str,
    name: str,
    body: Command,
    wait: Wait = False,
) -> Started | RunState:
    """Run a shell command on the VMs (each sees MCIS_VM, MCIS_IP, ... in its environment)."""
    inp = _input(ctx, ns, name, body, command=body.command)
    return await answer(ctx, request, response, inp, wait, ns=ns, name=name)


@router.post("/put", status_code=200, responses={202: {"model": Started}})
async def put_file(
    ctx: Ctx,
    request: Request,
    response: Response,
    ns: str,
    name: str,
    body: PutFile,
    wait: Wait = False,
) -> Started | RunState:
    """Copy a file (its bytes base64-encoded, up to 16 MiB) to `destination` on the VMs."""
    try:
        content = base64.b64decode(body.content_base64, validate=True)
    except (binascii.Error, ValueError):
        raise CliError("content_base64 is not valid base64") from None
    remote_service.check_destination(body.destination)
    query = remote_service.target_query(ctx, ns, name, body.group, body.vm)
    ref = remote_service.upload(ctx, content, "the file")
    inp = RemoteWorkflowInput(
        query=query,
        file_ref=ref,
        destination=body.destination,
        timeout_s=body.timeout_s,
        concurrency=body.concurrency,
    )
    return await answer(ctx, request, response, inp, wait, ns=ns, name=name)


def _app(app: str) -> str:
    if app not in APPS:
        raise ApiError(404, "not_found", f"unknown app {app!r} (apps: {', '.join(sorted(APPS))})")
    return APPS[app]


@router.post("/deploy/{app}", status_code=200, responses={202: {"model": Started}})
async def deploy(
    ctx: Ctx,
    request: Request,
    response: Response,
    ns: str,
    name: str,
    app: str,
    body: Target | None = None,
    wait: Wait = False,
) -> Started | RunState:
    """Deploy an app on the VMs; its result: per VM `{vm, ready, url, error}`."""
    inp = _input(ctx, ns, name, body or Target(), command=_app(app))
    return await answer(
        ctx,
        request,
        response,
        inp,
        wait,
        lambda results: remote_service.deploy_rows(ctx, ns, name, results),
        "deploy_run",
        ns=ns,
        name=name,
        app=app,
    )


@router.get("/remote/{run}")
async def remote_run(ctx: Ctx, ns: str, name: str, run: str) -> RunState:
    """A command's or a put's run: its state, and once ended each VM's result."""
    return await remote_service.remote_run(ctx, ns, name, run)


@router.get("/deploy/{app}/{run}")
async def deploy_run(ctx: Ctx, ns: str, name: str, app: str, run: str) -> RunState:
    """A deploy's run: its state, and once ended `{vm, ready, url, error}` per VM."""
    _app(app)
    state = await remote_service.remote_run(ctx, ns, name, run)
    if state.state == COMPLETED:
        state.result = remote_service.deploy_rows(ctx, ns, name, state.result)
    return state


@router.get("/access")
async def access(ctx: Ctx, ns: str, name: str, include_private_key: bool = False) -> Access:
    """User, address, port, status and SSH key of each VM; the keys only when asked."""
    vms = remote_service.mcis_vms(ctx, ns, name)
    keys = remote_service.private_keys(ctx, ns, vms) if include_private_key else None
    return Access(vms=remote_service.access_rows(vms), private_keys=keys)


@router.delete("/host-keys")
async def forget_host_keys(ctx: Ctx, ns: str, name: str) -> dict[str, int]:
    """Forget the VMs' recorded host keys (after they were rebuilt), as `access
    --forget-host-keys`."""
    vms = remote_service.mcis_vms(ctx, ns, name)
    remote_service.forget_host_keys(ctx, vms)
    return {"forgotten": len(vms)}
