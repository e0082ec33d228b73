"""One VM of a Tumblebug MCIS (`/tumblebug/ns/{ns}/mcis/{mcis}/vm[/{vm}]`): one more VM, made
from a `vm` entry as a group of one (as at create: `VM_03` is `vm-03`); a VM's object,
`?action=status` its STATUS entry, `?action=suspend|resume|reboot|terminate` the action on it
alone (`Suspending the VM`); and its removal (`Deleting the VM info`), terminated first."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, status

from api.errors import ApiError
from api.tumblebug.images_specs import MCIS
from api.tumblebug.mcis_access import (
    STATUS,
    act,
    entry_group,
    existing_mcis,
    find_vm,
    finished,
    kept_mcis,
    lifecycle_action,
    mcis_view,
    operation_message,
    shape_of,
)
from api.tumblebug.models import Message, VmInfo, VmReq, VmStatusInfo
from api.tumblebug.state import State
from api.tumblebug.status import vm_id
from models.lifecycle import OperationKind, OperationState
from models.operations import OperationRequest
from starter.mcis_service import accept_operation, add_group_request, current_view
from starter.views import running_handle
from starter.watch import watch

router = APIRouter(tags=["tumblebug mcis"])


@router.post("/ns/{ns}/mcis/{mcis}/vm", status_code=status.HTTP_201_CREATED)
async def add_vm(ns: str, mcis: str, body: VmReq, state: State) -> VmInfo:
    """One more VM (a group of one, as a `vm` entry of the create)."""
    namespace, record = existing_mcis(state, ns, mcis)
    id = record.name
    handle = await running_handle(state.ctx, namespace, id)
    group, kept_vm = await entry_group(state, namespace, body)
    request = await add_group_request(state.ctx, namespace, id, group, force=False)
    accepted = await accept_operation(handle, request)
    view = await watch(handle, finished(accepted.id), quiet=True)
    kept = kept_mcis(state, namespace, id)
    kept.vm[group.name] = kept_vm
    state.registrations.put(namespace, MCIS, id, kept.model_dump())
    shape = await shape_of(state, namespace, view)
    added = next((vm for vm in shape.view.vms if vm_id(vm) == group.name), None)
    if added is None:
        why = operation_message(view, accepted.id) or "it was not added"
        raise ApiError(409, "failed", f"The VM {group.name} was not added: {why}")
    return shape.vm_info(added)


@router.get("/ns/{ns}/mcis/{mcis}/vm/{vm}")
async def get_or_act(
    ns: str, mcis: str, vm: str, state: State, action: Annotated[str | None, Query()] = None
) -> VmInfo | VmStatusInfo | Message:
    """The VM; `?action=status`: its STATUS entry; `?action=suspend|...`: the action started."""
    namespace, record = existing_mcis(state, ns, mcis)
    if action is None or action == STATUS:
        shape = await shape_of(state, namespace, await mcis_view(state, record))
        found = find_vm(shape, vm)
        return shape.vm_info(found) if action is None else shape.vm_status(found)
    lifecycle = lifecycle_action(action)
    handle = await running_handle(state.ctx, namespace, record.name)
    shape = await shape_of(state, namespace, await current_view(handle))
    return await act(handle, shape, lifecycle, find_vm(shape, vm))


@router.delete("/ns/{ns}/mcis/{mcis}/vm/{vm}")
async def delete(ns: str, mcis: str, vm: str, state: State) -> Message:
    """Remove the VM from the MCIS (terminated at its cloud first), once it has done so."""
    namespace, record = existing_mcis(state, ns, mcis)
    handle = await running_handle(state.ctx, namespace, record.name)
    found = find_vm(await shape_of(state, namespace, await current_view(handle)), vm)
    request = OperationRequest(kind=OperationKind.REMOVE_VM, vm=found.id)
    accepted = await accept_operation(handle, request)
    view = await watch(handle, finished(accepted.id), quiet=True)
    ended = next((op for op in view.operations if op.id == accepted.id), None)
    if ended is None or ended.state is not OperationState.DONE:
        why = operation_message(view, accepted.id)
        raise ApiError(409, "failed", f"Deleting the VM {vm_id(found)} failed: {why}")
    remaining = state.ctx.store.list_vms(namespace, record.name)
    kept = kept_mcis(state, namespace, record.name)
    if (
        not any(v.group == found.group for v in remaining)
        and kept.vm.pop(found.group, None) is not None
    ):
        state.registrations.put(namespace, MCIS, record.name, kept.model_dump())  # entry gone
    return Message(message="Deleting the VM info")
