"""Catalog entries a cloud offers: regions, specs (instance types with price) and images.

Ids are `provider+region+name`, as in the reference, so an id alone says where it lives.
"""

from __future__ import annotations

from pydantic import BaseModel, computed_field

ID_SEPARATOR = "+"


def catalog_id(provider: str, region: str, name: str) -> str:
    return ID_SEPARATOR.join((provider, region, name))


def split_catalog_id(value: str) -> tuple[str, str, str]:
    """Split `provider+region+name`; raise ValueError with a clear message otherwise."""
    parts = value.split(ID_SEPARATOR, 2)
    if len(parts) != 3 or not all(parts):
        raise ValueError(f"{value!r} is not a catalog id of the form provider+region+name")
    return parts[0], parts[1], parts[2]


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
    def id(self) -> str:
        return catalog_id(self.provider, self.region, self.name)


class Image(BaseModel):
    provider: str
    region: str
    name: str
    os: str = ""

    @computed_field  # type: ignore[prop-decorator]
    @property
    def id(self) -> str:
        return catalog_id(self.provider, self.region, self.name)
