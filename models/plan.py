"""Pure planning of an MCIS: which VMs to create from a request, and their replacements."""

from __future__ import annotations

from models.mcis import GroupRequest, McisRequest
from models.naming import shared_resource_name, vm_client_token, vm_name
from models.operations import PlanGroupInput
from models.records import VmRecord
from models.status import VmStatus


def plan_group(
    namespace: str,
    mcis: str,
    uid: str,
    group: GroupRequest,
    first_index: int = 1,
    first_serial: int = 0,
) -> list[VmRecord]:
    """VM records for `group.count` VMs named `{group}-{n}` from `first_index` on, with serials
    from `first_serial` on (0: the tokens of release 0.1, from names). `uid` scopes the tokens:
    the MCIS uid (with a rebuilt MCIS's epoch)."""
    provider, region = group.spec.place
    if group.is_static:
        vnet, sgs, key = group.vnet or "", list(group.security_groups or []), group.ssh_key or ""
    else:
        shared = shared_resource_name(provider, region)
        vnet, sgs, key = shared, [shared], shared
    vms = []
    for offset in range(group.count):
        name = vm_name(group.name, first_index + offset)
        serial = first_serial + offset if first_serial else 0
        vms.append(
            VmRecord(
                namespace=namespace,
                mcis=mcis,
                name=name,
                group=group.name,
                provider=provider,
                region=region,
                spec=group.spec,
                image=group.image,
                client_token=vm_client_token(namespace, mcis, uid, name, serial=serial),
                serial=serial,
                vnet=vnet,
                security_groups=sgs,
                ssh_key=key,
            )
        )
    return vms


def planned_group(plan: PlanGroupInput) -> list[VmRecord]:
    """The VMs `plan` stands for (as a workflow and an activity both compute them)."""
    return plan_group(
        plan.namespace, plan.mcis, plan.token_scope, plan.group, plan.first_index, plan.first_serial
    )


def group_plans(
    namespace: str, request: McisRequest, uid: str, first_serial: int = 0
) -> list[PlanGroupInput]:
    """The plan of each group of a new MCIS, serials counting from `first_serial` (0: release
    0.1 tokens) over the groups in order."""
    plans: list[PlanGroupInput] = []
    for group in request.groups:
        serial = first_serial + sum(p.group.count for p in plans) if first_serial else 0
        plans.append(
            PlanGroupInput(
                namespace=namespace,
                mcis=request.name,
                token_scope=uid,
                group=group,
                first_serial=serial,
            )
        )
    return plans


def plan_vms(
    namespace: str, request: McisRequest, uid: str, first_serial: int = 0
) -> list[VmRecord]:
    """Every VM of a new MCIS, serials counting from `first_serial` (0: release 0.1 tokens)."""
    plans = group_plans(namespace, request, uid, first_serial)
    return [vm for plan in plans for vm in planned_group(plan)]


def replacement(vm: VmRecord, uid: str, serial: int = 0) -> VmRecord:
    """A fresh VM to stand in for a failed one: same name and place, next attempt, new token
    (from the new `serial`; 0: the release 0.1 token from name and attempt)."""
    attempt = vm.attempt + 1
    token = vm_client_token(vm.namespace, vm.mcis, uid, vm.name, attempt, serial)
    return vm.model_copy(
        update={
            "attempt": attempt,
            "serial": serial,
            "client_token": token,
            "csp_id": None,
            "status": VmStatus.CREATING,
            "native_status": None,
            "public_ip": None,
            "private_ip": None,
            "error": None,
            "created_at": None,
            "listed": False,
        }
    )


def call_waves(vms: list[VmRecord], per_region: int, per_provider: int) -> list[list[str]]:
    """The VMs' names in waves of cloud calls: each wave at most `per_region` VMs of a region
    and `per_provider` of a cloud, every VM in the first wave with room, order kept."""
    waves: list[list[str]] = []
    regions: list[dict[tuple[str, str], int]] = []
    providers: list[dict[str, int]] = []
    for vm in vms:
        region = (vm.provider, vm.region)
        at = 0
        while at < len(waves) and (
            regions[at].get(region, 0) >= per_region
            or providers[at].get(vm.provider, 0) >= per_provider
        ):
            at += 1
        if at == len(waves):
            waves.append([])
            regions.append({})
            providers.append({})
        waves[at].append(vm.name)
        regions[at][region] = regions[at].get(region, 0) + 1
        providers[at][vm.provider] = providers[at].get(vm.provider, 0) + 1
    return waves
