"""Tumblebug MCIS (`/tumblebug/ns/{ns}/mcis`): each `vm` entry is an mcis group of one VM
(group = the entry's id), with the registered spec and image as catalog ids and the entry's
vNet, security groups and SSH key as a static group's resources; the MCIS runs as mcis's MCIS
workflow, through `starter/mcis_service.py` like the CLI and the native API.

As Tumblebug 0.3: create answers 201 once the VMs exist; `?action=status` answers the STATUS
object; `?action=suspend|resume|reboot|terminate` answers at once (`Suspending the MCIS`) and
the client polls; an action the status forbids, or any while another is under way, is refused
(`Suspend is not allowed for Terminated-(2/2) MCIS`); delete answers `Deleting the MCIS info`
once the MCIS is gone (waiting for an action still under way first). One VM's routes: `vm.py`."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, status
from pydantic import ValidationError

from api.errors import ApiError
from api.tumblebug.ids import already_exists, checked_id
from api.tumblebug.images_specs import MCIS
from api.tumblebug.mcis_access import (
    STATUS,
    act,
    entry_group,
    existing_mcis,
    finished,
    lifecycle_action,
    mcis_view,
    operation_message,
    shape_of,
)
from api.tumblebug.models import (
    KeptMcis,
    McisInfo,
    McisList,
    McisReq,
    McisStatusList,
    McisStatusReply,
    Message,
)
from api.tumblebug.ns import namespace_id
from api.tumblebug.state import State
from models.mcis import McisRequest
from models.records import McisPhase
from starter.errors import CliError, validation_message
from starter.mcis_service import accept_delete, current_view, deletable_handle, start_mcis
from starter.requests import check_request
from starter.views import running_handle
from starter.watch import watch

router = APIRouter(tags=["tumblebug mcis"])


@router.post("/ns/{ns}/mcis", status_code=status.HTTP_201_CREATED)
async def create(ns: str, body: McisReq, state: State) -> McisInfo:
    namespace = namespace_id(state, ns)
    id = checked_id(body.name, "MCIS")
    if state.ctx.store.get_mcis(namespace, id) is not None:
        raise already_exists("MCIS", id)
    kept = KeptMcis(
        name=body.name,
        installMonAgent=body.installMonAgent,
        label=body.label,
        placement_algo=body.placement_algo,
    )
    groups = []
    for entry in body.vm:
        group, kept_vm = await entry_group(state, namespace, entry)
        groups.append(group)
        kept.vm[group.name] = kept_vm
    try:
        request = McisRequest(name=id, description=body.description, groups=groups)
    except ValidationError as exc:
        raise CliError(validation_message(exc, "MCIS")) from None
    await check_request(state.ctx, namespace, request)
    handle = await start_mcis(state.ctx, namespace, request)
    state.registrations.put(namespace, MCIS, id, kept.model_dump())
    view = await watch(handle, lambda v: v.phase != McisPhase.CREATING.value, quiet=True)
    return (await shape_of(state, namespace, view)).info()


@router.get("/ns/{ns}/mcis")
async def list_all(
    ns: str, state: State, option: Annotated[str | None, Query()] = None
) -> McisList | McisStatusList:
    namespace = namespace_id(state, ns)
    shapes = [
        await shape_of(state, namespace, await mcis_view(state, record))
        for record in state.ctx.store.list_mcis(namespace)
        if record.phase is not McisPhase.DELETED
    ]
    if option == STATUS:
        return McisStatusList(mcis=[shape.status_info() for shape in shapes])
    return McisList(mcis=[shape.info() for shape in shapes])


@router.get("/ns/{ns}/mcis/{mcis}")
async def get_or_act(
    ns: str, mcis: str, state: State, action: Annotated[str | None, Query()] = None
) -> McisInfo | McisStatusReply | Message:
    """The MCIS; `?action=status`: its STATUS; `?action=suspend|resume|reboot|terminate`: the
    action started."""
    namespace, record = existing_mcis(state, ns, mcis)
    if action is None or action == STATUS:
        shape = await shape_of(state, namespace, await mcis_view(state, record))
        return shape.info() if action is None else McisStatusReply(status=shape.status_info())
    lifecycle = lifecycle_action(action)
    handle = await running_handle(state.ctx, namespace, record.name)
    return await act(
        handle, await shape_of(state, namespace, await current_view(handle)), lifecycle
    )


@router.delete("/ns/{ns}/mcis/{mcis}")
async def delete(ns: str, mcis: str, state: State) -> Message:
    namespace, record = existing_mcis(state, ns, mcis)
    id = record.name
    handle = await deletable_handle(state.ctx, namespace, id)
    await watch(handle, lambda v: v.operation is None, quiet=True)  # an action under way ends
    accepted = await accept_delete(state.ctx, handle, namespace, id, force=False)
    delete_id = accepted.id if accepted else None
    view = await watch(handle, finished(delete_id), quiet=True)
    if view.phase != McisPhase.DELETED.value:
        why = operation_message(view, delete_id)
        raise ApiError(409, "failed", f"Deleting the MCIS {id} failed: {why}")
    state.registrations.delete(namespace, MCIS, id)
    return Message(message="Deleting the MCIS info")
