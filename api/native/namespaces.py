"""Native API: namespaces (`/v1/ns`), create, list, show and delete, as `mcis ns`."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import Field

from api.errors import ApiError
from api.native.common import Body, Ctx, Deleted
from models.mcis import MAX_DESCRIPTION
from models.naming import NAME_MAX_LENGTH
from models.records import NamespaceRecord
from starter import namespace_service
from starter.namespace_service import NamespaceInUseError

router = APIRouter(prefix="/ns", tags=["namespaces"])


class NamespaceCreate(Body):
    name: str = Field(max_length=NAME_MAX_LENGTH)
    description: str = Field(default="", max_length=MAX_DESCRIPTION)


@router.post("", status_code=201)
async def create_namespace(body: NamespaceCreate, ctx: Ctx) -> NamespaceRecord:
    return namespace_service.create_namespace(ctx, body.name, body.description)


@router.get("")
async def list_namespaces(ctx: Ctx) -> list[NamespaceRecord]:
    return namespace_service.list_namespaces(ctx)


@router.get("/{ns}")
async def get_namespace(ns: str, ctx: Ctx) -> NamespaceRecord:
    return namespace_service.existing_namespace(ctx, ns)


@router.delete("/{ns}")
async def delete_namespace(ns: str, ctx: Ctx) -> Deleted:
    """Delete an empty namespace (409 while it holds MCIS or resources)."""
    try:
        namespace_service.delete_namespace(ctx, ns)
    except NamespaceInUseError as exc:
        raise ApiError(409, "conflict", exc.message) from None
    return Deleted(deleted=ns)
