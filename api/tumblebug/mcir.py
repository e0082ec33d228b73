"""Tumblebug vNets, security groups and SSH keys (`/tumblebug/ns/{ns}/resources/{vNet,
securityGroup,sshKey}`): mcis resources made through the resource workflow like the CLI's
(`starter/resource_service.py`), at the cloud region of the Spider connection they name. What
mcis's record does not hold (the given name, the connection, subnet CIDRs, the user name) is
kept as a registration. A resource in use (by a VM, or a vNet by a security group) is not
deleted: the answer says "dependency", and clients retry."""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from typing import Any, TypeVar

from fastapi import APIRouter, status
from pydantic import BaseModel

from api.errors import ApiError
from api.tumblebug.connections import Place, resolve
from api.tumblebug.ids import already_exists, checked_id, not_found
from api.tumblebug.models import (
    FirewallRuleInfo,
    KeptResource,
    Message,
    SecurityGroupInfo,
    SecurityGroupList,
    SecurityGroupReq,
    SshKeyInfo,
    SshKeyList,
    SshKeyReq,
    SubnetInfo,
    VNetInfo,
    VNetList,
    VNetReq,
)
from api.tumblebug.ns import namespace_id
from api.tumblebug.state import CompatState, State
from models.cloud import FirewallRule, SubnetSpec
from models.naming import cloud_resource_name
from models.records import ResourceKind, ResourceRecord
from starter.resource_service import (
    KINDS,
    PROTOCOLS,
    create_resource,
    delete_resource,
    list_resources,
    private_key,
)

router = APIRouter(tags=["tumblebug resources"])

TYPES = {
    ResourceKind.VNET: "vNet",
    ResourceKind.SECURITY_GROUP: "securityGroup",
    ResourceKind.SSH_KEY: "sshKey",
}
"""Each kind as Tumblebug's paths (and messages) name it."""
SERVICE_KINDS = {kind: name for name, kind in KINDS.items()}
"""Each kind as `starter/resource_service.py` names it."""
Info = TypeVar("Info", bound=BaseModel)


def _kept(state: CompatState, record: ResourceRecord) -> KeptResource:
    found = state.registrations.get(record.namespace, TYPES[record.kind], record.name)
    if found is None:  # made through the CLI or the native API
        return KeptResource(name=record.name, connectionName="")
    return KeptResource.model_validate(found)


def _existing(state: CompatState, ns: str, kind: ResourceKind, id: str) -> ResourceRecord:
    id = checked_id(id, TYPES[kind])
    record = state.ctx.store.get_resource(ns, kind, id)
    if record is None:
        raise not_found(TYPES[kind], id)
    return record


async def _place(
    state: CompatState, ns: str, kind: ResourceKind, kept: KeptResource
) -> tuple[str, Place]:
    """The id of a new resource and where its connection leads; 409 if the id is taken."""
    id = checked_id(kept.name, TYPES[kind])
    if state.ctx.store.get_resource(ns, kind, id) is not None:
        raise already_exists(TYPES[kind], id)
    return id, await resolve(state, kept.connectionName)


def _keep(
    state: CompatState, ns: str, kind: ResourceKind, kept: KeptResource, made: ResourceRecord | None
) -> ResourceRecord:
    """Keep what the client said of the resource mcis made."""
    id = checked_id(kept.name, TYPES[kind])
    if made is None:
        raise ApiError(409, "failed", f"The {TYPES[kind]} {id} was not created")
    state.registrations.put(ns, TYPES[kind], id, kept.model_dump())
    return made


async def _create(
    state: CompatState, ns: str, kind: ResourceKind, kept: KeptResource, **details: Any
) -> ResourceRecord:
    """Make the resource through the resource workflow (`details`: `create_resource`'s) at
    the region of its connection, and keep what the client said of it."""
    id, place = await _place(state, ns, kind, kept)
    made = await create_resource(
        state.ctx, SERVICE_KINDS[kind], ns, id, place.provider, place.region, **details
    )
    return _keep(state, ns, kind, kept, made)


