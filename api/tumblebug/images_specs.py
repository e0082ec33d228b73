"""Tumblebug images and specs (`/tumblebug/ns/{ns}/resources/{image,spec}`): registrations of
one of the catalog's images or specs (`cspImageId` / `cspSpecName` = the name the cloud gives
it) at the cloud region of a Spider connection, checked against what that cloud offers there.
They are records only (no cloud call), kept in the registrations store with the catalog id an
MCIS's `vm` entry turns them into. One an MCIS uses is not deleted ("dependency")."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, Any, Literal, TypeVar

from fastapi import APIRouter, Query, status

from api.errors import ApiError
from api.tumblebug.connections import Place, resolve
from api.tumblebug.ids import already_exists, checked_id, derive_id, not_found
from api.tumblebug.models import (
    ImageInfo,
    ImageList,
    ImageReq,
    KeptImage,
    KeptMcis,
    KeptSpec,
    Message,
    SpecInfo,
    SpecList,
    SpecReq,
)
from api.tumblebug.ns import namespace_id
from api.tumblebug.state import CompatState, State
from catalog.entries import CatalogId, Image, Spec
from drivers.base import CloudDriver
from drivers.errors import CloudError
from drivers.retry import retrying
from models.records import McisPhase
from starter.errors import FAILED, CliError

router = APIRouter(tags=["tumblebug resources"])

IMAGE = "image"
SPEC = "spec"
MCIS = "mcis"
T = TypeVar("T", Image, Spec)


async def _offered(
    state: CompatState,
    connection_name: str,
    kind: str,
    csp_name: str,
    listing: Callable[[CloudDriver, str], Awaitable[list[T]]],
) -> T:
    """The entry `csp_name` of what `listing` says the connection's cloud offers in its region;
    404 if it offers none of that name."""
    place = await resolve(state, connection_name)
    driver = state.ctx.driver(place.provider)
    try:
        offered = {
            entry.name: entry for entry in await retrying(lambda: listing(driver, place.region))
        }
    except CloudError as exc:
        raise CliError(f"cloud {place.provider!r} ({kind}s): {exc.message}", FAILED) from None
    if csp_name not in offered:
        raise _unknown(place, kind, csp_name)
    return offered[csp_name]


def _new_id(state: CompatState, ns: str, kind: str, name: str) -> str:
    id = checked_id(name, kind)
    if state.registrations.get(ns, kind, id) is not None:
        raise already_exists(kind, id)
    return id


def _kept(state: CompatState, ns: str, kind: str, id: str) -> dict[str, Any]:
    id = checked_id(id, kind)
    found = state.registrations.get(ns, kind, id)
    if found is None:
        raise not_found(kind, id)
    return found


def _unknown(place: Place, kind: str, name: str) -> ApiError:
    return ApiError(
        404,
        "not_found",
        f"{place.cloud} offers no {kind} {name!r} in {place.region} (see `mcis catalog "
        f"{kind}s --provider {place.provider} --region {place.region}`)",
    )


def _delete(state: CompatState, ns: str, kind: str, id: str, field: str) -> Message:
    """Forget a registration unless a `vm` entry (`field`: specId, imageId) of an MCIS that
    still exists uses it."""
    namespace = namespace_id(state, ns)
    id = checked_id(id, kind)
    _kept(state, namespace, kind, id)
    mcis_records = state.ctx.store.list_mcis(namespace)
    live = {r.name for r in mcis_records if r.phase is not McisPhase.DELETED}
    users = sorted(
        mcis
        for kept in map(KeptMcis.model_validate, state.registrations.of_kind(namespace, MCIS))
        if (mcis := derive_id(kept.name)) in live
        and any(derive_id(getattr(vm.entry, field)) == id for vm in kept.vm.values())
    )
    if users:
        raise ApiError(
            409,
            "conflict",
            f"The {kind} {id} has a dependency: MCIS {', '.join(users)} uses it; delete them first",
        )
    state.registrations.delete(namespace, kind, id)
    return Message(message=f"The {kind} {id} has been deleted")


def _add_reads(
    kind: str,
    kept: type[KeptImage | KeptSpec],
    info: type[ImageInfo | SpecInfo],
    listing: type[ImageList | SpecList],
    used_as: str,
) -> None:
    """The routes listing, showing and deleting the registrations of `kind` (`used_as`: the
    field of a `vm` entry naming one)."""
    path = f"/ns/{{ns}}/resources/{kind}"

    async def list_all(ns: str, state: State) -> Any:
        found = state.registrations.of_kind(namespace_id(state, ns), kind)
        return listing.model_validate({kind: [kept.model_validate(k).info for k in found]})

    async def get_one(ns: str, id: str, state: State) -> Any:
        return kept.model_validate(_kept(state, namespace_id(state, ns), kind, id)).info

    async def delete_one(ns: str, id: str, state: State) -> Message:
        return _delete(state, ns, kind, id, used_as)

    router.add_api_route(
        path, list_all, methods=["GET"], response_model=listing, name=f"list_{kind}s"
    )
    router.add_api_route(
        f"{path}/{{id}}", get_one, methods=["GET"], response_model=info, name=f"get_{kind}"
    )
    router.add_api_route(f"{path}/{{id}}", delete_one, methods=["DELETE"], name=f"delete_{kind}")


def registered_spec(state: CompatState, ns: str, id: str) -> CatalogId:
    """The catalog id of the registered spec `id`; 404 unless registered."""
    return KeptSpec.model_validate(_kept(state, ns, SPEC, id)).catalog_id


def registered_image(state: CompatState, ns: str, id: str) -> CatalogId:
    """The catalog id of the registered image `id`; 404 unless registered."""
    return KeptImage.model_validate(_kept(state, ns, IMAGE, id)).catalog_id


# --- image ------------------------------------------------------------------------------------


@router.post("/ns/{ns}/resources/image", status_code=status.HTTP_201_CREATED)
async def register_image(
    ns: str,
    body: ImageReq,
    state: State,
    action: Annotated[Literal["registerWithInfo", "registerWithId"], Query()],
) -> ImageInfo:
    namespace = namespace_id(state, ns)
    id = _new_id(state, namespace, IMAGE, body.name)
    image = await _offered(
        state, body.connectionName, IMAGE, body.cspImageId, lambda d, region: d.images(region)
    )
    given = (
        body
        if action == "registerWithInfo"
        else ImageReq.model_validate(
            body.model_dump(include={"connectionName", "name", "cspImageId"})
        )
    )  # registerWithId: the cloud's figures alone
    info = ImageInfo(
        id=id,
        name=given.name,
        connectionName=given.connectionName,
        cspImageId=given.cspImageId,
        cspImageName=given.cspImageName or image.name,
        creationDate=given.creationDate,
        description=given.description,
        guestOS=given.guestOS or image.os,
        status=given.status or "Available",
        keyValueList=given.keyValueList,
    )
    kept = KeptImage(info=info, catalog_id=image.id)
    state.registrations.put(namespace, IMAGE, id, kept.model_dump())
    return info


_add_reads(IMAGE, KeptImage, ImageInfo, ImageList, "imageId")


# --- spec -------------------------------------------------------------------------------------


@router.post("/ns/{ns}/resources/spec", status_code=status.HTTP_201_CREATED)
async def register_spec(ns: str, body: SpecReq, state: State) -> SpecInfo:
    namespace = namespace_id(state, ns)
    id = _new_id(state, namespace, SPEC, body.name)
    spec = await _offered(
        state, body.connectionName, SPEC, body.cspSpecName, lambda d, region: d.specs(region)
    )
    info = SpecInfo(
        id=id,
        name=body.name,
        connectionName=body.connectionName,
        cspSpecName=spec.name,
        num_vCPU=spec.vcpus,
        num_core=spec.vcpus,
        mem_GiB=spec.memory_gib,
        mem_MiB=round(spec.memory_gib * 1024),
        description=body.description,
        cost_per_hour=spec.price_per_hour,
    )
    kept = KeptSpec(info=info, catalog_id=spec.id)
    state.registrations.put(namespace, SPEC, id, kept.model_dump())
    return info


_add_reads(SPEC, KeptSpec, SpecInfo, SpecList, "specId")
