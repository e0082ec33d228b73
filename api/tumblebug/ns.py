"""Tumblebug namespaces (`/tumblebug/ns`): mcis namespaces whose id derives from the given name
(`NS_01` is `ns-01`); the given name is kept as a registration. Deleting one that holds an
MCIS, a resource, an image or a spec is refused."""

from __future__ import annotations

from fastapi import APIRouter, status

from api.errors import ApiError
from api.tumblebug.ids import checked_id, not_found
from api.tumblebug.models import Message, NsInfo, NsList, NsReq
from api.tumblebug.state import CompatState, State
from starter.namespace_service import create_namespace, delete_namespace, list_namespaces

router = APIRouter(tags=["tumblebug namespaces"])

KIND = "ns"
REGISTERED_KINDS = ("image", "spec")
"""Kinds only the registrations hold; a namespace holding any is not empty."""


def namespace_id(state: CompatState, ns: str) -> str:
    """The id of an existing namespace written either way (`NS_01`, `ns-01`); 404 otherwise."""
    id = checked_id(ns, "namespace")
    if state.ctx.store.get_namespace(id) is None:
        raise not_found("namespace", id)
    return id


def _info(state: CompatState, id: str, description: str) -> NsInfo:
    kept = state.registrations.get(id, KIND, id) or {}
    return NsInfo(id=id, name=kept.get("name", id), description=description)


@router.post("/ns", status_code=status.HTTP_201_CREATED)
async def create(body: NsReq, state: State) -> NsInfo:
    id = checked_id(body.name, "namespace")
    record = create_namespace(state.ctx, id, body.description)
    state.registrations.put(id, KIND, id, {"name": body.name})
    return NsInfo(id=id, name=body.name, description=record.description)


@router.get("/ns")
async def list_all(state: State) -> NsList:
    return NsList(ns=[_info(state, r.name, r.description) for r in list_namespaces(state.ctx)])


@router.get("/ns/{ns}")
async def get(ns: str, state: State) -> NsInfo:
    id = namespace_id(state, ns)
    record = state.ctx.store.get_namespace(id)
    return _info(state, id, record.description if record else "")


@router.delete("/ns/{ns}")
async def delete(ns: str, state: State) -> Message:
    id = namespace_id(state, ns)
    for kind in REGISTERED_KINDS:
        if state.registrations.of_kind(id, kind):
            raise ApiError(
                409,
                "conflict",
                f"Cannot delete the ns {id}, which is not empty: it holds a {kind}",
            )
    delete_namespace(state.ctx, id)
    state.registrations.delete_scope(id)  # its name, and what outlived resources deleted by the CLI
    return Message(message="The ns has been deleted")
