"""`RemoteOutputStore`: what remote commands printed, per run of the remote workflow and VM, in
its own table on the store's database (SQLite or PostgreSQL, same URL as `Store`). The remote
activity writes it and returns only a summary, so workflow histories stay small however much
the VMs print; `mcis cmd` and the benchmark read it back. Each stream is already cut to
MAX_OUTPUT_CHARS per VM; outputs older than KEEP_FOR are removed as new ones come."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import Index, Text, delete, select
from sqlmodel import Field, SQLModel

from models.remote import RemoteRun, VmOutput
from store.repository import _connect
from store.tables import UtcDateTime, table_of, utc_now

KEEP_FOR = timedelta(days=7)


class RemoteOutputRow(SQLModel, table=True):
    __tablename__ = "remote_outputs"
    __table_args__ = (Index("ix_remote_outputs_stored_at", "stored_at"),)

    workflow_id: str = Field(primary_key=True)
    run_id: str = Field(primary_key=True)
    vm: str = Field(primary_key=True)
    stdout: str = Field(default="", sa_type=Text)
    stderr: str = Field(default="", sa_type=Text)
    stored_at: datetime = Field(default_factory=utc_now, sa_type=UtcDateTime)


_OUTPUTS = table_of(RemoteOutputRow)


class RemoteOutputStore:
    """The remote outputs table on `database_url` (created when missing)."""

    def __init__(self, database_url: str) -> None:
        self._reader, self._writer, _ = _connect(database_url)
        SQLModel.metadata.create_all(self._writer, tables=[_OUTPUTS])

    def close(self) -> None:
        self._reader.dispose()

    def save(self, run: RemoteRun, outputs: Sequence[VmOutput]) -> None:
        """Store the outputs of some VMs of `run` (a VM's again: replaces it), and forget
        those stored more than KEEP_FOR ago."""
        now = utc_now()
        with self._writer.begin() as conn:
            conn.execute(delete(_OUTPUTS).where(_OUTPUTS.c.stored_at < now - KEEP_FOR))
            if not outputs:
                return
            conn.execute(
                delete(_OUTPUTS).where(
                    _OUTPUTS.c.workflow_id == run.workflow_id,
                    _OUTPUTS.c.run_id == run.run_id,
                    _OUTPUTS.c.vm.in_([o.vm for o in outputs]),
                )
            )
            conn.execute(
                _OUTPUTS.insert(),
                [{**o.model_dump(), **run.model_dump(), "stored_at": now} for o in outputs],
            )

    def read(self, run: RemoteRun) -> dict[str, VmOutput]:
        """The stored outputs of `run` by VM (none once forgotten)."""
        statement = select(_OUTPUTS.c.vm, _OUTPUTS.c.stdout, _OUTPUTS.c.stderr).where(
            _OUTPUTS.c.workflow_id == run.workflow_id, _OUTPUTS.c.run_id == run.run_id
        )
        with self._reader.begin() as conn:
            return {
                row.vm: VmOutput.model_validate(row._asdict()) for row in conn.execute(statement)
            }
