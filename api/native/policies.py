"""Native API: auto-control policies, one per MCIS (`/v1/ns/NS/mcis/NAME/policy`), as
`mcis policy`: register (the policy as JSON, the same fields as the YAML file), show (state,
recent samples, decisions and their outcomes; how an ended one ended), pause, resume, delete;
the namespace's policies (`/v1/ns/NS/policies`); and CPU load on the VMs to watch one act
(`POST .../load`, as `mcis load`)."""

from __future__ import annotations

from collections.abc import Awaitable

from fastapi import APIRouter, Request, Response
from pydantic import Field

from api.errors import ApiError
from api.native.common import Ctx, Started
from api.native.remote import Target, answer
from models.policy import Policy, PolicyView
from models.remote import RemoteWorkflowInput
from remote.load import start_load, stop_load
from starter import policy_service, remote_service
from starter.policy_service import NoPolicyError, PolicyExistsError, SimulatedLoad
from starter.runs_service import RunState

router = APIRouter(prefix="/ns/{ns}", tags=["policies"])


async def _existing(view: Awaitable[PolicyView]) -> PolicyView:
    """The view, or a 404 if the MCIS has no policy."""
    try:
        return await view
    except NoPolicyError as exc:
        raise ApiError(404, "not_found", exc.message) from None


@router.post("/mcis/{name}/policy", status_code=201)
async def create_policy(ctx: Ctx, ns: str, name: str, body: Policy) -> PolicyView:
    """Start auto-control of a live MCIS (409 if a policy already runs for it)."""
    try:
        return await policy_service.create_policy(ctx, ns, name, body)
    except PolicyExistsError as exc:
        raise ApiError(409, "conflict", exc.message) from None


@router.get("/mcis/{name}/policy")
async def show_policy(ctx: Ctx, ns: str, name: str) -> PolicyView:
    return await _existing(policy_service.policy_view(ctx, ns, name))


@router.post("/mcis/{name}/policy/pause")
async def pause_policy(ctx: Ctx, ns: str, name: str) -> PolicyView:
    return await _existing(policy_service.change_policy(ctx, ns, name, "pause"))


@router.post("/mcis/{name}/policy/resume")
async def resume_policy(ctx: Ctx, ns: str, name: str) -> PolicyView:
    return await _existing(policy_service.change_policy(ctx, ns, name, "resume"))


@router.delete("/mcis/{name}/policy")
async def delete_policy(ctx: Ctx, ns: str, name: str) -> PolicyView:
    """End the policy; its last status."""
    return await _existing(policy_service.change_policy(ctx, ns, name, "delete"))


@router.get("/policies")
async def list_policies(ctx: Ctx, ns: str) -> list[PolicyView]:
    return await policy_service.list_policies(ctx, ns)


class Load(Target):
    cpu: int = Field(default=90, ge=1, le=100, description="percent")
    duration: int = Field(default=120, ge=1, le=86_400, description="seconds")
    stop: bool = False


@router.post("/mcis/{name}/load", responses={202: {"model": Started}})
async def load(
    ctx: Ctx, request: Request, response: Response, ns: str, name: str, body: Load
) -> SimulatedLoad | Started | RunState:
    """CPU load on the VMs: simulated at once on phantom VMs (200), else a remote run (202)."""
    policy_service.check_load(body.cpu, body.duration, body.stop)
    query = remote_service.target_query(ctx, ns, name, body.group, body.vm)
    simulated = await policy_service.simulate_load(ctx, query, 0 if body.stop else body.cpu)
    if simulated is not None:
        return simulated
    command = stop_load() if body.stop else start_load(body.cpu, body.duration)
    inp = RemoteWorkflowInput(
        query=query, command=command, timeout_s=body.timeout_s, concurrency=body.concurrency
    )
    return await answer(ctx, request, response, inp, False, ns=ns, name=name)
