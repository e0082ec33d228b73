"""Which regions each flavor of the local cloud offers, and what a VM costs there.

A public flavor (aws, gcp, azure, alibaba) offers its real cloud's public regions: every region
of `catalog.regions` (the one table of names, cities and coordinates) but those a
customer cannot use (GovCloud, local zones, retired regions). The private flavors (openstack,
cloudit) offer their three sites. Each flavor lists first the regions it offered before it
offered the world, in the same order: they keep their public address blocks (REGION_INDEX).

Price factor of a region (it multiplies the flavor's base prices, set in its reference region):

- measured: the mean over the flavor's specs of (price in the region / price in the reference
  region) in Libcloud's bundled price data (aws us-east-1, gcp us-central1, azure eastus; checked
  against the data by tests/unit/test_world_regions.py);
- by area, where a flavor has an area table (alibaba, whose prices Libcloud does not hold): the
  multiplier of the longest region-name prefix, an estimate (mainland China cheapest);
- otherwise the factor of the nearest region with a measured or set factor (a region GCE or Azure
  opened after Libcloud's data costs what its nearest older region costs).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from catalog.geo import haversine_km
from catalog.regions import (
    ALIBABA_REGIONS,
    AWS_REGIONS,
    AZURE_REGIONS,
    CLOUDIT_REGIONS,
    GCE_REGIONS,
    OPENSTACK_REGIONS,
    Place,
)


@dataclass(frozen=True)
class RegionSet:
    """Where one flavor's regions come from and how they are priced."""

    places: Mapping[str, Place]
    first: tuple[str, ...]
    """Listed first, in this order (the regions offered before the others)."""
    reference: str
    """The region whose factor is 1 (where the flavor's base prices hold)."""
    factors: Mapping[str, float]
    """Measured (public flavors) or set (private flavors) price factors."""
    left_out: frozenset[str] = frozenset()
    areas: Mapping[str, float] = field(default_factory=dict)
    """Region-name prefix -> price factor, for the regions without a factor of their own."""


@dataclass(frozen=True)
class RegionInfo:
    """A region as a flavor offers it (re-exported by localcloud.flavors)."""

    name: str
    display_name: str
    latitude: float
    longitude: float
    price_factor: float  # multiplies the flavor's base prices


