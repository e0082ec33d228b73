"""Real public-cloud specs and prices from Libcloud's bundled data (offline, no account):
`libcloud/data/pricing.json` and `libcloud.compute.constants.ec2_instance_types`.

Providers are named `aws-public`, `azure-public` and `gce-public` so they never collide with
the local cloud's flavors `aws`, `azure`, `gcp` (which the drivers can create): a public spec
is shown and scored, never created here. Only on-demand Linux prices are used.

- AWS EC2 (`ec2_linux`): every instance type with a price above 0 in a region, vCPU and memory
  from the bundled instance types (types without specs there are skipped).
- Azure (`azure_linux`): sizes whose vCPU and memory follow from the documented size series:
  B, Av2, D/DS v1-v2 (tables), D v3-v4 (N vCPU, 4N GiB), E v3-v4 (N, 8N; E64/E96 as
  documented), F and Fs v2 (N, 2N). Low-priority (spot), GPU, HPC, M, G, L and basic sizes are
  skipped: their shapes cannot be derived from the name.
- GCE (`gce_instances`): per-vCPU and per-GB prices of each family and region turned into the
  predefined machine types (e2/n1/n2/n2d standard, highmem, highcpu; c2-standard; m1 ultramem
  and megamem; f1-micro and g1-small at their flat prices).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from catalog.records import CatalogRegion, CatalogSource, CatalogSpec
from catalog.regions import AWS_REGIONS, AZURE_REGIONS, GCE_REGIONS, Place

AWS_PUBLIC = "aws-public"
AZURE_PUBLIC = "azure-public"
GCE_PUBLIC = "gce-public"
PUBLIC_PROVIDERS = (AWS_PUBLIC, AZURE_PUBLIC, GCE_PUBLIC)


@dataclass
class PublicCatalog:
    regions: list[CatalogRegion] = field(default_factory=list)
    specs: list[CatalogSpec] = field(default_factory=list)
    skipped: dict[str, int] = field(default_factory=dict)  # reason -> how many prices
    origin: str = ""

    def skip(self, reason: str, n: int = 1) -> None:
        self.skipped[reason] = self.skipped.get(reason, 0) + n


def pricing_file() -> Path:
    """Libcloud's bundled price file."""
    import libcloud

    return Path(libcloud.__file__).parent / "data" / "pricing.json"


def load_public_catalog(path: Path | None = None) -> PublicCatalog:
    """Specs and regions of the three public clouds from Libcloud's bundled data."""
    import libcloud
    from libcloud.compute.constants import ec2_instance_types

    path = path or pricing_file()
    data = json.loads(path.read_text())
    compute: dict[str, Any] = data["compute"]
    updated = datetime.fromtimestamp(int(data.get("updated", 0)), UTC).date().isoformat()
    found = PublicCatalog(origin=f"libcloud {libcloud.__version__} {path.name} ({updated})")
    used: dict[str, set[str]] = {p: set() for p in PUBLIC_PROVIDERS}
    types: Any = ec2_instance_types.INSTANCE_TYPES
    _ec2(compute["ec2_linux"], types, found, used[AWS_PUBLIC])
    _azure(compute["azure_linux"], found, used[AZURE_PUBLIC])
    _gce(compute["gce_instances"], found, used[GCE_PUBLIC])
    for provider, places in (
        (AWS_PUBLIC, AWS_REGIONS),
        (AZURE_PUBLIC, AZURE_REGIONS),
        (GCE_PUBLIC, GCE_REGIONS),
    ):
        found.regions += [_region(provider, name, places[name]) for name in sorted(used[provider])]
    return found


def _region(provider: str, name: str, place: Place) -> CatalogRegion:
    display, lat, lon = place
    return CatalogRegion(
        provider=provider,
        name=name,
        display_name=display,
        latitude=lat,
        longitude=lon,
        source=CatalogSource.LIBCLOUD,
    )


def _spec(provider: str, region: str, name: str, vcpus: int, memory: float, price: float) -> Any:
    return CatalogSpec.model_construct(
        provider=provider,
        region=region,
        name=name,
        vcpus=vcpus,
        memory_gib=round(memory, 3),
        price_per_hour=round(price, 6),
        source=CatalogSource.LIBCLOUD,
        performance=None,
        measured_at=None,
    )


