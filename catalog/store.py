"""`CatalogStore`: the spec/region catalog and the RTT matrix between regions, in their own
tables on the store's database (SQLite or PostgreSQL, same URL as `Store`).

Loading replaces one source's rows in one transaction with bulk INSERTs (tens of thousands of
rows in a fraction of a second); reading for placement returns plain columns (`spec_table`),
never one object per row. Measurements (RTTs between regions, performance scores of specs)
come from benchmarks through `record_measurements` and survive every reload.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from pydantic import BaseModel
from sqlalchemy import Connection, Index, and_, delete, func, or_, select, update
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import Field, SQLModel

from catalog.ranking import RttMatrix, SpecFilter, SpecTable
from catalog.records import (
    RTT_PRIORITY,
    CatalogRegion,
    CatalogSource,
    CatalogSpec,
    PerformanceMeasurement,
    RttEntry,
    RttMeasurement,
    RttSource,
    region_key,
)
from settings import Settings
from store.errors import NotFoundError
from store.repository import _connect
from store.tables import UtcDateTime, table_of, utc_now


class CatalogSpecRow(SQLModel, table=True):
    __tablename__ = "catalog_specs"
    __table_args__ = (Index("ix_catalog_specs_shape", "vcpus", "memory_gib"),)

    provider: str = Field(primary_key=True)
    region: str = Field(primary_key=True)
    name: str = Field(primary_key=True)
    vcpus: int
    memory_gib: float
    price_per_hour: float
    source: str = Field(index=True)
    performance: float | None = None
    measured_at: datetime | None = Field(default=None, sa_type=UtcDateTime)


class CatalogRegionRow(SQLModel, table=True):
    __tablename__ = "catalog_regions"

    provider: str = Field(primary_key=True)
    name: str = Field(primary_key=True)
    display_name: str = ""
    latitude: float
    longitude: float
    source: str = Field(index=True)


class CatalogRttRow(SQLModel, table=True):
    """One RTT per region-key pair (a <= b) and source; the highest-priority source wins."""

    __tablename__ = "catalog_rtt"

    a: str = Field(primary_key=True)
    b: str = Field(primary_key=True)
    source: str = Field(primary_key=True)
    rtt_ms: float
    updated_at: datetime = Field(default_factory=utc_now, sa_type=UtcDateTime)


class CatalogLoadRow(SQLModel, table=True):
    """When each part of the catalog was last loaded, and from where."""

    __tablename__ = "catalog_loads"

    part: str = Field(primary_key=True)
    origin: str
    rows: int
    loaded_at: datetime = Field(default_factory=utc_now, sa_type=UtcDateTime)


CATALOG_ROWS: tuple[type[SQLModel], ...] = (
    CatalogSpecRow,
    CatalogRegionRow,
    CatalogRttRow,
    CatalogLoadRow,
)

_SPECS = table_of(CatalogSpecRow)
_REGIONS = table_of(CatalogRegionRow)
_RTT = table_of(CatalogRttRow)
_LOADS = table_of(CatalogLoadRow)


class CatalogLoad(BaseModel):
    part: str
    origin: str
    rows: int
    loaded_at: datetime


class CatalogCounts(BaseModel):
    specs: dict[str, int]  # by provider
    regions: dict[str, int]  # by provider
    rtt: dict[str, int]  # pairs by source
    measured_specs: int


class CatalogStore:
    """The catalog tables on `database_url` (created when missing)."""

    def __init__(self, database_url: str) -> None:
        self._reader, self._writer, self._insert = _connect(database_url)
        SQLModel.metadata.create_all(self._writer, tables=[table_of(r) for r in CATALOG_ROWS])

    @classmethod
    def from_settings(cls, settings: Settings) -> CatalogStore:
        return cls(settings.database_url)

    def close(self) -> None:
        self._reader.dispose()

    @contextmanager
    def _connection(self, *, write: bool = False) -> Iterator[Connection]:
        with (self._writer if write else self._reader).begin() as connection:
            yield connection

    # loading

    def replace_source(
        self,
        source: CatalogSource,
        regions: Sequence[CatalogRegion],
        specs: Sequence[CatalogSpec],
        origin: str,
    ) -> None:
        """Replace every region and spec of `source` by these, in one transaction. Measured
        performance of a spec that is still there is kept."""
        with self._connection(write=True) as conn:
            kept = {
                (p, r, n): (score, at)
                for p, r, n, score, at in conn.execute(
                    select(
                        _SPECS.c.provider,
                        _SPECS.c.region,
                        _SPECS.c.name,
                        _SPECS.c.performance,
                        _SPECS.c.measured_at,
                    ).where(_SPECS.c.source == source.value, _SPECS.c.performance.is_not(None))
                )
            }
            conn.execute(delete(_SPECS).where(_SPECS.c.source == source.value))
            conn.execute(delete(_REGIONS).where(_REGIONS.c.source == source.value))
            if regions:
                conn.execute(
                    _REGIONS.insert(),
                    [
                        {
                            "provider": r.provider,
                            "name": r.name,
                            "display_name": r.display_name,
                            "latitude": r.latitude,
                            "longitude": r.longitude,
                            "source": source.value,
                        }
                        for r in regions
                    ],
                )
            if specs:
                rows = []
                for s in specs:
                    score, at = kept.get((s.provider, s.region, s.name), (None, None))
                    rows.append(
                        {
                            "provider": s.provider,
                            "region": s.region,
                            "name": s.name,
                            "vcpus": s.vcpus,
                            "memory_gib": s.memory_gib,
                            "price_per_hour": s.price_per_hour,
                            "source": source.value,
                            "performance": s.performance if score is None else score,
                            "measured_at": s.measured_at if at is None else at,
                        }
                    )
                conn.execute(_SPECS.insert(), rows)
            self._note_load(conn, source.value, origin, len(specs))

    def replace_rtt(self, source: RttSource, entries: Iterable[RttEntry], origin: str) -> int:
        """Replace every RTT of `source` (estimated or configured) by `entries`; returns how
        many pairs were stored. Measured RTTs go through `record_measurements`."""
        now = utc_now()
        rows = {}
        for e in entries:
            a, b = sorted((e.a, e.b))
            rows[(a, b)] = {"a": a, "b": b, "source": source.value, "rtt_ms": e.rtt_ms}
        with self._connection(write=True) as conn:
            conn.execute(delete(_RTT).where(_RTT.c.source == source.value))
            if rows:
                conn.execute(_RTT.insert(), [row | {"updated_at": now} for row in rows.values()])
            self._note_load(conn, f"rtt-{source.value}", origin, len(rows))
        return len(rows)

    def _note_load(self, conn: Connection, part: str, origin: str, rows: int) -> None:
        statement = self._insert(_LOADS)
        conn.execute(
            statement.on_conflict_do_update(
                index_elements=["part"],
                set_={c: statement.excluded[c] for c in ("origin", "rows", "loaded_at")},
            ),
            {"part": part, "origin": origin, "rows": rows, "loaded_at": utc_now()},
        )

    # measurements

    def record_measurements(
        self,
        rtts: Iterable[RttMeasurement] = (),
        performance: Iterable[PerformanceMeasurement] = (),
    ) -> None:
        """Store measured RTTs (they override configured and estimated ones for their pair)
        and performance scores of specs, in one transaction. NotFoundError, and nothing
        written, if a spec is not in the catalog."""
        now = utc_now()
        rtt_rows = []
        for m in rtts:
            a, b = sorted((m.a, m.b))
            rtt_rows.append(
                {
                    "a": a,
                    "b": b,
                    "source": RttSource.MEASURED.value,
                    "rtt_ms": m.rtt_ms,
                    "updated_at": m.measured_at or now,
                }
            )
        with self._connection(write=True) as conn:
            if rtt_rows:
                statement = self._insert(_RTT)
                conn.execute(
                    statement.on_conflict_do_update(
                        index_elements=["a", "b", "source"],
                        set_={c: statement.excluded[c] for c in ("rtt_ms", "updated_at")},
                    ),
                    rtt_rows,
                )
            missing = []
            for p in performance:
                result = conn.execute(
                    update(_SPECS)
                    .where(
                        _SPECS.c.provider == p.spec_id.provider,
                        _SPECS.c.region == p.spec_id.region,
                        _SPECS.c.name == p.spec_id.name,
                    )
                    .values(performance=p.score, measured_at=p.measured_at or now)
                )
                if result.rowcount == 0:
                    missing.append(p.spec_id)
            if missing:
                raise NotFoundError(f"spec(s) not in the catalog: {', '.join(missing)}")

    def record_rtt(self, a: str, b: str, rtt_ms: float) -> None:
        """One measured RTT between region keys `a` and `b` (the same key: its own RTT)."""
        self.record_measurements(rtts=[RttMeasurement(a=a, b=b, rtt_ms=rtt_ms)])

    # reading

    def last_load(self, part: str) -> CatalogLoad | None:
        """The last load of `part` (a CatalogSource value, or `rtt-<source>`)."""
        with self._connection() as conn:
            row = conn.execute(select(_LOADS).where(_LOADS.c.part == part)).first()
        return None if row is None else CatalogLoad.model_validate(row._asdict())

    def regions(self, providers: Iterable[str] = ()) -> list[CatalogRegion]:
        statement = select(_REGIONS).order_by(_REGIONS.c.provider, _REGIONS.c.name)
        wanted = list(providers)
        if wanted:
            statement = statement.where(_REGIONS.c.provider.in_(wanted))
        with self._connection() as conn:
            return [CatalogRegion.model_validate(row._asdict()) for row in conn.execute(statement)]

    def providers(self) -> list[str]:
        with self._connection() as conn:
            return list(
                conn.execute(select(_SPECS.c.provider).distinct().order_by(_SPECS.c.provider))
                .scalars()
                .all()
            )

    def coordinates(self) -> dict[str, tuple[float, float]]:
        """Coordinates by region key."""
        with self._connection() as conn:
            return {
                region_key(p, n): (lat, lon)
                for p, n, lat, lon in conn.execute(
                    select(
                        _REGIONS.c.provider,
                        _REGIONS.c.name,
                        _REGIONS.c.latitude,
                        _REGIONS.c.longitude,
                    )
                )
            }

    def specs(
        self, spec_filter: SpecFilter | None = None, sources: Iterable[CatalogSource] = ()
    ) -> list[CatalogSpec]:
        """Specs passing the filter, cheapest first (then provider, region, name)."""
        statement = (
            select(_SPECS)
            .where(*_conditions(spec_filter, sources))
            .order_by(_SPECS.c.price_per_hour, _SPECS.c.provider, _SPECS.c.region, _SPECS.c.name)
        )
        with self._connection() as conn:
            return [CatalogSpec.model_validate(row._asdict()) for row in conn.execute(statement)]

    def spec_table(
        self, spec_filter: SpecFilter | None = None, sources: Iterable[CatalogSource] = ()
    ) -> SpecTable:
        """The specs passing the filter as columns, with the coordinates of their regions."""
        statement = select(
            _SPECS.c.provider,
            _SPECS.c.region,
            _SPECS.c.name,
            _SPECS.c.vcpus,
            _SPECS.c.memory_gib,
            _SPECS.c.price_per_hour,
            _SPECS.c.performance,
            _SPECS.c.source,
        ).where(*_conditions(spec_filter, sources))
        with self._connection() as conn:
            rows: Any = conn.execute(statement).all()
        return SpecTable.from_rows(rows, self.coordinates())

    def rtt_entries(
        self, effective: bool = True, among: Collection[str] | None = None
    ) -> list[RttEntry]:
        """Stored RTTs; `effective`: one per pair, the highest-priority source's; `among`: only
        the pairs of these region keys (read from the table's key, not the whole matrix)."""
        statement = select(_RTT.c.a, _RTT.c.b, _RTT.c.rtt_ms, _RTT.c.source)
        if among is not None:
            keys = sorted(among)
            statement = statement.where(_RTT.c.a.in_(keys), _RTT.c.b.in_(keys))
        with self._connection() as conn:
            rows = conn.execute(statement).all()
        entries = [RttEntry(a=a, b=b, rtt_ms=ms, source=RttSource(src)) for a, b, ms, src in rows]
        if not effective:
            return entries
        best: dict[tuple[str, str], RttEntry] = {}
        for e in entries:
            held = best.get((e.a, e.b))
            if held is None or RTT_PRIORITY[e.source] > RTT_PRIORITY[held.source]:
                best[(e.a, e.b)] = e
        return sorted(best.values(), key=lambda e: (e.a, e.b))

    def rtt_matrix(self) -> RttMatrix:
        """The effective RTT matrix over the catalog's regions (pairs missing from the table
        are estimated from coordinates)."""
        with self._connection() as conn:
            rows = conn.execute(select(_RTT.c.a, _RTT.c.b, _RTT.c.rtt_ms, _RTT.c.source)).all()
        values: dict[tuple[str, str], tuple[int, float]] = {}
        for a, b, ms, src in rows:
            rank = RTT_PRIORITY[RttSource(src)]
            held = values.get((a, b))
            if held is None or rank > held[0]:
                values[(a, b)] = (rank, ms)
        return RttMatrix(self.coordinates(), {pair: ms for pair, (_, ms) in values.items()})

    def counts(self) -> CatalogCounts:
        with self._connection() as conn:
            specs: dict[str, int] = dict(
                conn.execute(
                    select(_SPECS.c.provider, func.count()).group_by(_SPECS.c.provider)
                ).all()
            )
            regions: dict[str, int] = dict(
                conn.execute(
                    select(_REGIONS.c.provider, func.count()).group_by(_REGIONS.c.provider)
                ).all()
            )
            rtt: dict[str, int] = dict(
                conn.execute(select(_RTT.c.source, func.count()).group_by(_RTT.c.source)).all()
            )
            measured = conn.execute(
                select(func.count()).select_from(_SPECS).where(_SPECS.c.performance.is_not(None))
            ).scalar_one()
        return CatalogCounts(specs=specs, regions=regions, rtt=rtt, measured_specs=measured)


def _conditions(
    spec_filter: SpecFilter | None, sources: Iterable[CatalogSource]
) -> list[ColumnElement[bool]]:
    found: list[ColumnElement[bool]] = []
    wanted = [s.value for s in sources]
    if wanted:
        found.append(_SPECS.c.source.in_(wanted))
    if spec_filter is None:
        return found
    for column, bounds in (
        (_SPECS.c.vcpus, spec_filter.vcpus),
        (_SPECS.c.memory_gib, spec_filter.memory),
        (_SPECS.c.price_per_hour, spec_filter.price),
    ):
        if bounds.lo is not None:
            found.append(column >= bounds.lo)
        if bounds.hi is not None:
            found.append(column <= bounds.hi)
    if spec_filter.providers:
        found.append(_SPECS.c.provider.in_(sorted(spec_filter.providers)))
    if spec_filter.regions:
        names = [r for r in spec_filter.regions if "/" not in r]
        keys = [r.split("/", 1) for r in spec_filter.regions if "/" in r]
        found.append(
            or_(
                _SPECS.c.region.in_(names),
                *(and_(_SPECS.c.provider == p, _SPECS.c.region == r) for p, r in keys),
            )
        )
    return found
