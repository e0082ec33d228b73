"""Native API: MCIS create, status, list and delete, and every lifecycle and scale operation
at MCIS, group and VM level, through the same code as the CLI (`starter/mcis_service.py`).

What takes the cloud time answers 202 at once, as soon as the MCIS's workflow has accepted it:
the workflow id, the operation id and where to follow it (`status_url`, `operation_url`,
`events_url`, and `Location` naming the operation). Nothing here waits for a cloud."""

from __future__ import annotations

import inspect
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Query, Response
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from api.errors import ApiError
from api.native.common import Ctx
from api.native.status_reads import StatusReads, status_reads
from models.lifecycle import OperationKind, OperationRecord, OperationState
from models.mcis import MAX_VMS_PER_GROUP, GroupRequest, McisView, PartialFailurePolicy
from models.operations import OperationRequest
from starter.context import Context
from starter.errors import CliError, validation_message
from starter.mcis_service import (
    McisHandle,
    McisSummary,
    accept_delete,
    accept_operation,
    add_group_request,
    deletable_handle,
    group_from_text,
    list_mcis,
    scale_request,
    start_mcis,
)
from starter.requests import check_request, parse_request
from starter.views import checked_name, running_handle
from starter.watch import all_vms

router = APIRouter(tags=["mcis"])

CREATE_OPERATION_ID = 1
"""A new MCIS workflow's first operation record is its create."""
MCIS_ACTIONS = (
    OperationKind.SUSPEND,
    OperationKind.RESUME,
    OperationKind.REBOOT,
    OperationKind.TERMINATE,
    OperationKind.REFINE,
    OperationKind.RECONCILE,
    OperationKind.REFRESH,
)
"""Operations on the whole MCIS: `POST .../mcis/{name}/{action}`."""
SCOPED_ACTIONS = MCIS_ACTIONS[:5]
"""Lifecycle actions of one group or one VM: `POST .../groups/{group}/{action}`, `.../vms/..`."""
SCALE_ACTIONS = (OperationKind.SCALE_OUT, OperationKind.SCALE_IN)


class CreateMcis(BaseModel):
    """An MCIS request; each group is either a full group or the CLI's `--group` short form
    `SPEC_ID,IMAGE_ID,COUNT` (named `g1`, `g2`, ... by its position)."""

    model_config = ConfigDict(extra="forbid")

    name: str
    description: str = ""
    on_partial_failure: PartialFailurePolicy = PartialFailurePolicy.CONTINUE
    groups: list[GroupRequest | str] = Field(min_length=1)


class OperationOptions(BaseModel):
    """`force`: queue it behind the operation in flight instead of being refused as busy;
    `request_id`: the same id sent again returns the operation it started (no repeat)."""

    model_config = ConfigDict(extra="forbid")

    force: bool = False
    request_id: str | None = Field(default=None, max_length=200)


class Scale(OperationOptions):
    count: int = Field(ge=1, le=MAX_VMS_PER_GROUP)


class AddGroup(OperationOptions):
    """The new group: a full group, or `name` and the short form `SPEC_ID,IMAGE_ID,COUNT`."""

    group: GroupRequest | str
    name: str | None = None


Reads = Annotated[StatusReads, Depends(status_reads)]
Options = Annotated[OperationOptions | None, Body()]
"""An action's optional body."""


class Accepted(BaseModel):
    """An accepted long operation (202): where to follow it."""

    workflow_id: str
    operation_id: int
    kind: OperationKind
    scope: str
    state: OperationState
    status_url: str
    operation_url: str
    events_url: str


def _paths(ns: str, name: str) -> tuple[str, str]:
    base = f"/v1/ns/{ns}/mcis/{name}"
    return base, f"{base}/events"


def accepted(
    response: Response, handle: McisHandle, ns: str, name: str, record: OperationRecord
) -> Accepted:
    """The 202 answer of an accepted operation, `Location` naming the operation."""
    status_url, events_url = _paths(ns, name)
    operation_url = f"{status_url}/operations/{record.id}"
    response.headers["Location"] = operation_url
    return Accepted(
        workflow_id=handle.id,
        operation_id=record.id,
        kind=record.kind,
        scope=record.scope,
        state=record.state,
        status_url=status_url,
        operation_url=operation_url,
        events_url=events_url,
    )


