"""The local cloud offers the real clouds' public regions, in the right places, priced as the
real clouds price them (Libcloud's data) or by the documented rules where no price is known."""

from __future__ import annotations

import json
import statistics
from typing import Any

import pytest

from catalog import regions as region_coordinates
from catalog.public import pricing_file
from catalog.regions import AWS_REGIONS, AZURE_REGIONS, GCE_REGIONS, Place
from localcloud.flavors import FLAVORS, REGION_INDEX, Flavor
from localcloud.world_regions import REGION_SETS, price_factor

TABLES: dict[str, dict[str, Place]] = {
    name: getattr(region_coordinates, name) for name in dir(region_coordinates) if "REGIONS" in name
}


@pytest.mark.parametrize("table", TABLES.values(), ids=list(TABLES))
def test_every_region_of_the_table_is_on_land_we_can_place(table: dict[str, Place]) -> None:
    for name, (display, lat, lon) in table.items():
        assert -60 <= lat <= 70 and -180 <= lon <= 180, name
        assert display.strip() and (lat, lon) != (0, 0), name


@pytest.mark.parametrize("flavor", FLAVORS.values(), ids=list(FLAVORS))
def test_flavor_regions_are_distinct_and_plausible(flavor: Flavor) -> None:
    names = [r.name for r in flavor.regions]
    assert len(names) == len(set(names))
    for region in flavor.regions:
        assert -60 <= region.latitude <= 70 and -180 <= region.longitude <= 180, region.name
        assert 0.9 <= region.price_factor <= 2.5, region.name


@pytest.mark.parametrize("flavor", ["aws", "gcp", "azure"])
def test_the_big_three_offer_the_world(flavor: str) -> None:
    assert len(FLAVORS[flavor].regions) >= 25


def test_region_counts_per_flavor() -> None:
    counts = {name: len(f.regions) for name, f in FLAVORS.items()}
    assert counts["alibaba"] >= 20
    assert counts["openstack"] == counts["cloudit"] == 3
    assert sum(counts.values()) >= 150


@pytest.mark.parametrize(
    ("flavor", "region", "city"),
    [
        ("aws", "us-east-1", (38.9, -77.5)),  # Northern Virginia
        ("aws", "ap-northeast-2", (37.57, 126.98)),  # Seoul
        ("aws", "sa-east-1", (-23.55, -46.63)),  # Sao Paulo
        ("gcp", "asia-south1", (19.08, 72.88)),  # Mumbai
        ("gcp", "europe-west9", (48.86, 2.35)),  # Paris
        ("gcp", "australia-southeast1", (-33.87, 151.21)),  # Sydney
        ("azure", "westeurope", (52.37, 4.90)),  # Amsterdam
        ("azure", "swedencentral", (60.67, 17.14)),  # Gavle
        ("alibaba", "cn-beijing", (39.90, 116.41)),
        ("alibaba", "ap-southeast-1", (1.35, 103.82)),  # Singapore
    ],
)
def test_regions_are_where_the_clouds_say(
    flavor: str, region: str, city: tuple[float, float]
) -> None:
    found = FLAVORS[flavor].region(region)
    assert found is not None
    assert abs(found.latitude - city[0]) <= 2 and abs(found.longitude - city[1]) <= 2


def test_gcp_asia_south1_is_mumbai_and_aws_us_east_1_virginia() -> None:
    mumbai = FLAVORS["gcp"].region("asia-south1")
    assert mumbai is not None and mumbai.display_name == "Mumbai"
    virginia = FLAVORS["aws"].region("us-east-1")
    assert virginia is not None and "Virginia" in virginia.display_name


def test_flavors_and_drivers_share_one_table() -> None:
    for flavor, table in (("aws", AWS_REGIONS), ("gcp", GCE_REGIONS), ("azure", AZURE_REGIONS)):
        for region in FLAVORS[flavor].regions:
            assert table[region.name] == (region.display_name, region.latitude, region.longitude)


