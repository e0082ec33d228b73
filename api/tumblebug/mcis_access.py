"""Reading and acting on an MCIS for the Tumblebug MCIS and VM routes (`mcis.py`, `vm.py`):
a `vm` entry as an mcis group, the MCIS's status view (from its workflow, else the store) in
Tumblebug's shapes, and a lifecycle action of the whole MCIS or one VM sent to its workflow
through `starter/mcis_service.py`, refused in Tumblebug's words when the status forbids it or
another action is under way (`Suspend is not allowed for Terminated-(2/2) MCIS`)."""

from __future__ import annotations

from collections.abc import Callable

from pydantic import ValidationError

from api.errors import ApiError
from api.tumblebug.connections import resolve
from api.tumblebug.ids import checked_id, not_found
from api.tumblebug.images_specs import MCIS, registered_image, registered_spec
from api.tumblebug.models import KeptMcis, KeptVm, Message, VmReq
from api.tumblebug.ns import namespace_id
from api.tumblebug.state import CompatState
from api.tumblebug.status import McisShape, vm_id
from catalog.entries import Region
from models.lifecycle import OperationKind
from models.mcis import GroupRequest, McisView, VmView
from models.operations import OperationRequest
from models.records import McisPhase, McisRecord
from models.status import aggregate
from models.transitions import Action, plan_action
from starter.errors import CliError, validation_message
from starter.mcis_service import McisHandle, OperationRefusedError, accept_operation, current_view
from starter.views import is_running, mcis_handle
from starter.watch import all_vms

ACTIONS = {
    Action.SUSPEND: "Suspending",
    Action.RESUME: "Resuming",
    Action.REBOOT: "Rebooting",
    Action.TERMINATE: "Terminating",
}
"""The lifecycle actions of `?action=`, each with the word its answer starts with."""
STATUS = "status"


def lifecycle_action(action: str) -> Action:
    """The lifecycle action `?action=` names; 400 unless it is one."""
    known = [a.value for a in ACTIONS]
    if action not in known:
        raise ApiError(
            400, "bad_request", f"action {action!r} is not supported: {STATUS}, {', '.join(known)}"
        )
    return Action(action)


async def entry_group(state: CompatState, ns: str, entry: VmReq) -> tuple[GroupRequest, KeptVm]:
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


def kept_mcis(state: CompatState, ns: str, id: str) -> KeptMcis:
    found = state.registrations.get(ns, MCIS, id)
    return KeptMcis(name=id) if found is None else KeptMcis.model_validate(found)


async def shape_of(state: CompatState, namespace: str, view: McisView) -> McisShape:
    """The Tumblebug objects of the MCIS of `view`, with every VM and its region."""
    full = all_vms(state.ctx.store, view)
    regions: dict[tuple[str, str], Region] = {}
    for provider in {vm.provider for vm in full.vms} & set(state.ctx.drivers):
        for name, region in (await state.regions(provider)).items():
            regions[provider, name] = region
    return McisShape(full, kept_mcis(state, namespace, view.name), regions)


def existing_mcis(state: CompatState, ns: str, mcis: str) -> tuple[str, McisRecord]:
    """(namespace id, record) of an MCIS that exists; 404 otherwise."""
    namespace = namespace_id(state, ns)
    id = checked_id(mcis, "MCIS")
    record = state.ctx.store.get_mcis(namespace, id)
    if record is None or record.phase is McisPhase.DELETED:
        raise not_found("MCIS", id)
    return namespace, record


async def mcis_view(state: CompatState, record: McisRecord) -> McisView:
    """The MCIS's status from its workflow, or from the store's records when its workflow
    does not run (it failed, or Temporal lost it: `delete` rebuilds it)."""
    client = await state.ctx.client()
    handle = mcis_handle(client, record.namespace, record.name)
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


def finished(operation_id: int | None) -> Callable[[McisView], bool]:
    """Whether a view shows the operation `operation_id` ended."""

    def done(view: McisView) -> bool:
        return any(op.id == operation_id and op.finished for op in view.operations)

    return done


def operation_message(view: McisView, operation_id: int | None) -> str:
    """What the operation `operation_id` ended with ("" if the view does not show it)."""
    return next((op.message for op in view.operations if op.id == operation_id), "")


async def act(
    handle: McisHandle, shape: McisShape, action: Action, vm: VmView | None = None
) -> Message:
    """Start `action` on the whole MCIS, or on `vm`; refused (409) while another action is
    under way or when the status forbids it."""
    view = shape.view
    scope = [vm] if vm else view.vms
    what = f"{vm.status.value} VM" if vm else f"{shape.status} MCIS"
    refused = ApiError(409, "conflict", f"{action.value.capitalize()} is not allowed for {what}")
    plan = plan_action([(each.id, each.status) for each in scope], action)
    if view.operation is not None or not plan.allowed:
        raise refused
    if action is Action.TERMINATE and not plan.affected:
        return Message(message="No VM to terminate in the " + ("VM" if vm else "MCIS"))
    request = OperationRequest(kind=OperationKind(action.value), vm=vm.id if vm else None)
    try:
        await accept_operation(handle, request)
    except OperationRefusedError:
        raise refused from None
    return Message(message=f"{ACTIONS[action]} the {'VM' if vm else 'MCIS'}")


def find_vm(shape: McisShape, id: str) -> VmView:
    """The VM of the MCIS whose Tumblebug id (or mcis name) is `id`; 404 otherwise."""
    wanted = checked_id(id, "VM")
    found = next((vm for vm in shape.view.vms if wanted in (vm_id(vm), vm.id)), None)
    if found is None:
        raise not_found("VM", wanted, f"in the MCIS {shape.view.name}")
    return found