def _refuse_if_used(state: CompatState, record: ResourceRecord) -> None:
    what = f"The {TYPES[record.kind]} {record.name}"
    users = state.ctx.store.resource_users(record.namespace, record.kind, record.name)
    if users:
        raise ApiError(
            409,
            "conflict",
            f"{what} has a dependency: MCIS {', '.join(users)} uses it; delete them first",
        )
    if record.kind is ResourceKind.VNET:
        groups = [
            sg.name
            for sg in state.ctx.store.list_resources(record.namespace, ResourceKind.SECURITY_GROUP)
            if sg.details.get("vnet") == record.name
        ]
        if groups:
            raise ApiError(
                409,
                "conflict",
                f"{what} has a dependency: securityGroup {', '.join(groups)} is in it; "
                "delete them first",
            )


async def _delete(state: CompatState, ns: str, kind: ResourceKind, id: str) -> Message:
    namespace = namespace_id(state, ns)
    record = _existing(state, namespace, kind, id)
    _refuse_if_used(state, record)
    await delete_resource(state.ctx, namespace, SERVICE_KINDS[kind], record.name)
    state.registrations.delete(namespace, TYPES[kind], record.name)
    return Message(message=f"The {TYPES[kind]} {record.name} has been deleted")


def _records(state: CompatState, ns: str, kind: ResourceKind) -> list[ResourceRecord]:
    return [r for r in list_resources(state.ctx, ns, SERVICE_KINDS[kind]) if not r.shared]


def _add_reads(
    kind: ResourceKind,
    shown: Callable[[CompatState, ResourceRecord], Info],
    info: type[Info],
    listing: type[BaseModel],
) -> None:
    """The routes listing, showing (as `shown` makes it) and deleting the resources of `kind`,
    at the paths Tumblebug names it in."""
    path = f"/ns/{{ns}}/resources/{TYPES[kind]}"

    async def list_all(ns: str, state: State) -> Any:
        records = _records(state, namespace_id(state, ns), kind)
        return listing.model_validate({TYPES[kind]: [shown(state, r) for r in records]})

    async def get_one(ns: str, id: str, state: State) -> Any:
        return shown(state, _existing(state, namespace_id(state, ns), kind, id))

    async def delete_one(ns: str, id: str, state: State) -> Message:
        return await _delete(state, ns, kind, id)

    name = kind.value
    router.add_api_route(
        path, list_all, methods=["GET"], response_model=listing, name=f"list_{name}s"
    )
    router.add_api_route(
        f"{path}/{{id}}", get_one, methods=["GET"], response_model=info, name=f"get_{name}"
    )
    router.add_api_route(f"{path}/{{id}}", delete_one, methods=["DELETE"], name=f"delete_{name}")


# --- vNet -------------------------------------------------------------------------------------


def _vnet(state: CompatState, record: ResourceRecord) -> VNetInfo:
    kept = _kept(state, record)
    subnets = kept.subnetInfoList or [
        SubnetInfo(Name=name, IPv4_CIDR="") for name in record.details.get("subnets", {})
    ]
    return VNetInfo(
        id=record.name,
        name=kept.name,
        connectionName=kept.connectionName,
        cidrBlock=record.details.get("cidr", ""),
        subnetInfoList=subnets,
        description=kept.description,
        cspVNetId=record.csp_id,
        cspVNetName=cloud_resource_name(record.namespace, record.name),
    )


def _check_cidr(cidr: str) -> None:
    """400 unless `cidr` is an IPv4 network ("" is none: the default)."""
    try:
        if cidr:
            ipaddress.IPv4Network(cidr, strict=False)
    except ValueError:
        raise ApiError(400, "bad_request", f"{cidr!r} is no IPv4 CIDR block") from None


@router.post("/ns/{ns}/resources/vNet", status_code=status.HTTP_201_CREATED)
async def create_vnet(ns: str, body: VNetReq, state: State) -> VNetInfo:
    for cidr in (body.cidrBlock, *(s.IPv4_CIDR for s in body.subnetInfoList)):
        _check_cidr(cidr)
    namespace = namespace_id(state, ns)
    subnets = [
        SubnetSpec(name=checked_id(s.Name, "subnet"), cidr=s.IPv4_CIDR) for s in body.subnetInfoList
    ]
    kept = KeptResource(
        name=body.name,
        connectionName=body.connectionName,
        description=body.description,
        subnetInfoList=body.subnetInfoList,
    )
    made = await _create(
        state,
        namespace,
        ResourceKind.VNET,
        kept,
        cidr=body.cidrBlock or None,
        subnets=lambda: subnets,
    )
    return _vnet(state, made)


