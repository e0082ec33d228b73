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
    place: Place, kind: str, listing: Callable[[], Awaitable[list[T]]]
) -> dict[str, T]:
    """What `listing` says the connection's cloud offers in its region, by name."""
    try:
        return {entry.name: entry for entry in await retrying(listing)}
    except CloudError as exc:
        raise CliError(f"cloud {place.provider!r} ({kind}s): {exc.message}", FAILED) from None


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
    place = await resolve(state, body.connectionName)
    driver = state.ctx.driver(place.provider)
    image = (await _offered(place, IMAGE, lambda: driver.images(place.region))).get(body.cspImageId)
    if image is None:
        raise _unknown(place, IMAGE, body.cspImageId)
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


@router.get("/ns/{ns}/resources/image")
async def list_images(ns: str, state: State) -> ImageList:
    kept = state.registrations.of_kind(namespace_id(state, ns), IMAGE)
    return ImageList(image=[KeptImage.model_validate(k).info for k in kept])


@router.get("/ns/{ns}/resources/image/{id}")
async def get_image(ns: str, id: str, state: State) -> ImageInfo:
    return KeptImage.model_validate(_kept(state, namespace_id(state, ns), IMAGE, id)).info


@router.delete("/ns/{ns}/resources/image/{id}")
async def delete_image(ns: str, id: str, state: State) -> Message:
    return _delete(state, ns, IMAGE, id, "imageId")


# --- spec -------------------------------------------------------------------------------------


@router.post("/ns/{ns}/resources/spec", status_code=status.HTTP_201_CREATED)
async def register_spec(ns: str, body: SpecReq, state: State) -> SpecInfo:
    namespace = namespace_id(state, ns)
    id = _new_id(state, namespace, SPEC, body.name)
    place = await resolve(state, body.connectionName)
    driver = state.ctx.driver(place.provider)
    spec = (await _offered(place, SPEC, lambda: driver.specs(place.region))).get(body.cspSpecName)
    if spec is None:
        raise _unknown(place, SPEC, body.cspSpecName)
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


@router.get("/ns/{ns}/resources/spec")
async def list_specs(ns: str, state: State) -> SpecList:
    kept = state.registrations.of_kind(namespace_id(state, ns), SPEC)
    return SpecList(spec=[KeptSpec.model_validate(k).info for k in kept])


@router.get("/ns/{ns}/resources/spec/{id}")
async def get_spec(ns: str, id: str, state: State) -> SpecInfo:
    return KeptSpec.model_validate(_kept(state, namespace_id(state, ns), SPEC, id)).info


@router.delete("/ns/{ns}/resources/spec/{id}")
async def delete_spec(ns: str, id: str, state: State) -> Message:
    return _delete(state, ns, SPEC, id, "specId")
