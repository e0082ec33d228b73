"""The database tables of mcis (sqlmodel). Private to the store package: the public API of the
store takes and returns the pydantic records of `models.records`, never these classes.

Enums are stored as their plain string values, lists and dicts as JSON, timestamps in UTC.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, DateTime, Dialect, Index, Table, TypeDecorator, false
from sqlmodel import Field, SQLModel


def utc_now() -> datetime:
    return datetime.now(UTC)


class UtcDateTime(TypeDecorator[datetime]):
    """A timestamp kept in UTC. SQLite drops the zone, so naive values read back are UTC."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return (value if value.tzinfo else value.replace(tzinfo=UTC)).astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None or value.tzinfo:
            return value
        return value.replace(tzinfo=UTC)


class NamespaceRow(SQLModel, table=True):
    __tablename__ = "namespaces"

    name: str = Field(primary_key=True)
    description: str = ""
    created_at: datetime = Field(default_factory=utc_now, sa_type=UtcDateTime)


class ResourceRow(SQLModel, table=True):
    __tablename__ = "resources"

    namespace: str = Field(primary_key=True)
    kind: str = Field(primary_key=True)
    name: str = Field(primary_key=True)
    provider: str
    region: str
    csp_id: str
    shared: bool = False
    details: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)
    secret_ref: str | None = None
    created_at: datetime = Field(default_factory=utc_now, sa_type=UtcDateTime)


class SecretRow(SQLModel, table=True):
    __tablename__ = "secrets"

    ref: str = Field(primary_key=True)
    ciphertext: str  # a Fernet token; the plaintext is never stored
    created_at: datetime = Field(default_factory=utc_now, sa_type=UtcDateTime)


class HostKeyRow(SQLModel, table=True):
    """SSH host keys recorded on first contact with a VM (trust on first use)."""

    __tablename__ = "host_keys"

    ref: str = Field(primary_key=True)  # provider/csp_id of the VM
    key: str  # "<type> <base64>", as in known_hosts
    created_at: datetime = Field(default_factory=utc_now, sa_type=UtcDateTime)


class McisRow(SQLModel, table=True):
    __tablename__ = "mcis"

    namespace: str = Field(primary_key=True)
    name: str = Field(primary_key=True)
    uid: str
    description: str = ""
    phase: str
    request: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)
    created_at: datetime = Field(default_factory=utc_now, sa_type=UtcDateTime)


class VmRow(SQLModel, table=True):
    __tablename__ = "vms"
    __table_args__ = (Index("ix_vms_region", "namespace", "provider", "region"),)

    namespace: str = Field(primary_key=True)
    mcis: str = Field(primary_key=True)
    name: str = Field(primary_key=True)
    group: str
    provider: str
    region: str
    spec: str
    image: str
    client_token: str = Field(index=True)
    attempt: int = 0
    serial: int = Field(default=0, sa_column_kwargs={"server_default": "0"})  # added in 0.2
    csp_id: str | None = None
    status: str
    native_status: str | None = None
    public_ip: str | None = None
    private_ip: str | None = None
    error: str | None = None
    vnet: str = ""
    security_groups: list[str] = Field(default_factory=list, sa_type=JSON)
    ssh_key: str = ""
    created_at: datetime | None = Field(default=None, sa_type=UtcDateTime)  # added in 0.2
    listed: bool = Field(default=False, sa_column_kwargs={"server_default": false()})  # in 0.3
    updated_at: datetime = Field(default_factory=utc_now, sa_type=UtcDateTime)


ROWS: tuple[type[SQLModel], ...] = (
    NamespaceRow,
    ResourceRow,
    SecretRow,
    HostKeyRow,
    McisRow,
    VmRow,
)
"""Every table of the store, in creation order."""


def table_of(row: type[SQLModel]) -> Table:
    table = row.__table__  # type: ignore[attr-defined]
    assert isinstance(table, Table)
    return table
