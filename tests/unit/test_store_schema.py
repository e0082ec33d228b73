"""A database written by release 0.1 opens with this release's store: the columns added since
(a VM's serial, its created_at) appear with their defaults and every record is kept."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from models.records import McisRecord, VmRecord
from store.repository import Store


def vm(name: str) -> VmRecord:
    return VmRecord(
        namespace="ns",
        mcis="web",
        name=name,
        group="g",
        provider="aws",
        region="r1",
        spec="aws+r1+small",
        image="aws+r1+ubuntu",
        client_token=f"token-{name}",
    )


def test_a_database_of_an_earlier_release_gains_the_new_columns(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'mcis.db'}"
    store = Store(url, tmp_path)
    store.create_mcis(McisRecord(namespace="ns", name="web", uid="u1"))
    store.upsert_vms([vm("g-1")])
    store.close()
    with sqlite3.connect(tmp_path / "mcis.db") as db:  # as release 0.1 left it
        db.execute("ALTER TABLE vms DROP COLUMN serial")
        db.execute("ALTER TABLE vms DROP COLUMN created_at")

    upgraded = Store(url, tmp_path)
    [old] = upgraded.list_vms("ns", "web")
    assert (old.name, old.client_token, old.serial, old.created_at) == ("g-1", "token-g-1", 0, None)
    upgraded.upsert_vms([vm("g-2").model_copy(update={"serial": 7})])
    assert [v.serial for v in upgraded.list_vms("ns", "web")] == [0, 7]
    with sqlite3.connect(tmp_path / "mcis.db") as db:
        columns = {row[1] for row in db.execute("PRAGMA table_info(vms)")}
    assert {"serial", "created_at"} <= columns


def test_opening_a_current_database_changes_nothing(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'mcis.db'}"
    Store(url, tmp_path).upsert_vms([vm("g-1").model_copy(update={"serial": 3})])
    assert [v.serial for v in Store(url, tmp_path).list_vms("ns", "web")] == [3]
