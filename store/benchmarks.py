"""`BenchmarkStore`: the results of benchmark runs (`mcis bench`), a row per VM, action and
target with the spec and region measured and when, in their own table on the store's database
(SQLite or PostgreSQL, same URL as `Store`). What a run teaches the catalog goes to
`CatalogStore.record_measurements`; these rows keep every measure behind it."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, delete, select
from sqlmodel import Field, SQLModel

from models.benchmark import BenchmarkRecord, BenchRow, sort_rows
from store.repository import _connect
from store.tables import UtcDateTime, table_of


class BenchmarkResultRow(SQLModel, table=True):
    __tablename__ = "benchmark_results"
    __table_args__ = (
        Index("ix_benchmark_results_mcis", "namespace", "mcis"),
        Index("ix_benchmark_results_spec", "spec", "region", "action"),
    )

    run_id: str = Field(primary_key=True)  # the benchmark workflow's id
    vm: str = Field(primary_key=True)
    action: str = Field(primary_key=True)
    target: str = Field(primary_key=True, default="")  # "" when the action has none
    namespace: str
    mcis: str
    group: str
    provider: str
    region: str
    spec: str
    value: float | None = None
    unit: str
    error: str | None = None
    measured_at: datetime = Field(sa_type=UtcDateTime)


_RESULTS = table_of(BenchmarkResultRow)


class BenchmarkStore:
    """The benchmark results table on `database_url` (created when missing)."""

    def __init__(self, database_url: str) -> None:
        self._reader, self._writer, _ = _connect(database_url)
        SQLModel.metadata.create_all(self._writer, tables=[_RESULTS])

    def close(self) -> None:
        self._reader.dispose()

    def save(self, record: BenchmarkRecord) -> None:
        """Store the rows of a run (again: a retry replaces what it wrote before)."""
        with self._writer.begin() as conn:
            conn.execute(delete(_RESULTS).where(_RESULTS.c.run_id == record.run_id))
            if record.rows:
                conn.execute(
                    _RESULTS.insert(),
                    [
                        {
                            **r.model_dump(mode="python"),
                            "action": r.action.value,
                            "target": r.target or "",
                            "run_id": record.run_id,
                            "namespace": record.namespace,
                            "mcis": record.mcis,
                        }
                        for r in record.rows
                    ],
                )

    def latest(self, namespace: str, mcis: str) -> list[BenchRow]:
        """The newest measure of each VM, action and target of the MCIS, over all its runs."""
        statement = (
            select(_RESULTS)
            .where(_RESULTS.c.namespace == namespace, _RESULTS.c.mcis == mcis)
            .order_by(_RESULTS.c.measured_at)
        )
        newest: dict[tuple[str, str, str], BenchRow] = {}
        with self._reader.begin() as conn:
            for row in conn.execute(statement):
                data = row._asdict()
                data["target"] = data["target"] or None
                newest[data["vm"], data["action"], row.target] = BenchRow.model_validate(data)
        return sort_rows(newest.values())
