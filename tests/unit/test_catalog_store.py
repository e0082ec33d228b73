"""The stored catalog (SQLite and PostgreSQL: `-k postgres` selects the latter): loading the
local flavors and Libcloud's public data, filtering, bulk load speed, the RTT matrix
(estimated < configured < measured), performance measurements that survive reloads, and the
refresh through drivers."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine
from sqlmodel import SQLModel

from catalog.geo import estimated_rtt_ms, haversine_km
from catalog.local_cloud import local_cloud_catalog
from catalog.public import (
    AWS_PUBLIC,
    AZURE_PUBLIC,
    GCE_PUBLIC,
    azure_size,
    load_public_catalog,
)
from catalog.ranking import Range, SpecFilter
from catalog.records import (
    CatalogRegion,
    CatalogSource,
    CatalogSpec,
    PerformanceMeasurement,
    RttMeasurement,
    RttSource,
)
from catalog.sources import (
    CatalogSourceError,
    drivers_part_is_current,
    estimated_rtts,
    load_rtt_file,
    refresh,
)
from catalog.store import CATALOG_ROWS, CatalogStore
from drivers.base import CloudDriver
from localcloud.flavors import FLAVORS
from store.errors import NotFoundError
from store.tables import table_of
from tests.fake_cloud import FakeCloud, FakeDriver
from tests.postgres_server import POSTGRES_URL_ENV


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'mcis.db'}"
    url = os.environ.get(POSTGRES_URL_ENV) or str(request.getfixturevalue("postgres_url"))
    engine = create_engine(url)
    SQLModel.metadata.drop_all(engine, tables=[table_of(row) for row in CATALOG_ROWS])
    engine.dispose()
    return url


LocalCatalog = tuple[list[CatalogRegion], list[CatalogSpec]]


@pytest.fixture(scope="module")
def local_catalog() -> LocalCatalog:
    """The local cloud's regions and specs, read through its drivers."""
    return asyncio.run(local_cloud_catalog())


@pytest.fixture
def catalog(database_url: str, local_catalog: LocalCatalog) -> Iterator[CatalogStore]:
    store = CatalogStore(database_url)
    regions, specs = local_catalog
    store.replace_source(CatalogSource.DRIVERS, regions, specs, origin="flavors")
    store.replace_rtt(RttSource.ESTIMATED, estimated_rtts(store.regions()), origin="test")
    yield store
    store.close()