def test_customers_cannot_use_govcloud_local_zones_or_retired_regions() -> None:
    offered = {(f, r.name) for f, flavor in FLAVORS.items() for r in flavor.regions}
    for gone in ("us-gov-west-1", "us-west-2-lax-1"):
        assert ("aws", gone) not in offered
    for gone in ("usgovvirginia", "germanycentral"):
        assert ("azure", gone) not in offered


def test_the_first_regions_keep_their_addresses() -> None:
    first = [
        ("aws", "us-east-1"),
        ("aws", "ap-northeast-2"),
        ("aws", "eu-west-1"),
        ("aws", "us-west-2"),
        ("gcp", "us-central1"),
    ]
    assert [REGION_INDEX[key] for key in first] == [1, 2, 3, 4, 5]
    assert REGION_INDEX[("cloudit", "busan-1")] == 21
    assert sorted(REGION_INDEX.values()) == list(range(1, len(REGION_INDEX) + 1))


# prices


def _libcloud_factors(flavor: str, compute: dict[str, Any]) -> dict[str, float]:
    """Mean over the flavor's specs of price(region) / price(reference region) in Libcloud's
    data, rounded to 0.01: what REGION_SETS holds as measured factors."""
    prices: list[dict[str, float]] = []
    for spec in FLAVORS[flavor].specs:
        if flavor == "aws":
            found = compute["ec2_linux"].get(spec.name, {})
        elif flavor == "azure":
            found = compute["azure_linux"].get(spec.name.lower().replace("_", ""), {})
        else:
            family = compute["gce_instances"][spec.name.split("-")[0]]
            cpu, ram = (
                {r: e["price"] for r, e in family[p]["on_demand"].items()} for p in ("cpu", "ram")
            )
            found = {
                r: spec.vcpus * cpu[r] + spec.memory_gib * ram[r]
                for r in cpu.keys() & ram.keys()
                if cpu[r] and ram[r]
            }
        prices.append({r: p for r, p in found.items() if p > 0})
    reference = REGION_SETS[flavor].reference
    factors = {}
    for region in {r for p in prices for r in p}:
        ratios = [p[region] / p[reference] for p in prices if region in p and reference in p]
        if ratios:
            factors[region] = round(statistics.mean(ratios), 2)
    return factors


@pytest.mark.parametrize("flavor", ["aws", "gcp", "azure"])
def test_measured_price_factors_follow_libcloud_prices(flavor: str) -> None:
    compute = json.loads(pricing_file().read_text())["compute"]
    regions = REGION_SETS[flavor]
    expected = {
        r: f for r, f in _libcloud_factors(flavor, compute).items() if r not in regions.left_out
    }
    assert dict(regions.factors) == expected, "regenerate the factors from Libcloud's data"
    assert regions.factors[regions.reference] == 1.0


def test_a_region_without_a_price_costs_what_its_nearest_priced_region_costs() -> None:
    gcp = REGION_SETS["gcp"]
    assert "europe-west9" not in gcp.factors  # Paris: nearest priced is St. Ghislain, Belgium
    assert price_factor(gcp, "europe-west9") == gcp.factors["europe-west1"]
    azure = REGION_SETS["azure"]
    assert "westus3" not in azure.factors  # Phoenix: nearest priced is San Francisco
    assert price_factor(azure, "westus3") == azure.factors["westus"]


def test_alibaba_prices_mainland_china_cheapest() -> None:
    alibaba = {r.name: r.price_factor for r in FLAVORS["alibaba"].regions}
    assert alibaba["cn-hangzhou"] == alibaba["cn-beijing"] == 1.0
    assert alibaba["cn-hongkong"] > 1.0 and alibaba["eu-central-1"] > 1.0
    assert min(alibaba.values()) == 1.0


def test_sao_paulo_costs_more_than_virginia_everywhere_it_is_priced() -> None:
    aws, gcp = FLAVORS["aws"], FLAVORS["gcp"]
    for flavor, cheap, dear in (
        (aws, "us-east-1", "sa-east-1"),
        (gcp, "us-central1", "southamerica-east1"),
    ):
        a, b = flavor.region(cheap), flavor.region(dear)
        assert a is not None and b is not None and b.price_factor > a.price_factor * 1.3