def operation_request(
    kind: OperationKind, options: OperationOptions, **scope: Any
) -> OperationRequest:
    """The operation of a route's path and body; a bad name in the path is a 400."""
    try:
        return OperationRequest(
            kind=kind, force=options.force, request_id=options.request_id, **scope
        )
    except ValidationError as exc:
        raise CliError(validation_message(exc, f"{kind.value} request")) from None


async def operate(
    ctx: Context, response: Response, ns: str, name: str, request: OperationRequest
) -> Accepted:
    handle = await running_handle(ctx, ns, name)
    record = await accept_operation(handle, request)
    return accepted(response, handle, ns, name, record)


# --- MCIS ------------------------------------------------------------------------------------


@router.post("/ns/{ns}/mcis", status_code=202, response_model=Accepted)
async def create_mcis(ns: str, body: CreateMcis, response: Response, ctx: Ctx) -> Accepted:
    """Create an MCIS: checked against the namespace, the catalog and the store, its workflow
    started, answered at once (follow `status_url` until its phase is no longer `creating`)."""
    ns = checked_name(ns, "namespace")
    groups = [
        g.model_dump(exclude_none=True)
        if isinstance(g, GroupRequest)
        else group_from_text(f"g{index}", g).model_dump(exclude_none=True)
        for index, g in enumerate(body.groups, start=1)
    ]
    request = parse_request({**body.model_dump(exclude={"groups"}), "groups": groups})
    await check_request(ctx, ns, request)
    handle = await start_mcis(ctx, ns, request)
    record = OperationRecord(
        id=CREATE_OPERATION_ID,
        kind=OperationKind.CREATE,
        scope="mcis",
        state=OperationState.RUNNING,
    )
    return accepted(response, handle, ns, request.name, record)


@router.get("/ns/{ns}/mcis", response_model=list[McisSummary])
async def list_all(ns: str, ctx: Ctx) -> list[McisSummary]:
    """Every MCIS of the namespace with its phase and status."""
    return list_mcis(ctx, ns)


@router.get("/ns/{ns}/mcis/{name}", response_model=McisView)
async def status(ns: str, name: str, ctx: Ctx, reads: Reads) -> Response:
    """The MCIS's status with every VM (`mcis status --json`); 404 once it is deleted."""
    view = all_vms(ctx.store, await reads.current(ns, name))
    # serialized once, as the model is (not validated again: the most read route)
    return Response(view.model_dump_json(), media_type="application/json")


@router.get("/ns/{ns}/mcis/{name}/operations/{operation_id}", response_model=OperationRecord)
async def operation(ns: str, name: str, operation_id: int, reads: Reads) -> OperationRecord:
    """One operation: the one in flight or queued first, or one of the recent ones."""
    view = await reads.current(ns, name)
    known = {op.id: op for op in [*view.operations, *([view.operation] if view.operation else [])]}
    found = known.get(operation_id)
    if found is None:
        ids = ", ".join(str(i) for i in sorted(known)) or "none"
        raise ApiError(
            404,
            "not_found",
            f"operation {operation_id} is not among MCIS {name!r}'s recent operations "
            f"(known: {ids})",
        )
    return found


@router.delete("/ns/{ns}/mcis/{name}", status_code=202, response_model=Accepted)
async def delete_mcis(
    ns: str,
    name: str,
    response: Response,
    ctx: Ctx,
    force: Annotated[bool, Query(description="cancel the operation in flight")] = False,
) -> Accepted:
    """Delete the MCIS (terminate every VM, release its shared networks, end its policy);
    its status URL answers 404 once it is gone. An MCIS whose workflow is gone is rebuilt from
    the store first."""
    handle = await deletable_handle(ctx, ns, name)
    record = await accept_delete(ctx, handle, ns, name, force)
    if record is None:  # the workflow always names its delete; never a silent success
        raise ApiError(409, "failed", f"the delete of MCIS {name!r} was not recorded")
    return accepted(response, handle, ns, name, record)


