"""The CB-Spider 0.3 connection registration endpoints (`/spider/{driver,credential,region,
connectionconfig}`: POST, GET all, GET/DELETE one by name), their own app served on
MCIS_SPIDER_PORT (`api/server.py`), with the API's HTTP Basic and JSON errors. Spider's documents
are checked, stored (`store/registrations.py`) and echoed back in Spider's JSON shapes; a
connection config then tells the Tumblebug API where a resource or VM goes
(`api/tumblebug/connections.py`). Credential values are not kept (mcis reaches clouds through
the local cloud or its own connections, `mcis connection add`): they come back as `****`."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from fastapi import APIRouter, FastAPI
from fastapi import Body as BodyParam
from pydantic import BaseModel, Field, ValidationError

from api.app import base_app
from api.errors import ApiError
from api.tumblebug.connections import PROVIDERS, REGION_KEYS, key_value
from api.tumblebug.models import Body, KeyValue
from api.tumblebug.state import CompatState, State
from settings import Settings
from starter.context import Context
from starter.errors import validation_message
from store.registrations import SPIDER

MASKED = "****"


class CloudDriverInfo(Body):
    DriverName: str = Field(min_length=1)
    ProviderName: str = Field(min_length=1)
    DriverLibFileName: str = ""


class CredentialInfo(Body):
    CredentialName: str = Field(min_length=1)
    ProviderName: str = Field(min_length=1)
    KeyValueInfoList: list[KeyValue] = Field(default_factory=list)


class RegionInfo(Body):
    RegionName: str = Field(min_length=1)
    ProviderName: str = Field(min_length=1)
    KeyValueInfoList: list[KeyValue] = Field(default_factory=list)


class ConnectionConfigInfo(Body):
    ConfigName: str = Field(min_length=1)
    ProviderName: str = Field(min_length=1)
    DriverName: str = ""
    CredentialName: str = ""
    RegionName: str = Field(min_length=1)


class BooleanInfo(BaseModel):
    Result: str


Document = CloudDriverInfo | CredentialInfo | RegionInfo | ConnectionConfigInfo
KindName = Literal["driver", "credential", "region", "connectionconfig"]


@dataclass(frozen=True)
class Kind:
    """One kind of Spider document: its model, the field naming it, and the check (and
    rewrite) of a new one before it is stored."""

    model: type[Document]
    name_field: str
    check: Callable[[CompatState, Any], Document]


def _provider(name: str) -> str:
    """Spider's ProviderName (any case) in upper case; 400 unless one Spider knows."""
    if name.upper() not in PROVIDERS:
        raise ApiError(
            400,
            "bad_request",
            f"ProviderName {name!r} is unknown: use one of {', '.join(PROVIDERS)}",
        )
    return name.upper()


def _driver(_: CompatState, info: CloudDriverInfo) -> Document:
    return info.model_copy(update={"ProviderName": _provider(info.ProviderName)})


def _credential(_: CompatState, info: CredentialInfo) -> Document:
    masked = [pair.model_copy(update={"Value": MASKED}) for pair in info.KeyValueInfoList]
    return info.model_copy(
        update={"ProviderName": _provider(info.ProviderName), "KeyValueInfoList": masked}
    )


def _region(_: CompatState, info: RegionInfo) -> Document:
    pairs = [pair.model_dump() for pair in info.KeyValueInfoList]
    if not key_value(pairs, *REGION_KEYS):
        raise ApiError(
            400,
            "bad_request",
            f"region {info.RegionName}: KeyValueInfoList needs the cloud's region "
            "(Key Region, or location for Azure)",
        )
    return info.model_copy(update={"ProviderName": _provider(info.ProviderName)})


def _connection_config(state: CompatState, info: ConnectionConfigInfo) -> Document:
    provider = _provider(info.ProviderName)
    for kind, name in (
        ("region", info.RegionName),
        ("driver", info.DriverName),
        ("credential", info.CredentialName),
    ):
        if not name:
            continue
        found = _get(state, kind, name)
        if found["ProviderName"] != provider:
            raise ApiError(
                400,
                "bad_request",
                f"connection config {info.ConfigName}: {kind} {name} is of "
                f"{found['ProviderName']}, the config of {provider}",
            )
    return info.model_copy(update={"ProviderName": provider})


KINDS: dict[str, Kind] = {
    "driver": Kind(CloudDriverInfo, "DriverName", _driver),
    "credential": Kind(CredentialInfo, "CredentialName", _credential),
    "region": Kind(RegionInfo, "RegionName", _region),
    "connectionconfig": Kind(ConnectionConfigInfo, "ConfigName", _connection_config),
}


def _get(state: CompatState, kind: str, name: str) -> dict[str, Any]:
    found = state.registrations.get(SPIDER, kind, name)
    if found is None:
        raise ApiError(404, "not_found", f"{kind} {name} does not exist")
    return found


router = APIRouter(prefix="/spider", tags=["cb-spider"])


@router.post("/{kind}", status_code=200)
async def register(
    kind: KindName, body: Annotated[dict[str, Any], BodyParam()], state: State
) -> Document:
    """Register a driver, credential, region or connection config (the body is Spider's
    `CloudDriverInfo`, `CredentialInfo`, `RegionInfo` or `ConnectionConfigInfo`)."""
    spec = KINDS[kind]
    try:
        given = spec.model.model_validate(body)
    except ValidationError as exc:
        raise ApiError(400, "bad_request", validation_message(exc, kind)) from None
    document = spec.check(state, given)
    name = getattr(document, spec.name_field)
    if state.registrations.get(SPIDER, kind, name) is not None:
        raise ApiError(409, "conflict", f"{kind} {name} already exists")
    state.registrations.put(SPIDER, kind, name, document.model_dump())
    return document


@router.get("/{kind}")
async def list_all(kind: KindName, state: State) -> dict[str, list[Document]]:
    """Every registered document of the kind: `{"connectionconfig": [...]}` and so on."""
    model = KINDS[kind].model
    return {kind: [model.model_validate(d) for d in state.registrations.of_kind(SPIDER, kind)]}


@router.get("/{kind}/{name}")
async def get(kind: KindName, name: str, state: State) -> Document:
    return KINDS[kind].model.model_validate(_get(state, kind, name))


@router.delete("/{kind}/{name}")
async def delete(kind: KindName, name: str, state: State) -> BooleanInfo:
    _get(state, kind, name)
    state.registrations.delete(SPIDER, kind, name)
    return BooleanInfo(Result="true")


def create_spider_app(settings: Settings, ctx: Context | None = None) -> FastAPI:
    """The Spider endpoints' app, on its own `Context` unless given one."""
    app = base_app("mcis CB-Spider endpoints", settings, ctx)
    app.include_router(router)
    return app
