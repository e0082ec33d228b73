"""`RegistrationStore`: what clients register through the CB-Tumblebug 0.3 and CB-Spider
compatible APIs (`api/tumblebug`, `api/spider.py`) that mcis's own tables do not hold: Spider
drivers, credentials, regions and connection configs; Tumblebug images and specs; and what a
Tumblebug client said about a vNet, security group, SSH key or MCIS beyond mcis's records (the
name it gave, the connection it named, its VM entries). One JSON document per (scope, kind,
id), `scope` being `spider` or a namespace, in its own table on the store's database (SQLite or
PostgreSQL, same URL as `Store`)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, delete, select
from sqlmodel import Field, SQLModel

from store.repository import _connect
from store.tables import UtcDateTime, table_of, utc_now

SPIDER = "spider"
"""The scope of CB-Spider's registrations (a Tumblebug document's scope is its namespace)."""


class RegistrationRow(SQLModel, table=True):
    __tablename__ = "registrations"

    scope: str = Field(primary_key=True)
    kind: str = Field(primary_key=True)
    id: str = Field(primary_key=True)
    body: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)
    created_at: datetime = Field(default_factory=utc_now, sa_type=UtcDateTime)


_ROWS = table_of(RegistrationRow)


class RegistrationStore:
    """The registrations table on `database_url` (created when missing)."""

    def __init__(self, database_url: str) -> None:
        self._reader, self._writer, _ = _connect(database_url)
        SQLModel.metadata.create_all(self._writer, tables=[_ROWS])

    def close(self) -> None:
        self._reader.dispose()

    def put(self, scope: str, kind: str, id: str, body: dict[str, Any]) -> None:
        """Register a document, replacing the one of that id if any."""
        with self._writer.begin() as conn:
            conn.execute(delete(_ROWS).where(*_key(scope, kind, id)))
            conn.execute(_ROWS.insert(), _row(scope, kind, id, body))

    def get(self, scope: str, kind: str, id: str) -> dict[str, Any] | None:
        statement = select(_ROWS.c.body).where(*_key(scope, kind, id))
        with self._reader.begin() as conn:
            body: dict[str, Any] | None = conn.execute(statement).scalar_one_or_none()
        return body

    def of_kind(self, scope: str, kind: str) -> list[dict[str, Any]]:
        """The documents of one kind in `scope`, by id."""
        statement = (
            select(_ROWS.c.body)
            .where(_ROWS.c.scope == scope, _ROWS.c.kind == kind)
            .order_by(_ROWS.c.id)
        )
        with self._reader.begin() as conn:
            return list(conn.execute(statement).scalars())

    def delete(self, scope: str, kind: str, id: str) -> bool:
        """Forget a document; False if there was none."""
        with self._writer.begin() as conn:
            return conn.execute(delete(_ROWS).where(*_key(scope, kind, id))).rowcount > 0

    def delete_scope(self, scope: str) -> None:
        """Forget every document of `scope` (a namespace deleted)."""
        with self._writer.begin() as conn:
            conn.execute(delete(_ROWS).where(_ROWS.c.scope == scope))


def _row(scope: str, kind: str, id: str, body: dict[str, Any]) -> dict[str, Any]:
    return {"scope": scope, "kind": kind, "id": id, "body": body, "created_at": utc_now()}


def _key(scope: str, kind: str, id: str) -> tuple[Any, ...]:
    return _ROWS.c.scope == scope, _ROWS.c.kind == kind, _ROWS.c.id == id
