"""Native API: an MCIS planned from filters and priorities, as `mcis create NS NAME --recommend`
does: `POST /v1/ns/{ns}/mcis/plan` with the spec filters of `GET /v1/recommend` as query
parameters and the plan's wishes (name, VM count, image OS, latency bound, spread) as its body.
It answers the plan and the request (`dry_run`), or starts the MCIS and answers its 202."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, Field

from api.native.catalog import MAX_TEXT, Filters
from api.native.common import Body, Ctx
from api.native.mcis import CREATE_OPERATION_ID, Accepted, accepted
from models.lifecycle import OperationKind, OperationRecord, OperationState
from models.mcis import MAX_DESCRIPTION, MAX_VMS_PER_MCIS, McisRequest, PartialFailurePolicy
from models.placement_plan import PlacementPlan
from starter.catalog_service import Priorities
from starter.mcis_service import start_mcis
from starter.placement_commands import DEFAULT_IMAGE_OS, PlacementWish, plan_request
from starter.views import checked_name

router = APIRouter(tags=["mcis"])

Text = Annotated[str | None, Field(max_length=MAX_TEXT)]


class PlanWish(Body):
    name: str = Field(max_length=MAX_TEXT)
    count: int = Field(ge=1, le=MAX_VMS_PER_MCIS, description="VMs in the MCIS")
    image_os: str = Field(default=DEFAULT_IMAGE_OS, max_length=MAX_TEXT)
    latency_bound_ms: float | None = Field(default=None, gt=0, le=1e6)
    min_regions: int = Field(default=1, ge=1, le=1000)
    min_providers: int = Field(default=1, ge=1, le=1000)
    priority: Text = Field(default=None, description="cost=0.6,latency=0.4")
    near: Text = Field(default=None, description="LAT,LON")
    latency_to: Text = Field(default=None, description="P/R,P/R")
    description: str = Field(default="", max_length=MAX_DESCRIPTION)
    on_partial_failure: PartialFailurePolicy = PartialFailurePolicy.CONTINUE
    dry_run: bool = False


class Planned(BaseModel):
    """A dry run's answer: the plan and the MCIS request it makes (nothing started)."""

    plan: PlacementPlan
    request: McisRequest


@router.post("/ns/{ns}/mcis/plan", status_code=202, response_model=Accepted | Planned)
async def plan_mcis(
    ns: str,
    body: PlanWish,
    query: Filters,
    response: Response,
    ctx: Ctx,
    dry_run: Annotated[bool, Query(description="plan only (also a body field)")] = False,
) -> Accepted | Planned:
    """Plan an MCIS among the specs the clouds here can create (the filters are those of `GET
    /v1/recommend`) and create it, answered at once as `POST /v1/ns/{ns}/mcis` is; with
    `dry_run`, 200 with the plan and its request."""
    ns = checked_name(ns, "namespace")
    wish = PlacementWish(
        name=body.name,
        count=body.count,
        query=query,
        priorities=Priorities(body.priority, body.near, body.latency_to),
        image_os=body.image_os,
        latency_bound_ms=body.latency_bound_ms,
        min_regions=body.min_regions,
        min_providers=body.min_providers,
        description=body.description,
        policy=body.on_partial_failure.value,
    )
    planned = await plan_request(ctx, ns, wish)
    if body.dry_run or dry_run:
        response.status_code = 200
        return Planned(plan=planned.plan, request=planned.request)
    handle = await start_mcis(ctx, ns, planned.request)
    record = OperationRecord(
        id=CREATE_OPERATION_ID,
        kind=OperationKind.CREATE,
        scope="mcis",
        state=OperationState.RUNNING,
    )
    return accepted(response, handle, ns, planned.request.name, record)