def _add(
    found: PublicCatalog,
    used: set[str],
    places: dict[str, Place],
    provider: str,
    region: str,
    name: str,
    vcpus: int,
    memory: float,
    price: float,
) -> None:
    if not price > 0:
        found.skip(f"{provider}: not offered (price 0)")
        return
    if region not in places:
        found.skip(f"{provider}: region without coordinates")
        return
    used.add(region)
    found.specs.append(_spec(provider, region, name, vcpus, memory, price))


# AWS


def _ec2(
    prices: dict[str, dict[str, float]],
    types: dict[str, dict[str, Any]],
    found: PublicCatalog,
    used: set[str],
) -> None:
    for name in sorted(prices):
        shape = types.get(name)
        if shape is None:
            found.skip(f"{AWS_PUBLIC}: type without specs", len(prices[name]))
            continue
        vcpus = int(shape["extra"]["vcpu"])
        memory = int(shape["ram"]) / 1024
        for region, price in sorted(prices[name].items()):
            _add(found, used, AWS_REGIONS, AWS_PUBLIC, region, name, vcpus, memory, price)


# Azure

_AZURE_NAME = re.compile(r"^standard([a-z]+?)(\d+)([a-z]*?)(v\d+)?$")
_B_SERIES = {
    "1ls": (1, 0.5),
    "1s": (1, 1),
    "1ms": (1, 2),
    "2s": (2, 4),
    "2ms": (2, 8),
    "4ms": (4, 16),
    "8ms": (8, 32),
    "12ms": (12, 48),
    "16ms": (16, 64),
    "20ms": (20, 80),
}
_AV2_SERIES = {
    "1": (1, 2),
    "2": (2, 4),
    "4": (4, 8),
    "8": (8, 16),
    "2m": (2, 16),
    "4m": (4, 32),
    "8m": (8, 64),
}
_DV2_SERIES = {
    1: (1, 3.5),
    2: (2, 7),
    3: (4, 14),
    4: (8, 28),
    5: (16, 56),
    11: (2, 14),
    12: (4, 28),
    13: (8, 56),
    14: (16, 112),
    15: (20, 140),
}
_E_LARGE = {("64", "v3"): 432, ("64", "v4"): 504, ("64a", "v4"): 512, ("96a", "v4"): 672}


def azure_size(key: str) -> tuple[str, int, float] | None:
    """(Azure size name, vCPUs, GiB) of a pricing key such as `standardd2sv3`
    (`Standard_D2s_v3`, 2, 8), or None when the shape does not follow from the name."""
    match = _AZURE_NAME.match(key)
    if match is None:
        return None
    series, number, suffix, version = match[1], int(match[2]), match[3], match[4] or ""
    name = f"Standard_{series.upper()}{number}{suffix}" + (f"_{version}" if version else "")
    shape: tuple[int, float] | None = None
    if series == "b" and not version:
        shape = _B_SERIES.get(f"{number}{suffix}")
    elif series == "a" and version == "v2":
        shape = _AV2_SERIES.get(f"{number}{suffix}")
    elif series in ("d", "ds") and (
        (version == "v2" and suffix in ("", "i")) or (not version and not suffix)
    ):
        shape = _DV2_SERIES.get(number)
    elif series == "d" and version in ("v3", "v4") and suffix in ("", "s", "a", "as", "d", "ds"):
        shape = (number, 4.0 * number)
    elif (
        series == "e"
        and version in ("v3", "v4")
        and suffix
        in (
            "",
            "s",
            "i",
            "is",
            "a",
            "as",
            "d",
            "ds",
        )
    ):
        large = _E_LARGE.get((f"{number}{'a' if 'a' in suffix else ''}", version))
        shape = (number, float(large) if large else 8.0 * number)
    elif series == "f" and (
        (version == "v2" and suffix == "s") or (not version and suffix in ("", "s"))
    ):
        shape = (number, 2.0 * number)
    return None if shape is None else (name, shape[0], float(shape[1]))


