"""Tumblebug MCIS (`/tumblebug/ns/{ns}/mcis`): each `vm` entry is an mcis group of one VM
(group = the entry's id), with the registered spec and image as catalog ids and the entry's
vNet, security groups and SSH key as a static group's resources; the MCIS runs as mcis's MCIS
workflow, through `starter/mcis_service.py` like the CLI and the native API.

As Tumblebug 0.3: create answers 201 once the VMs exist; `?action=status` answers the STATUS
object; `?action=suspend|resume|reboot|terminate` answers at once (`Suspending the MCIS`) and
the client polls; an action the status forbids, or any while another is under way, is refused
(`Suspend is not allowed for Terminated-(2/2) MCIS`); delete answers `Deleting the MCIS info`
once the MCIS is gone (waiting for an action still under way first)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import APIRouter, Query, status
from pydantic import ValidationError

from api.errors import ApiError
from api.tumblebug.connections import resolve
from api.tumblebug.ids import already_exists, checked_id, not_found
from api.tumblebug.images_specs import MCIS, registered_image, registered_spec
from api.tumblebug.models import (
    NONE,
    KeptMcis,
    KeptVm,
    McisInfo,
    McisList,
    McisReq,
    McisStatusList,
    McisStatusReply,
    Message,
    VmInfo,
    VmReq,
)
from api.tumblebug.ns import namespace_id
from api.tumblebug.state import CompatState, State
from api.tumblebug.status import McisShape, vm_id
from catalog.entries import Region
from models.lifecycle import OperationKind
from models.mcis import GroupRequest, McisRequest, McisView, VmView
from models.naming import mcis_workflow_id
from models.operations import OperationRequest
from models.records import McisPhase, McisRecord
from models.status import aggregate
from models.transitions import Action, plan_action
from starter.errors import CliError, validation_message
from starter.mcis_service import (
    McisHandle,
    OperationRefusedError,
    accept_delete,
    accept_operation,
    add_group_request,
    current_view,
    deletable_handle,
    start_mcis,
)
from starter.requests import check_request
from starter.views import is_running, running_handle
from starter.watch import all_vms, watch
from workflows.mcis import McisWorkflow

router = APIRouter(tags=["tumblebug mcis"])

ACTIONS = {
    Action.SUSPEND: "Suspending",
    Action.RESUME: "Resuming",
    Action.REBOOT: "Rebooting",
    Action.TERMINATE: "Terminating",
}
"""The lifecycle actions of `?action=`, each with the word its answer starts with."""
STATUS = "status"


async def _group(state: CompatState, ns: str, entry: VmReq) -> tuple[GroupRequest, KeptVm]:
    """The mcis group of one `vm` entry, and what to keep of the entry."""
    place = await resolve(state, entry.connectionName)
    ids = {
        "spec": registered_spec(state, ns, entry.specId),
        "image": registered_image(state, ns, entry.imageId),
    }
    for what, registered in ids.items():
        if registered.place != (place.provider, place.region):
            raise ApiError(
                400,
                "bad_request",
                f"VM {entry.name}: its {what} is at {registered.provider} {registered.region}, "
                f"its connection {entry.connectionName} at {place.provider} {place.region}",
            )
    try:
        group = GroupRequest(
            name=checked_id(entry.name, "VM"),
            spec=ids["spec"],
            image=ids["image"],
            count=1,
            vnet=checked_id(entry.vNetId, "vNet"),
            subnet=checked_id(entry.subnetId, "subnet") if entry.subnetId else None,
            security_groups=[checked_id(sg, "securityGroup") for sg in entry.securityGroupIds],
            ssh_key=checked_id(entry.sshKeyId, "sshKey"),
        )
    except ValidationError as exc:
        raise CliError(validation_message(exc, f"VM {entry.name}")) from None
    return group, KeptVm(entry=entry, cloudType=place.cloud.lower(), zone=place.zone)


def _kept(state: CompatState, ns: str, id: str) -> KeptMcis:
    found = state.registrations.get(ns, MCIS, id)
    return KeptMcis(name=id) if found is None else KeptMcis.model_validate(found)


async def _shape(state: CompatState, namespace: str, view: McisView) -> McisShape:
    """The Tumblebug objects of the MCIS of `view`, with every VM and its region."""
    full = all_vms(state.ctx.store, view)
    regions: dict[tuple[str, str], Region] = {}
    for provider in {vm.provider for vm in full.vms} & set(state.ctx.drivers):
        for name, region in (await state.regions(provider)).items():
            regions[provider, name] = region
    return McisShape(full, _kept(state, namespace, view.name), regions)


def _existing(state: CompatState, ns: str, mcis: str) -> tuple[str, McisRecord]:
    """(namespace id, record) of an MCIS that exists; 404 otherwise."""
    namespace = namespace_id(state, ns)
    id = checked_id(mcis, "MCIS")
    record = state.ctx.store.get_mcis(namespace, id)
    if record is None or record.phase is McisPhase.DELETED:
        raise not_found("MCIS", id)
    return namespace, record


async def _view(state: CompatState, record: McisRecord) -> McisView:
    """The MCIS's status from its workflow, or from the store's records when its workflow
    does not run (it failed, or Temporal lost it: `delete` rebuilds it)."""
    client = await state.ctx.client()
    workflow_id = mcis_workflow_id(record.namespace, record.name)
    handle = client.get_workflow_handle_for(McisWorkflow.run, workflow_id)
    if await is_running(handle):
        return await current_view(handle)
    vms = state.ctx.store.list_vms(record.namespace, record.name)
    return McisView.build(
        record.namespace,
        record.name,
        record.uid,
        record.description,
        record.phase.value,
        aggregate([(vm.name, vm.status) for vm in vms]),
        [VmView.of(vm) for vm in vms],
    )


def _finished(operation_id: int | None) -> Callable[[McisView], bool]:
    """Whether a view shows the operation `operation_id` ended."""

    def done(view: McisView) -> bool:
        return any(op.id == operation_id and op.finished for op in view.operations)

    return done


def _message(view: McisView, operation_id: int | None) -> str:
    """What the operation `operation_id` ended with ("" if the view does not show it)."""
    return next((op.message for op in view.operations if op.id == operation_id), "")


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
        group, kept_vm = await _group(state, namespace, entry)
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
    return (await _shape(state, namespace, view)).info()


@router.get("/ns/{ns}/mcis")
async def list_all(
    ns: str, state: State, option: Annotated[str | None, Query()] = None
) -> McisList | McisStatusList:
    namespace = namespace_id(state, ns)
    shapes = [
        await _shape(state, namespace, await _view(state, record))
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
    namespace, record = _existing(state, ns, mcis)
    if action is None or action == STATUS:
        shape = await _shape(state, namespace, await _view(state, record))
        return shape.info() if action is None else McisStatusReply(status=shape.status_info())
    known = [a.value for a in ACTIONS]
    if action not in known:
        raise ApiError(
            400, "bad_request", f"action {action!r} is not supported: {STATUS}, {', '.join(known)}"
        )
    handle = await running_handle(state.ctx, namespace, record.name)
    shape = await _shape(state, namespace, await current_view(handle))
    return await _act(handle, shape, Action(action))


async def _act(handle: McisHandle, shape: McisShape, action: Action) -> Message:
    view = shape.view
    refused = ApiError(
        409, "conflict", f"{action.value.capitalize()} is not allowed for {shape.status} MCIS"
    )
    plan = plan_action([(vm.id, vm.status) for vm in view.vms], action)
    if view.operation is not None or view.target_action != NONE or not plan.allowed:
        raise refused
    if action is Action.TERMINATE and not plan.affected:
        return Message(message="No VM to terminate in the MCIS")
    try:
        await accept_operation(handle, OperationRequest(kind=OperationKind(action.value)))
    except OperationRefusedError:
        raise refused from None
    return Message(message=f"{ACTIONS[action]} the MCIS")


@router.delete("/ns/{ns}/mcis/{mcis}")
async def delete(ns: str, mcis: str, state: State) -> Message:
    namespace, record = _existing(state, ns, mcis)
    id = record.name
    handle = await deletable_handle(state.ctx, namespace, id)
    await watch(handle, lambda v: v.operation is None, quiet=True)  # an action under way ends
    accepted = await accept_delete(state.ctx, handle, namespace, id, force=False)
    delete_id = accepted.id if accepted else None
    view = await watch(handle, _finished(delete_id), quiet=True)
    if view.phase != McisPhase.DELETED.value:
        why = _message(view, delete_id)
        raise ApiError(409, "failed", f"Deleting the MCIS {id} failed: {why}")
    state.registrations.delete(namespace, MCIS, id)
    return Message(message="Deleting the MCIS info")


@router.post("/ns/{ns}/mcis/{mcis}/vm", status_code=status.HTTP_201_CREATED)
async def add_vm(ns: str, mcis: str, body: VmReq, state: State) -> VmInfo:
    """One more VM (a group of one, as a `vm` entry of the create)."""
    namespace, record = _existing(state, ns, mcis)
    id = record.name
    handle = await running_handle(state.ctx, namespace, id)
    group, kept_vm = await _group(state, namespace, body)
    request = await add_group_request(state.ctx, namespace, id, group, force=False)
    accepted = await accept_operation(handle, request)
    view = await watch(handle, _finished(accepted.id), quiet=True)
    kept = _kept(state, namespace, id)
    kept.vm[group.name] = kept_vm
    state.registrations.put(namespace, MCIS, id, kept.model_dump())
    shape = await _shape(state, namespace, view)
    added = next((vm for vm in shape.view.vms if vm_id(vm) == group.name), None)
    if added is None:
        why = _message(view, accepted.id) or "it was not added"
        raise ApiError(409, "failed", f"The VM {group.name} was not added: {why}")
    return shape.vm_info(added)
