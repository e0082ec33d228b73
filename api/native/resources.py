"""Native API: MCIR of a namespace (`/v1/ns/NS/resources/KIND/NAME`, KIND `vnet`,
`security-group` or `ssh-key`), as `mcis resource`. Create and delete run the resource workflow
and answer when it has (bounded: one cloud call, retried). An SSH key is shown without its
private key unless `?include_private_key=true`."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import Field

from api.errors import ApiError
from api.native.common import Body, Ctx, Deleted
from models.naming import NAME_MAX_LENGTH
from models.records import ResourceRecord
from starter import resource_service
from starter.resource_service import parse_rule, parse_subnet

router = APIRouter(prefix="/ns/{ns}/resources", tags=["resources"])

MAX_ITEMS = 100
MAX_TEXT = 256


class ResourceCreate(Body):
    name: str = Field(max_length=NAME_MAX_LENGTH)
    provider: str = Field(max_length=MAX_TEXT)
    region: str = Field(max_length=MAX_TEXT)
    cidr: str | None = Field(default=None, max_length=MAX_TEXT, description="vnet: address range")
    subnets: list[str] = Field(
        default_factory=list, max_length=MAX_ITEMS, description="vnet: NAME=CIDR each"
    )
    vnet: str | None = Field(default=None, max_length=MAX_TEXT, description="security-group")
    rules: list[str] = Field(
        default_factory=list,
        max_length=MAX_ITEMS,
        description="security-group: tcp:22, tcp:80-90@10.0.0.0/8, icmp",
    )


class Resource(ResourceRecord):
    """A resource as the API shows it: the private key of an SSH key only when asked."""

    private_key: str | None = None


def _shown(record: ResourceRecord) -> Resource:
    return Resource.model_validate(record.model_dump())


@router.post("/{kind}", status_code=201)
async def create_resource(ns: str, kind: str, body: ResourceCreate, ctx: Ctx) -> Resource:
    record = await resource_service.create_resource(
        ctx,
        kind,
        ns,
        body.name,
        body.provider,
        body.region,
        cidr=body.cidr,
        subnets=lambda: [parse_subnet(s, "subnets") for s in body.subnets],
        vnet=body.vnet,
        rules=lambda: [parse_rule(r, "rules") for r in body.rules],
        vnet_hint='its "vnet"',
    )
    if record is None:  # the workflow found nothing to record (never for a create)
        raise ApiError(409, "failed", f"{kind} {body.name!r} was not recorded")
    return _shown(record)


@router.get("")
async def list_resources(
    ctx: Ctx,
    ns: str,
    kind: Annotated[str | None, Query(max_length=MAX_TEXT)] = None,
) -> list[Resource]:
    return [_shown(r) for r in resource_service.list_resources(ctx, ns, kind)]


@router.get("/{kind}/{name}")
async def get_resource(
    ctx: Ctx,
    ns: str,
    kind: str,
    name: str,
    include_private_key: bool = False,
) -> Resource:
    record = resource_service.get_resource(ctx, ns, kind, name)
    shown = _shown(record)
    if include_private_key:
        shown.private_key = resource_service.private_key(ctx, record)
    return shown


@router.delete("/{kind}/{name}")
async def delete_resource(ns: str, kind: str, name: str, ctx: Ctx) -> Deleted:
    await resource_service.delete_resource(ctx, ns, kind, name)
    return Deleted(deleted=name, kind=kind)