def _azure(prices: dict[str, dict[str, float]], found: PublicCatalog, used: set[str]) -> None:
    for key in sorted(prices):
        if key.startswith("lowpriority"):
            found.skip(f"{AZURE_PUBLIC}: low-priority (spot) size", len(prices[key]))
            continue
        size = azure_size(key)
        if size is None:
            found.skip(f"{AZURE_PUBLIC}: shape not derivable from the name", len(prices[key]))
            continue
        name, vcpus, memory = size
        for region, price in sorted(prices[key].items()):
            _add(found, used, AZURE_REGIONS, AZURE_PUBLIC, region, name, vcpus, memory, price)


# GCE

GCE_MACHINE_TYPES: dict[str, dict[str, tuple[float, tuple[int, ...]]]] = {
    "e2": {
        "standard": (4.0, (2, 4, 8, 16, 32)),
        "highmem": (8.0, (2, 4, 8, 16)),
        "highcpu": (1.0, (2, 4, 8, 16, 32)),
    },
    "n1": {
        "standard": (3.75, (1, 2, 4, 8, 16, 32, 64, 96)),
        "highmem": (6.5, (2, 4, 8, 16, 32, 64, 96)),
        "highcpu": (0.9, (2, 4, 8, 16, 32, 64, 96)),
    },
    "n2": {
        "standard": (4.0, (2, 4, 8, 16, 32, 48, 64, 80, 96, 128)),
        "highmem": (8.0, (2, 4, 8, 16, 32, 48, 64, 80, 96, 128)),
        "highcpu": (1.0, (2, 4, 8, 16, 32, 48, 64, 80, 96)),
    },
    "n2d": {
        "standard": (4.0, (2, 4, 8, 16, 32, 48, 64, 80, 96, 128, 224)),
        "highmem": (8.0, (2, 4, 8, 16, 32, 48, 64, 80, 96)),
        "highcpu": (1.0, (2, 4, 8, 16, 32, 48, 64, 80, 96, 128, 224)),
    },
    "c2": {"standard": (4.0, (4, 8, 16, 30, 60))},
}
"""family -> kind -> (GB per vCPU, vCPU counts) of the predefined machine types."""
GCE_FIXED_SHAPES: dict[str, tuple[str, int, float]] = {
    "m1-ultramem-40": ("m1", 40, 961.0),
    "m1-ultramem-80": ("m1", 80, 1922.0),
    "m1-ultramem-160": ("m1", 160, 3844.0),
    "m1-megamem-96": ("m1", 96, 1433.6),
}
GCE_FLAT: dict[str, tuple[str, int, float]] = {
    "f1-micro": ("f1", 1, 0.6),
    "g1-small": ("g1", 1, 1.7),
}
"""Shared-core types priced per instance (the family's `cpu` price)."""


def _on_demand(family: dict[str, Any], part: str) -> dict[str, float]:
    prices = family.get(part, {}).get("on_demand", {})
    return {region: float(entry["price"]) for region, entry in prices.items()}


def _gce(families: dict[str, Any], found: PublicCatalog, used: set[str]) -> None:
    shapes = [
        (f"{family}-{kind}-{n}", family, n, per_cpu * n)
        for family, kinds in GCE_MACHINE_TYPES.items()
        for kind, (per_cpu, counts) in kinds.items()
        for n in counts
    ] + [(name, family, n, memory) for name, (family, n, memory) in GCE_FIXED_SHAPES.items()]
    for name, family, vcpus, memory in shapes:
        cpu, ram = _on_demand(families[family], "cpu"), _on_demand(families[family], "ram")
        for region in sorted(cpu.keys() & ram.keys()):
            # a part priced 0 is missing from the data, not free
            price = vcpus * cpu[region] + memory * ram[region] if cpu[region] and ram[region] else 0
            _add(found, used, GCE_REGIONS, GCE_PUBLIC, region, name, vcpus, memory, price)
    for name, (family, vcpus, memory) in GCE_FLAT.items():
        for region, price in sorted(_on_demand(families[family], "cpu").items()):
            _add(found, used, GCE_REGIONS, GCE_PUBLIC, region, name, vcpus, memory, price)