def test_local_flavors_load(catalog: CatalogStore) -> None:
    flavor_specs = sum(len(f.regions) * len(f.specs) for f in FLAVORS.values())
    counts = catalog.counts()
    assert sum(counts.specs.values()) == flavor_specs
    assert set(counts.specs) == set(FLAVORS)
    assert counts.regions["aws"] == len(FLAVORS["aws"].regions)
    n = sum(counts.regions.values())
    assert counts.rtt == {"estimated": n * (n + 1) // 2}  # every pair and each region itself
    seoul = next(r for r in catalog.regions(["aws"]) if r.name == "ap-northeast-2")
    assert (seoul.latitude, seoul.longitude, seoul.source) == (37.56, 126.98, "drivers")


def test_filters_and_order(catalog: CatalogStore) -> None:
    shape = SpecFilter(vcpus=Range(2, 4), memory=Range(4, 16))
    found = catalog.specs(shape)
    assert found and all(2 <= s.vcpus <= 4 and 4 <= s.memory_gib <= 16 for s in found)
    prices = [s.price_per_hour for s in found]
    assert prices == sorted(prices)
    only = catalog.specs(SpecFilter(providers=frozenset({"gcp"}), price=Range(None, 0.02)))
    gcp = FLAVORS["gcp"]
    assert {s.id for s in only} == {
        f"gcp+{r.name}+{n}"
        for r in gcp.regions
        for n in ("e2-micro", "e2-small")
        if n == "e2-micro" or r.price_factor <= 1.19  # e2-small: 0.0168 x factor <= 0.02
    }
    by_key = catalog.specs(SpecFilter(regions=frozenset({"aws/us-east-1", "koreacentral"})))
    assert {(s.provider, s.region) for s in by_key} == {
        ("aws", "us-east-1"),
        ("azure", "koreacentral"),
    }
    table = catalog.spec_table(shape)
    assert len(table) == len(found)
    assert all(c is not None for c in table.region_coords)


def test_a_bulk_load_of_50k_specs_replaces_only_its_source(catalog: CatalogStore) -> None:
    """(How fast: `bench.recommend` prints the store's load and read times.)"""
    regions = catalog.regions()
    specs = [
        CatalogSpec(
            provider=regions[i % len(regions)].provider,
            region=regions[i % len(regions)].name,
            name=f"syn-{i}",
            vcpus=1 + i % 64,
            memory_gib=float(1 + i % 256),
            price_per_hour=0.001 * (1 + i % 997),
            source=CatalogSource.SYNTHETIC,
        )
        for i in range(50_000)
    ]
    before = sum(catalog.counts().specs.values())
    catalog.replace_source(CatalogSource.SYNTHETIC, [], specs, origin="test")
    assert len(catalog.spec_table()) == before + 50_000
    # replacing one source leaves the others
    catalog.replace_source(CatalogSource.SYNTHETIC, [], [], origin="test")
    assert len(catalog.specs(sources=[CatalogSource.DRIVERS])) == len(catalog.specs())


def test_rtt_sources_override_in_order(catalog: CatalogStore, tmp_path: Path) -> None:
    a, b = "aws/us-east-1", "gcp/us-central1"
    estimate = estimated_rtt_ms(haversine_km(39.04, -77.49, 41.26, -95.86))  # Ashburn, Iowa
    assert catalog.rtt_matrix().rtt(a, b) == estimate
    rtt_file = tmp_path / "rtt.yaml"
    rtt_file.write_text(f"{a}:\n  {b}: 31.5\n  {a}: 1.5\n")
    configured, warnings = load_rtt_file(rtt_file, {r.key for r in catalog.regions()})
    assert warnings == []
    catalog.replace_rtt(RttSource.CONFIGURED, configured, origin=str(rtt_file))
    matrix = catalog.rtt_matrix()
    assert (matrix.rtt(a, b), matrix.rtt(b, a), matrix.rtt(a, a)) == (31.5, 31.5, 1.5)
    catalog.record_measurements(rtts=[RttMeasurement(a=b, b=a, rtt_ms=27.25)])
    assert catalog.rtt_matrix().rtt(a, b) == 27.25
    entry = next(e for e in catalog.rtt_entries() if (e.a, e.b) == (a, b))
    assert (entry.source, entry.rtt_ms) == (RttSource.MEASURED, 27.25)
    assert len([e for e in catalog.rtt_entries(effective=False) if (e.a, e.b) == (a, b)]) == 3
    among = catalog.rtt_entries(among={a, b})  # only these regions' pairs, from the table's key
    assert {(e.a, e.b) for e in among} == {(a, a), (a, b), (b, b)}
    assert next(e for e in among if (e.a, e.b) == (a, b)) == entry
    # reloading estimates and the configured file keeps the measurement
    catalog.replace_rtt(RttSource.ESTIMATED, estimated_rtts(catalog.regions()), origin="again")
    catalog.replace_rtt(RttSource.CONFIGURED, [], origin="none")
    assert catalog.rtt_matrix().rtt(a, b) == 27.25
    assert catalog.rtt_matrix().rtt(a, a) == 2.0  # the configured own RTT is gone
    catalog.record_rtt(a, b, 26.0)  # a newer measurement replaces the older
    assert catalog.rtt_matrix().rtt(a, b) == 26.0


def test_performance_measurements_survive_reloads(
    catalog: CatalogStore, local_catalog: LocalCatalog
) -> None:
    spec_id = "aws+us-east-1+m5.large"
    catalog.record_measurements(performance=[PerformanceMeasurement(spec_id=spec_id, score=1234)])
    measured = next(s for s in catalog.specs() if s.id == spec_id)
    assert measured.performance == 1234 and measured.measured_at is not None
    regions, specs = local_catalog
    catalog.replace_source(CatalogSource.DRIVERS, regions, specs, origin="again")
    assert next(s for s in catalog.specs() if s.id == spec_id).performance == 1234
    assert catalog.counts().measured_specs == 1
    table = catalog.spec_table()
    assert [table.performance[i] for i in range(len(table)) if table.spec_id(i) == spec_id] == [
        1234
    ]
    with pytest.raises(NotFoundError, match="aws\\+us-east-1\\+nope"):
        catalog.record_measurements(
            rtts=[RttMeasurement(a="aws/us-east-1", b="aws/us-west-2", rtt_ms=60)],
            performance=[PerformanceMeasurement(spec_id="aws+us-east-1+nope", score=1)],
        )
    assert catalog.rtt_matrix().rtt("aws/us-east-1", "aws/us-west-2") != 60  # nothing written


def test_rtt_file_errors(tmp_path: Path) -> None:
    known = {"p/a", "p/b"}
    cases = {
        "p/a: [1, 2]\n": "must map region keys to ms",
        "p/a:\n  p/b: -3\n": "not a number of ms >= 0",
        "p/a:\n  p/b: fast\n": "not a number",
        "p/a:\n  nokey: 3\n": "keys are provider/region",
        "[unclosed\n": "not valid YAML",
        "- 1\n": "must map region keys",
    }
    for text, error in cases.items():
        path = tmp_path / "rtt.yaml"
        path.write_text(text)
        with pytest.raises(CatalogSourceError, match=error):
            load_rtt_file(path, known)
    path = tmp_path / "rtt.yaml"
    path.write_text("p/a:\n  p/b: 3\n  x/y: 4\n")
    entries, warnings = load_rtt_file(path, known)
    assert [(e.a, e.b, e.rtt_ms) for e in entries] == [("p/a", "p/b", 3.0)]
    assert warnings == [
        f"RTT file {str(path)!r}: region 'x/y' is not in the catalog, its pairs are ignored"
    ]
    with pytest.raises(CatalogSourceError, match="does not exist"):
        load_rtt_file(tmp_path / "missing.yaml", known)


def test_public_catalog_from_libcloud() -> None:
    public = load_public_catalog()
    assert len(public.specs) > 15_000
    assert not [reason for reason in public.skipped if "coordinates" in reason]
    by_id: dict[str, CatalogSpec] = {s.id: s for s in public.specs}
    t3 = by_id[f"{AWS_PUBLIC}+us-west-2+t3.medium"]
    assert f"{AWS_PUBLIC}+us-east-1+t3.medium" not in by_id  # priced 0 (missing) in the data
    assert (t3.vcpus, t3.memory_gib, t3.price_per_hour) == (2, 4, 0.0416)
    d2 = by_id[f"{AZURE_PUBLIC}+eastus+Standard_D2s_v3"]
    assert (d2.vcpus, d2.memory_gib) == (2, 8)
    n1 = by_id[f"{GCE_PUBLIC}+us-central1+n1-standard-2"]
    assert (n1.vcpus, n1.memory_gib) == (2, 7.5)
    assert 0.05 < n1.price_per_hour < 0.15
    assert all(s.price_per_hour > 0 for s in public.specs)
    assert {r.provider for r in public.regions} == {AWS_PUBLIC, AZURE_PUBLIC, GCE_PUBLIC}
    used = {(s.provider, s.region) for s in public.specs}
    assert used == {(r.provider, r.name) for r in public.regions}


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        ("standardd2sv3", ("Standard_D2s_v3", 2, 8.0)),
        ("standardds2v2", ("Standard_DS2_v2", 2, 7.0)),
        ("standardb1ls", ("Standard_B1ls", 1, 0.5)),
        ("standarde64isv3", ("Standard_E64is_v3", 64, 432.0)),
        ("standarde16asv4", ("Standard_E16as_v4", 16, 128.0)),
        ("standardf4sv2", ("Standard_F4s_v2", 4, 8.0)),
        ("standarda2mv2", ("Standard_A2m_v2", 2, 16.0)),
        ("standardnc6", None),
        ("basica0", None),
    ],
)
def test_azure_sizes(key: str, expected: tuple[str, int, float] | None) -> None:
    assert azure_size(key) == expected


