"""`Store`: the persistence of mcis (namespaces, resources, secrets, MCIS, VMs) on SQLite or
PostgreSQL. It takes and returns the pydantic records of `models.records`; every method is
synchronous and runs as its own short transaction, so activities call it from a thread pool.

SQLite is shared by several processes (CLI, workers): it runs in WAL mode so readers never wait,
and a write transaction starts with `BEGIN IMMEDIATE`, taking the write lock up front (waiting up
to the busy timeout) rather than failing with "database is locked" halfway through.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from functools import cached_property
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel
from sqlalchemy import Connection, Delete, Engine, Table, create_engine, event, func, make_url
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import Session, SQLModel, col, delete, select, update
from sqlmodel.sql.expression import SelectOfScalar

from models.records import (
    McisPhase,
    McisRecord,
    NamespaceRecord,
    ResourceKind,
    ResourceRecord,
    VmRecord,
)
from settings import Settings
from store.changes import VmChanges
from store.errors import AlreadyExistsError, InUseError, NotFoundError, StoreError
from store.schema import add_missing_columns
from store.secrets import SecretBox, load_secret_box
from store.tables import (
    ROWS,
    HostKeyRow,
    McisRow,
    NamespaceRow,
    ResourceRow,
    SecretRow,
    VmRow,
    table_of,
    utc_now,
)

BUSY_TIMEOUT_S = 30.0
"""How long a SQLite writer waits for another one to finish before giving up."""

_BEGIN_OPTION = "mcis_sqlite_begin"
_Record = TypeVar("_Record", bound=BaseModel)
_Row = TypeVar("_Row", bound=SQLModel)
_Insert = Callable[[Table], postgresql.Insert | sqlite.Insert]
_VM_INDEX = re.compile(r"-(\d+)$")


class Store:
    """The store of one mcis installation: `Store(database_url, home)`, `home` holding the
    secret key file unless env `MCIS_SECRET_KEY` gives the key. Making it creates the tables that
    are missing.
    """

    def __init__(self, database_url: str, home: Path) -> None:
        self._home = home
        self.database_url = database_url  # for the stores sharing the database (catalog, ...)
        self._reader, self._writer, self._insert = _connect(database_url)
        tables = [table_of(row) for row in ROWS]
        SQLModel.metadata.create_all(self._writer, tables=tables)
        add_missing_columns(self._writer, tables)

    @classmethod
    def from_settings(cls, settings: Settings) -> Store:
        return cls(settings.database_url, settings.home)

    def close(self) -> None:
        """Close the pooled database connections."""
        self._reader.dispose()

    # namespaces

    def create_namespace(self, record: NamespaceRecord) -> NamespaceRecord:
        row = _to_row(NamespaceRow, record)
        self._create(row, f"namespace {record.name!r} already exists")
        return NamespaceRecord.model_validate(row, from_attributes=True)

    def get_namespace(self, name: str) -> NamespaceRecord | None:
        return self._get(NamespaceRecord, NamespaceRow, name)

    def list_namespaces(self) -> list[NamespaceRecord]:
        return self._list(NamespaceRecord, select(NamespaceRow).order_by(col(NamespaceRow.name)))

    def delete_namespace(self, name: str) -> None:
        """Delete an empty namespace; InUseError while it holds any MCIS or resource."""
        with self._session(write=True) as session:
            row = session.get(NamespaceRow, name)
            if row is None:
                raise NotFoundError(f"namespace {name!r} not found")
            held = [
                _quantity(_count(session, McisRow, col(McisRow.namespace) == name), "MCIS", ""),
                _quantity(
                    _count(session, ResourceRow, col(ResourceRow.namespace) == name), "resource"
                ),
            ]
            if any(held):
                raise InUseError(
                    f"namespace {name!r} still holds {' and '.join(filter(None, held))}"
                )
            session.delete(row)

    # resources

    def upsert_resource(self, record: ResourceRecord) -> ResourceRecord:
        """Insert the resource, or update the one of the same namespace, kind and name (which
        keeps its `created_at`)."""
        with self._session(write=True) as session:
            self._upsert(session, [_to_row(ResourceRow, record)], keep=("created_at",))
            row = session.get(
                ResourceRow, _resource_key(record.namespace, record.kind, record.name)
            )
            return ResourceRecord.model_validate(row, from_attributes=True)

    def get_resource(self, namespace: str, kind: ResourceKind, name: str) -> ResourceRecord | None:
        return self._get(ResourceRecord, ResourceRow, _resource_key(namespace, kind, name))

    def list_resources(
        self, namespace: str, kind: ResourceKind | None = None, shared: bool | None = None
    ) -> list[ResourceRecord]:
        """Resources of a namespace by kind then name, optionally only of one kind or sharing."""
        statement = select(ResourceRow).where(col(ResourceRow.namespace) == namespace)
        if kind is not None:
            statement = statement.where(col(ResourceRow.kind) == kind.value)
        if shared is not None:
            statement = statement.where(col(ResourceRow.shared) == shared)
        return self._list(
            ResourceRecord, statement.order_by(col(ResourceRow.kind), col(ResourceRow.name))
        )

    def delete_resource(self, namespace: str, kind: ResourceKind, name: str) -> None:
        """Delete the resource and its secret, if any; nothing happens if it does not exist."""
        with self._session(write=True) as session:
            row = session.get(ResourceRow, _resource_key(namespace, kind, name))
            if row is None:
                return
            if row.secret_ref is not None:
                session.exec(delete(SecretRow).where(col(SecretRow.ref) == row.secret_ref))
            session.delete(row)

    def resource_users(self, namespace: str, kind: ResourceKind, name: str) -> list[str]:
        """Names of the MCIS (sorted) with a VM that uses the resource."""
        with self._session() as session:
            if kind is ResourceKind.SECURITY_GROUP:
                rows = session.exec(
                    select(VmRow.mcis, VmRow.security_groups).where(
                        col(VmRow.namespace) == namespace
                    )
                )
                users = {mcis for mcis, groups in rows if name in groups}
            else:
                column = VmRow.vnet if kind is ResourceKind.VNET else VmRow.ssh_key
                users = set(
                    session.exec(
                        select(VmRow.mcis).where(
                            col(VmRow.namespace) == namespace, col(column) == name
                        )
                    )
                )
        return sorted(users)

    # secrets

    def put_secret(self, ref: str, plaintext: str) -> None:
        """Store `plaintext` encrypted under `ref`, replacing any secret of that ref."""
        row = SecretRow(ref=ref, ciphertext=self._secret_box.encrypt(plaintext))
        with self._session(write=True) as session:
            self._upsert(session, [row])

    def get_secret(self, ref: str) -> str:
        with self._session() as session:
            row = session.get(SecretRow, ref)
            if row is None:
                raise NotFoundError(f"secret {ref!r} not found")
            ciphertext = row.ciphertext
        return self._secret_box.decrypt(ciphertext, ref=ref)

    def delete_secret(self, ref: str) -> None:
        """Delete the secret; nothing happens if it does not exist."""
        with self._session(write=True) as session:
            session.exec(delete(SecretRow).where(col(SecretRow.ref) == ref))

    def has_secret(self, ref: str) -> bool:
        with self._session() as session:
            return session.get(SecretRow, ref) is not None

    # SSH host keys (trust on first use)

    def get_host_key(self, ref: str) -> str | None:
        with self._session() as session:
            row = session.get(HostKeyRow, ref)
            return None if row is None else row.key

    def get_host_keys(self, refs: Iterable[str]) -> dict[str, str]:
        """The recorded keys among `refs` (one query for a whole batch of VMs)."""
        with self._session() as session:
            rows = session.exec(select(HostKeyRow).where(col(HostKeyRow.ref).in_(list(refs))))
            return {row.ref: row.key for row in rows}

    def put_host_key(self, ref: str, key: str) -> None:
        with self._session(write=True) as session:
            self._upsert(session, [HostKeyRow(ref=ref, key=key)])

    def forget_host_key(self, ref: str) -> None:
        with self._session(write=True) as session:
            session.exec(delete(HostKeyRow).where(col(HostKeyRow.ref) == ref))

    # MCIS

    def create_mcis(self, record: McisRecord) -> McisRecord:
        row = _to_row(McisRow, record)
        self._create(row, f"{_mcis_name(record.namespace, record.name)} already exists")
        return McisRecord.model_validate(row, from_attributes=True)

    def get_mcis(self, namespace: str, name: str) -> McisRecord | None:
        return self._get(McisRecord, McisRow, (namespace, name))

    def list_mcis(self, namespace: str) -> list[McisRecord]:
        return self._list(
            McisRecord,
            select(McisRow).where(col(McisRow.namespace) == namespace).order_by(col(McisRow.name)),
        )

    def set_mcis_phase(self, namespace: str, name: str, phase: McisPhase) -> McisRecord:
        with self._session(write=True) as session:
            row = session.get(McisRow, (namespace, name))
            if row is None:
                raise NotFoundError(f"{_mcis_name(namespace, name)} not found")
            row.phase = phase.value
            return McisRecord.model_validate(row, from_attributes=True)

    def delete_mcis(self, namespace: str, name: str) -> None:
        """Delete the MCIS and its VMs; nothing happens if it does not exist."""
        with self._session(write=True) as session:
            session.exec(_delete_vms(namespace, name))
            session.exec(
                delete(McisRow).where(
                    col(McisRow.namespace) == namespace, col(McisRow.name) == name
                )
            )

    # VMs

    def upsert_vms(self, records: Iterable[VmRecord]) -> None:
        """Insert the VMs, or replace the ones of the same namespace, MCIS and name, in one
        transaction; `updated_at` becomes now."""
        now = utc_now()
        rows = [_to_row(VmRow, record, updated_at=now) for record in records]
        if rows:
            with self._session(write=True) as session:
                self._upsert(session, rows)

    def update_vms(self, namespace: str, mcis: str, changes: Mapping[str, VmChanges]) -> None:
        """Apply `changes` (VM name -> what changed) to VMs of one MCIS, in one transaction;
        `updated_at` becomes now. NotFoundError, and nothing written, if a VM is not there."""
        now = utc_now()
        missing = []
        with self._session(write=True) as session:
            for name, change in changes.items():
                result = session.exec(
                    update(table_of(VmRow))
                    .where(
                        col(VmRow.namespace) == namespace,
                        col(VmRow.mcis) == mcis,
                        col(VmRow.name) == name,
                    )
                    .values(**change.model_dump(mode="json", exclude_unset=True), updated_at=now)
                )
                if result.rowcount == 0:
                    missing.append(name)
            if missing:
                raise NotFoundError(
                    f"{'VM' if len(missing) == 1 else 'VMs'} {', '.join(map(repr, missing))} "
                    f"not found in {_mcis_name(namespace, mcis)}"
                )

    def list_vms(self, namespace: str, mcis: str) -> list[VmRecord]:
        """The VMs of an MCIS by group, then by the number ending their name (`web-2` first,
        then `web-10`)."""
        statement = select(VmRow).where(col(VmRow.namespace) == namespace, col(VmRow.mcis) == mcis)
        return sorted(self._list(VmRecord, statement), key=_vm_order)

    def vm_page(self, namespace: str, mcis: str, after: str, limit: int) -> list[VmRecord]:
        """Up to `limit` VMs of an MCIS whose names sort after `after` ("" for the first page),
        in name order: how a workflow or a client reads a large MCIS a page at a time."""
        statement = (
            select(VmRow)
            .where(col(VmRow.namespace) == namespace, col(VmRow.mcis) == mcis)
            .where(col(VmRow.name) > after)
            .order_by(col(VmRow.name))
            .limit(limit)
        )
        return self._list(VmRecord, statement)

    def vms_named(self, namespace: str, mcis: str, names: Iterable[str]) -> list[VmRecord]:
        """The named VMs of an MCIS that are recorded, in name order."""
        statement = (
            select(VmRow)
            .where(col(VmRow.namespace) == namespace, col(VmRow.mcis) == mcis)
            .where(col(VmRow.name).in_(list(names)))
            .order_by(col(VmRow.name))
        )
        return self._list(VmRecord, statement)

    def delete_vms(self, namespace: str, mcis: str, names: Iterable[str]) -> None:
        """Delete the named VMs of an MCIS; names not there are ignored."""
        with self._session(write=True) as session:
            session.exec(_delete_vms(namespace, mcis).where(col(VmRow.name).in_(list(names))))

    def find_vm_by_token(self, client_token: str) -> VmRecord | None:
        with self._session() as session:
            row = session.exec(select(VmRow).where(col(VmRow.client_token) == client_token)).first()
            return None if row is None else VmRecord.model_validate(row, from_attributes=True)

    def count_vms_in_region(self, namespace: str, provider: str, region: str) -> int:
        """How many VMs of the namespace are in the region, whatever their status."""
        with self._session() as session:
            return _count(
                session,
                VmRow,
                col(VmRow.namespace) == namespace,
                col(VmRow.provider) == provider,
                col(VmRow.region) == region,
            )

    def all_vms(self) -> list[VmRecord]:
        """Every VM, by namespace, MCIS, then as `list_vms` orders them."""
        return sorted(self._list(VmRecord, select(VmRow)), key=_vm_order)

    # everything

    def dump(self) -> dict[str, list[dict[str, Any]]]:
        """Every row of every table as JSON-ready dicts, by table name. Secrets appear as their
        ciphertext only."""
        with self._session() as session:
            return {
                table_of(row_type).name: [
                    row.model_dump(mode="json") for row in session.exec(select(row_type))
                ]
                for row_type in ROWS
            }

    # helpers

    @cached_property
    def _secret_box(self) -> SecretBox:
        return load_secret_box(self._home)

    @contextmanager
    def _session(self, *, write: bool = False) -> Iterator[Session]:
        """A session in a transaction, committed on exit (rolled back on an exception)."""
        with (
            Session(self._writer if write else self._reader, expire_on_commit=False) as session,
            session.begin(),
        ):
            yield session

    def _get(
        self, record_type: type[_Record], row_type: type[SQLModel], key: str | tuple[str, ...]
    ) -> _Record | None:
        with self._session() as session:
            row = session.get(row_type, key)
            return None if row is None else record_type.model_validate(row, from_attributes=True)

    def _list(self, record_type: type[_Record], statement: SelectOfScalar[Any]) -> list[_Record]:
        with self._session() as session:
            return [
                record_type.model_validate(row, from_attributes=True)
                for row in session.exec(statement)
            ]

    def _create(self, row: SQLModel, exists_message: str) -> None:
        """Insert a new row; AlreadyExistsError with `exists_message` if its key is taken."""
        try:
            with self._session(write=True) as session:
                session.add(row)
        except IntegrityError:
            raise AlreadyExistsError(exists_message) from None

    def _upsert(self, session: Session, rows: Sequence[SQLModel], keep: Sequence[str] = ()) -> None:
        """Insert `rows` (of one table), or update the rows of the same keys but for their
        `keep` columns. One statement run for all rows."""
        table = table_of(type(rows[0]))
        statement = self._insert(table)
        keys = [column.name for column in table.primary_key]
        statement = statement.on_conflict_do_update(
            index_elements=keys,
            set_={
                column.name: statement.excluded[column.name]
                for column in table.columns
                if column.name not in keys and column.name not in keep
            },
        )
        session.exec(statement, params=[row.model_dump() for row in rows])


def _connect(database_url: str) -> tuple[Engine, Engine, _Insert]:
    """(reader engine, writer engine, INSERT of the dialect) of a database URL."""
    url = make_url(database_url)
    backend = url.get_backend_name()
    if backend == "postgresql":
        engine = create_engine(url, pool_pre_ping=True)
        return engine, engine, postgresql.insert
    if backend != "sqlite":
        raise StoreError(
            f"unsupported database {backend!r}: use sqlite:///PATH or postgresql+psycopg://..."
        )
    if url.database:
        Path(url.database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(
        url, connect_args={"check_same_thread": False, "timeout": BUSY_TIMEOUT_S}
    )
    event.listen(engine, "connect", _on_sqlite_connect)
    event.listen(engine, "begin", _on_sqlite_begin)
    return engine, engine.execution_options(**{_BEGIN_OPTION: "BEGIN IMMEDIATE"}), sqlite.insert


def _on_sqlite_connect(connection: sqlite3.Connection, _record: object) -> None:
    connection.isolation_level = None  # the driver must not BEGIN by itself: `_on_sqlite_begin`
    connection.execute("PRAGMA journal_mode=WAL")


def _on_sqlite_begin(connection: Connection) -> None:
    connection.exec_driver_sql(connection.get_execution_options().get(_BEGIN_OPTION, "BEGIN"))


def _to_row(row_type: type[_Row], record: BaseModel, **overrides: Any) -> _Row:
    """The row of a record: enums become their values, and fields the record leaves None take
    the table's defaults (e.g. `created_at` now)."""
    return row_type.model_validate(record.model_dump(exclude_none=True) | overrides)


def _count(session: Session, row_type: type[SQLModel], *where: ColumnElement[bool]) -> int:
    return session.exec(select(func.count()).select_from(row_type).where(*where)).one()


def _quantity(count: int, noun: str, plural: str = "s") -> str:
    """`3 resources`, `1 resource`, `2 MCIS`; empty for zero."""
    return f"{count} {noun}{plural if count != 1 else ''}" if count else ""


def _resource_key(namespace: str, kind: ResourceKind, name: str) -> tuple[str, str, str]:
    return namespace, kind.value, name


def _mcis_name(namespace: str, name: str) -> str:
    return f"MCIS {name!r} in namespace {namespace!r}"


def _delete_vms(namespace: str, mcis: str) -> Delete:
    return delete(VmRow).where(col(VmRow.namespace) == namespace, col(VmRow.mcis) == mcis)


def _vm_order(vm: VmRecord) -> tuple[str, str, str, int, str]:
    match = _VM_INDEX.search(vm.name)
    return vm.namespace, vm.mcis, vm.group, int(match[1]) if match else -1, vm.name