# --- operations --------------------------------------------------------------------------------


def _add_action_routes() -> None:
    """One route per action and scope, so that OpenAPI lists each."""
    for kind in MCIS_ACTIONS:
        _add_route(kind.value, _action(kind, "mcis"), f"{kind.value} the MCIS")
    for kind in SCOPED_ACTIONS:
        _add_route(
            f"groups/{{group}}/{kind.value}", _action(kind, "group"), f"{kind.value} one group"
        )
        _add_route(f"vms/{{vm}}/{kind.value}", _action(kind, "vm"), f"{kind.value} one VM")
    for kind in SCALE_ACTIONS:
        summary = f"{kind.value} one group by `count` VMs"
        _add_route(f"groups/{{group}}/{kind.value}", _scale(kind), summary)


def _add_route(path: str, endpoint: Any, summary: str) -> None:
    """`POST /ns/{ns}/mcis/{name}/{path}`, answered 202."""
    router.add_api_route(
        f"/ns/{{ns}}/mcis/{{name}}/{path}",
        endpoint,
        methods=["POST"],
        status_code=202,
        response_model=Accepted,
        summary=summary,
    )


def _action(kind: OperationKind, scope: str) -> Any:
    """The route of `kind` on the whole MCIS (`scope` "mcis"), or on the one group or VM that
    the path parameter `scope` ("group", "vm") names."""

    async def route(
        ns: str, name: str, response: Response, ctx: Ctx, body: Options = None, **target: str
    ) -> Accepted:
        request = operation_request(kind, body or OperationOptions(), **target)
        return await operate(ctx, response, ns, name, request)

    # FastAPI reads the route's parameters from its signature: in place of `**target`, the
    # path parameter naming the group or VM (which `**target` then receives)
    *params, _target = inspect.signature(route).parameters.values()
    if scope != "mcis":
        kind_of = inspect.Parameter.POSITIONAL_OR_KEYWORD
        params.insert(2, inspect.Parameter(scope, kind_of, annotation=str))
    signature = inspect.Signature(params, return_annotation=Accepted)
    route.__signature__ = signature  # type: ignore[attr-defined]
    route.__name__ = f"{scope}_{kind.name.lower()}"
    return route


def _scale(kind: OperationKind) -> Any:
    async def route(
        ns: str, name: str, group: str, body: Scale, response: Response, ctx: Ctx
    ) -> Accepted:
        checked_name(group, "group name")
        request = scale_request(kind, group, body.count, body.force, body.request_id)
        return await operate(ctx, response, ns, name, request)

    route.__name__ = f"group_{kind.name.lower()}"
    return route


_add_action_routes()


@router.post("/ns/{ns}/mcis/{name}/groups", status_code=202, response_model=Accepted)
async def add_group(ns: str, name: str, body: AddGroup, response: Response, ctx: Ctx) -> Accepted:
    """Add a VM group: a full group, or `name` with `group` as `SPEC_ID,IMAGE_ID,COUNT`."""
    if isinstance(body.group, GroupRequest):
        if body.name is not None:
            raise CliError("give the group's name inside `group`, not both")
        group = body.group
    else:
        if body.name is None:
            raise CliError("give the new group's `name` with `group` SPEC_ID,IMAGE_ID,COUNT")
        group = group_from_text(body.name, body.group)
    request = await add_group_request(ctx, ns, name, group, body.force, request_id=body.request_id)
    return await operate(ctx, response, ns, name, request)


@router.delete("/ns/{ns}/mcis/{name}/vms/{vm}", status_code=202, response_model=Accepted)
async def remove_vm(
    ns: str,
    name: str,
    vm: str,
    response: Response,
    ctx: Ctx,
    force: bool = False,
    request_id: Annotated[str | None, Query(max_length=200)] = None,
) -> Accepted:
    """Drop one VM from the MCIS (terminated at its cloud)."""
    options = OperationOptions(force=force, request_id=request_id)
    request = operation_request(OperationKind.REMOVE_VM, options, vm=vm)
    return await operate(ctx, response, ns, name, request)