async def test_refresh_through_drivers(tmp_path: Path) -> None:
    catalog = CatalogStore(f"sqlite:///{tmp_path / 'mcis.db'}")
    cloud = FakeCloud()
    drivers: dict[str, CloudDriver] = {p: FakeDriver(p, cloud) for p in ("aws", "gcp")}
    assert not drivers_part_is_current(catalog, "http://one")
    report = await refresh(catalog, drivers, "http://one", public=False)
    assert [p.part for p in report.parts] == ["drivers", "rtt-estimated", "rtt-configured"]
    assert report.counts.specs == {"aws": 1, "gcp": 1}
    assert report.parts[1].pairs == 3  # aws/r1-gcp/r1 and each with itself
    assert drivers_part_is_current(catalog, "http://one")
    assert not drivers_part_is_current(catalog, "http://two")
    loaded = catalog.specs()[0]
    assert loaded.source is CatalogSource.DRIVERS
    with_public = await refresh(catalog, drivers, "http://one", public=True)
    assert with_public.counts.specs["aws-public"] > 10_000
    assert with_public.seconds < 10


def test_regions_of_records() -> None:
    region = CatalogRegion(
        provider="aws", name="x", latitude=1, longitude=2, source=CatalogSource.DRIVERS
    )
    assert region.key == "aws/x"
