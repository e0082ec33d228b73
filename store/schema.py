"""Bringing an existing database up to the current tables: a release may add columns (never
drop or change one), and a store opened on a database written by an earlier release adds them in
place, with their defaults, so an installation keeps its records across upgrades."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import Engine, Table, inspect
from sqlalchemy.schema import CreateColumn


def add_missing_columns(engine: Engine, tables: Iterable[Table]) -> list[str]:
    """Add to each existing table the columns it lacks; the `table.column` names added."""
    added: list[str] = []
    with engine.begin() as connection:
        inspector = inspect(connection)
        for table in tables:
            if not inspector.has_table(table.name):
                continue
            present = {column["name"] for column in inspector.get_columns(table.name)}
            for column in table.columns:
                if column.name in present:
                    continue
                definition = CreateColumn(column).compile(dialect=engine.dialect)
                connection.exec_driver_sql(f'ALTER TABLE "{table.name}" ADD COLUMN {definition}')
                added.append(f"{table.name}.{column.name}")
    return added