_add_reads(ResourceKind.VNET, _vnet, VNetInfo, VNetList)


# --- securityGroup ----------------------------------------------------------------------------


def _port(text: str, rule: FirewallRuleInfo) -> int:
    """A rule's port: a number, `-1` (or empty) for none."""
    try:
        port = int(text) if text.strip() else -1
    except ValueError:
        raise ApiError(
            400, "bad_request", f"firewall rule {rule.model_dump()}: port {text!r} is no number"
        ) from None
    if not -1 <= port <= 65535:
        raise ApiError(400, "bad_request", f"firewall rule port {port} is out of range")
    return port


def firewall_rule(rule: FirewallRuleInfo) -> FirewallRule:
    """mcis's rule of a Tumblebug rule (`IPProtocol` any case, `-1` or `ALL` for all)."""
    protocol = rule.IPProtocol.lower()
    protocol = "all" if protocol == "-1" else protocol
    direction = rule.Direction.lower() or "inbound"
    if protocol not in PROTOCOLS:
        raise ApiError(
            400,
            "bad_request",
            f"firewall rule protocol {rule.IPProtocol!r}: use one of {', '.join(PROTOCOLS)}",
        )
    if direction not in ("inbound", "outbound"):
        raise ApiError(
            400, "bad_request", f"firewall rule direction {rule.Direction!r}: inbound or outbound"
        )
    first = _port(rule.FromPort, rule)
    last = _port(rule.ToPort, rule) if rule.ToPort.strip() else first
    return FirewallRule(direction=direction, protocol=protocol, from_port=first, to_port=last)


def _security_group(state: CompatState, record: ResourceRecord) -> SecurityGroupInfo:
    kept = _kept(state, record)
    rules = [FirewallRule.model_validate(r) for r in record.details.get("rules", [])]
    return SecurityGroupInfo(
        id=record.name,
        name=kept.name,
        connectionName=kept.connectionName,
        vNetId=record.details.get("vnet", ""),
        description=kept.description,
        firewallRules=[
            FirewallRuleInfo(
                FromPort=str(r.from_port),
                ToPort=str(r.to_port),
                IPProtocol=r.protocol,
                Direction=r.direction,
            )
            for r in rules
        ],
        cspSecurityGroupId=record.csp_id,
        cspSecurityGroupName=cloud_resource_name(record.namespace, record.name),
    )


@router.post("/ns/{ns}/resources/securityGroup", status_code=status.HTTP_201_CREATED)
async def create_security_group(ns: str, body: SecurityGroupReq, state: State) -> SecurityGroupInfo:
    rules = [firewall_rule(rule) for rule in body.firewallRules]
    namespace = namespace_id(state, ns)
    vnet = _existing(state, namespace, ResourceKind.VNET, body.vNetId)
    kept = KeptResource(
        name=body.name, connectionName=body.connectionName, description=body.description
    )
    made = await _create(
        state, namespace, ResourceKind.SECURITY_GROUP, kept, vnet=vnet.name, rules=lambda: rules
    )
    return _security_group(state, made)


_add_reads(ResourceKind.SECURITY_GROUP, _security_group, SecurityGroupInfo, SecurityGroupList)


# --- sshKey -----------------------------------------------------------------------------------


def _ssh_key(state: CompatState, record: ResourceRecord) -> SshKeyInfo:
    kept = _kept(state, record)
    return SshKeyInfo(
        id=record.name,
        name=kept.name,
        connectionName=kept.connectionName,
        description=kept.description,
        cspSshKeyName=record.csp_id,
        fingerprint=record.details.get("fingerprint", ""),
        username=kept.username,
        publicKey=record.details.get("public_key", ""),
        privateKey=private_key(state.ctx, record),
    )


@router.post("/ns/{ns}/resources/sshKey", status_code=status.HTTP_201_CREATED)
async def create_ssh_key(ns: str, body: SshKeyReq, state: State) -> SshKeyInfo:
    namespace = namespace_id(state, ns)
    kept = KeptResource(
        name=body.name,
        connectionName=body.connectionName,
        description=body.description,
        username=body.username,
    )
    return _ssh_key(state, await _create(state, namespace, ResourceKind.SSH_KEY, kept))


_add_reads(ResourceKind.SSH_KEY, _ssh_key, SshKeyInfo, SshKeyList)
