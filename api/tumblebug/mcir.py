"""Tumblebug vNets, security groups and SSH keys (`/tumblebug/ns/{ns}/resources/{vNet,
securityGroup,sshKey}`): mcis resources made through the resource workflow like the CLI's
(`starter/resource_service.py`), at the cloud region of the Spider connection they name. What
mcis's record does not hold (the given name, the connection, subnet CIDRs, the user name) is
kept as a registration. A resource in use (by a VM, or a vNet by a security group) is not
deleted: the answer says "dependency", and clients retry."""

from __future__ import annotations

import ipaddress

from fastapi import APIRouter, status

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
    id, place = await _place(state, namespace, ResourceKind.VNET, kept)
    made = await create_resource(
        state.ctx,
        SERVICE_KINDS[ResourceKind.VNET],
        namespace,
        id,
        place.provider,
        place.region,
        cidr=body.cidrBlock or None,
        subnets=lambda: subnets,
    )
    return _vnet(state, _keep(state, namespace, ResourceKind.VNET, kept, made))


@router.get("/ns/{ns}/resources/vNet")
async def list_vnets(ns: str, state: State) -> VNetList:
    namespace = namespace_id(state, ns)
    return VNetList(vNet=[_vnet(state, r) for r in _records(state, namespace, ResourceKind.VNET)])


@router.get("/ns/{ns}/resources/vNet/{id}")
async def get_vnet(ns: str, id: str, state: State) -> VNetInfo:
    return _vnet(state, _existing(state, namespace_id(state, ns), ResourceKind.VNET, id))


@router.delete("/ns/{ns}/resources/vNet/{id}")
async def delete_vnet(ns: str, id: str, state: State) -> Message:
    return await _delete(state, ns, ResourceKind.VNET, id)


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
    id, place = await _place(state, namespace, ResourceKind.SECURITY_GROUP, kept)
    made = await create_resource(
        state.ctx,
        SERVICE_KINDS[ResourceKind.SECURITY_GROUP],
        namespace,
        id,
        place.provider,
        place.region,
        vnet=vnet.name,
        rules=lambda: rules,
    )
    return _security_group(state, _keep(state, namespace, ResourceKind.SECURITY_GROUP, kept, made))


@router.get("/ns/{ns}/resources/securityGroup")
async def list_security_groups(ns: str, state: State) -> SecurityGroupList:
    namespace = namespace_id(state, ns)
    records = _records(state, namespace, ResourceKind.SECURITY_GROUP)
    return SecurityGroupList(securityGroup=[_security_group(state, r) for r in records])


@router.get("/ns/{ns}/resources/securityGroup/{id}")
async def get_security_group(ns: str, id: str, state: State) -> SecurityGroupInfo:
    record = _existing(state, namespace_id(state, ns), ResourceKind.SECURITY_GROUP, id)
    return _security_group(state, record)


@router.delete("/ns/{ns}/resources/securityGroup/{id}")
async def delete_security_group(ns: str, id: str, state: State) -> Message:
    return await _delete(state, ns, ResourceKind.SECURITY_GROUP, id)


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
    id, place = await _place(state, namespace, ResourceKind.SSH_KEY, kept)
    made = await create_resource(
        state.ctx, SERVICE_KINDS[ResourceKind.SSH_KEY], namespace, id, place.provider, place.region
    )
    return _ssh_key(state, _keep(state, namespace, ResourceKind.SSH_KEY, kept, made))


@router.get("/ns/{ns}/resources/sshKey")
async def list_ssh_keys(ns: str, state: State) -> SshKeyList:
    namespace = namespace_id(state, ns)
    records = _records(state, namespace, ResourceKind.SSH_KEY)
    return SshKeyList(sshKey=[_ssh_key(state, r) for r in records])


@router.get("/ns/{ns}/resources/sshKey/{id}")
async def get_ssh_key(ns: str, id: str, state: State) -> SshKeyInfo:
    return _ssh_key(state, _existing(state, namespace_id(state, ns), ResourceKind.SSH_KEY, id))


@router.delete("/ns/{ns}/resources/sshKey/{id}")
async def delete_ssh_key(ns: str, id: str, state: State) -> Message:
    return await _delete(state, ns, ResourceKind.SSH_KEY, id)
