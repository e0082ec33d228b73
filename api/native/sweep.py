"""Native API: the orphan sweep (`POST /v1/sweep`, as `mcis reconcile --all`): 202 with the
sweep workflow's id and its status URL (`GET /v1/sweep/RUN`: `running`, then `completed` with
the report of orphans, unrecorded VMs, drift and regions not scanned, or `failed`). With
`{"delete_orphans": true}` it terminates the orphans, each refused if its tags changed since
the scan. (Reconciling one MCIS is one of its operations, with the MCIS API.)"""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from api.native.common import Body, Ctx, Started, started
from starter import sweep_service
from starter.runs_service import RunState

router = APIRouter(prefix="/sweep", tags=["sweep"])


class Sweep(Body):
    delete_orphans: bool = False


@router.post("", status_code=202)
async def start_sweep(
    ctx: Ctx, request: Request, response: Response, body: Sweep | None = None
) -> Started:
    handle = await sweep_service.start_sweep(ctx, (body or Sweep()).delete_orphans)
    return started(request, response, handle.id, "sweep_run")


@router.get("/{run}")
async def sweep_run(ctx: Ctx, run: str) -> RunState:
    return await sweep_service.sweep_run(ctx, run)