REGION_SETS: dict[str, RegionSet] = {
    "aws": RegionSet(
        places=AWS_REGIONS,
        first=("us-east-1", "ap-northeast-2", "eu-west-1", "us-west-2"),
        reference="us-east-1",
        left_out=frozenset({"us-gov-west-1", "us-gov-east-1", "us-west-2-lax-1"}),
        factors={
            "af-south-1": 1.35,
            "ap-east-1": 1.34,
            "ap-northeast-1": 1.27,
            "ap-northeast-2": 1.19,
            "ap-northeast-3": 1.28,
            "ap-south-1": 1.05,
            "ap-south-2": 1.03,
            "ap-southeast-1": 1.21,
            "ap-southeast-2": 1.22,
            "ap-southeast-3": 1.2,
            "ap-southeast-4": 1.28,
            "ap-southeast-5": 1.1,
            "ap-southeast-7": 1.1,
            "ca-central-1": 1.13,
            "ca-west-1": 1.11,
            "eu-central-1": 1.14,
            "eu-central-2": 1.27,
            "eu-north-1": 1.05,
            "eu-south-1": 1.17,
            "eu-south-2": 1.09,
            "eu-west-1": 1.11,
            "eu-west-2": 1.15,
            "eu-west-3": 1.13,
            "il-central-1": 1.18,
            "me-central-1": 1.2,
            "me-south-1": 1.24,
            "mx-central-1": 1.01,
            "sa-east-1": 1.6,
            "us-east-1": 1.0,
            "us-east-2": 0.98,
            "us-west-1": 1.2,
            "us-west-2": 1.02,
        },
    ),
    "gcp": RegionSet(
        places=GCE_REGIONS,
        first=("us-central1", "asia-northeast3", "europe-west1", "asia-northeast1"),
        reference="us-central1",
        factors={
            "asia-east1": 1.16,
            "asia-east2": 1.4,
            "asia-northeast1": 1.28,
            "asia-northeast2": 1.28,
            "asia-northeast3": 1.28,
            "asia-south1": 1.2,
            "asia-southeast1": 1.23,
            "asia-southeast2": 1.34,
            "australia-southeast1": 1.42,
            "europe-north1": 1.1,
            "europe-west1": 1.1,
            "europe-west2": 1.29,
            "europe-west3": 1.29,
            "europe-west4": 1.1,
            "europe-west6": 1.4,
            "northamerica-northeast1": 1.1,
            "southamerica-east1": 1.59,
            "us-central1": 1.0,
            "us-east4": 1.14,
            "us-west2": 1.2,
            "us-west3": 1.2,
            "us-west4": 1.17,
        },
    ),
    "azure": RegionSet(
        places=AZURE_REGIONS,
        first=("koreacentral", "eastus", "westeurope", "japaneast"),
        reference="eastus",
        left_out=frozenset(
            {"germanycentral", "germanynortheast", "usgovarizona", "usgovtexas", "usgovvirginia"}
        ),
        factors={
            "australiacentral": 1.28,
            "australiacentral2": 1.28,
            "australiaeast": 1.28,
            "australiasoutheast": 1.28,
            "brazilsouth": 1.6,
            "brazilsoutheast": 2.1,
            "canadacentral": 1.11,
            "canadaeast": 1.12,
            "centralindia": 1.06,
            "centralus": 1.2,
            "eastasia": 1.38,
            "eastus": 1.0,
            "eastus2": 1.0,
            "francecentral": 1.15,
            "francesouth": 1.61,
            "germanynorth": 1.5,
            "germanywestcentral": 1.15,
            "japaneast": 1.3,
            "japanwest": 1.43,
            "koreacentral": 1.23,
            "koreasouth": 1.23,
            "northcentralus": 1.0,
            "northeurope": 1.1,
            "norwayeast": 1.27,
            "norwaywest": 1.65,
            "southafricanorth": 1.34,
            "southafricawest": 1.68,
            "southcentralus": 1.2,
            "southeastasia": 1.25,
            "southindia": 1.35,
            "switzerlandnorth": 1.38,
            "switzerlandwest": 1.8,
            "uaecentral": 1.5,
            "uaenorth": 1.2,
            "uksouth": 1.15,
            "ukwest": 1.14,
            "westcentralus": 1.2,
            "westeurope": 1.15,
            "westindia": 1.34,
            "westus": 1.21,
            "westus2": 1.0,
        },
    ),
    "alibaba": RegionSet(
        places=ALIBABA_REGIONS,
        first=("cn-hangzhou", "ap-southeast-1", "eu-central-1"),
        reference="cn-hangzhou",
        factors={},
        areas={
            "cn-": 1.0,
            "cn-hongkong": 1.2,
            "ap-": 1.12,
            "us-": 1.08,
            "na-": 1.12,
            "eu-": 1.15,
            "me-": 1.22,
        },
    ),
    "openstack": RegionSet(
        places=OPENSTACK_REGIONS,
        first=("RegionOne", "RegionTwo", "RegionThree"),
        reference="RegionOne",
        factors={"RegionOne": 1.0, "RegionTwo": 1.05, "RegionThree": 1.02},
    ),
    "cloudit": RegionSet(
        places=CLOUDIT_REGIONS,
        first=("seoul-1", "pangyo-1", "busan-1"),
        reference="seoul-1",
        factors={"seoul-1": 1.0, "pangyo-1": 1.0, "busan-1": 1.03},
    ),
}


def price_factor(regions: RegionSet, name: str) -> float:
    """The price factor of region `name` of `regions` (see the module's docstring)."""
    if name in regions.factors:
        return regions.factors[name]
    area = max((prefix for prefix in regions.areas if name.startswith(prefix)), key=len, default="")
    if area:
        return regions.areas[area]
    _, lat, lon = regions.places[name]
    nearest = min(
        regions.factors,
        key=lambda other: (haversine_km(lat, lon, *regions.places[other][1:]), other),
    )
    return regions.factors[nearest]


def offered_regions(flavor: str) -> tuple[RegionInfo, ...]:
    """The regions `flavor` offers: its first regions, then the others in table order."""
    regions = REGION_SETS[flavor]
    rest = [name for name in regions.places if name not in regions.first]
    return tuple(
        RegionInfo(name, *regions.places[name], price_factor(regions, name))
        for name in (*regions.first, *rest)
        if name not in regions.left_out
    )
