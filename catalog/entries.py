"""Catalog entries a cloud offers: regions, specs (instance types with price) and images.

Ids are `provider+region+name`, as in the reference, so an id alone says where it lives; a
`CatalogId` is one parsed at the edge (CLI, request, store row) and passed as a value after.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, GetCoreSchemaHandler, computed_field
from pydantic_core import CoreSchema, core_schema

ID_SEPARATOR = "+"


class CatalogId(str):
    """A catalog id `provider+region+name`, parsed once: `CatalogId(text)` raises ValueError
    with a clear message unless the text has three non-empty parts (the name may hold `+`).

    It is the id's text (a `str`: it compares, hashes and serialises as that text, so a model
    field holding one keeps its JSON shape) that knows its parts: `provider`, `region`, `name`.
    """

    provider: str
    region: str
    name: str

    def __new__(cls, text: str) -> CatalogId:
        found = super().__new__(cls, text)
        parts = text.split(ID_SEPARATOR, 2)
        if len(parts) != 3 or not all(parts):
            raise ValueError(f"{text!r} is not a catalog id of the form provider+region+name")
        found.provider, found.region, found.name = parts
        return found

    @property
    def place(self) -> tuple[str, str]:
        """(provider, region): where the entry lives."""
        return self.provider, self.region

    @classmethod
    def __get_pydantic_core_schema__(cls, source: Any, handler: GetCoreSchemaHandler) -> CoreSchema:
        return core_schema.no_info_after_validator_function(
            cls,
            core_schema.str_schema(),
            serialization=core_schema.plain_serializer_function_ser_schema(
                str, return_schema=core_schema.str_schema()
            ),
        )


def catalog_id(provider: str, region: str, name: str) -> CatalogId:
    """The id of `name` in `provider`'s `region`; ValueError if a part is empty or the
    provider or region holds the separator."""
    found = CatalogId(ID_SEPARATOR.join((provider, region, name)))
    if found.place != (provider, region):
        raise ValueError(
            f"provider {provider!r} and region {region!r} cannot hold {ID_SEPARATOR!r}"
        )
    return found


class Region(BaseModel):
    provider: str
    name: str
    display_name: str = ""
    latitude: float
    longitude: float


class Spec(BaseModel):
    provider: str
    region: str
    name: str
    vcpus: int
    memory_gib: float
    price_per_hour: float

    @computed_field  # type: ignore[prop-decorator]
    @property
    def id(self) -> CatalogId:
        return catalog_id(self.provider, self.region, self.name)


class Image(BaseModel):
    provider: str
    region: str
    name: str
    os: str = ""

    @computed_field  # type: ignore[prop-decorator]
    @property
    def id(self) -> CatalogId:
        return catalog_id(self.provider, self.region, self.name)
