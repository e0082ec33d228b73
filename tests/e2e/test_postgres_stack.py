"""The store on PostgreSQL end to end: a private stack whose CLI and worker share
MCIS_DATABASE_URL on a throwaway PostgreSQL server; a small MCIS is created and deleted, and
the records are read back from PostgreSQL itself."""

from __future__ import annotations

import os
from collections.abc import Iterator

import psycopg
import pytest
from sqlalchemy import make_url

from models.records import ResourceKind
from starter.stack import isolated_env
from store.repository import Store
from tests.e2e.conftest import E2E, running_stack
from tests.e2e.test_create_delete import groups_for, live
from tests.postgres_server import PostgresServer, postgres_server

__all__ = ["postgres_server"]

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def pg_stack(
    postgres_server: PostgresServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[E2E]:
    home = tmp_path_factory.mktemp("mcis-pg-home")
    env = {
        **os.environ,
        **isolated_env(home, "mcis-pg", 0.02),
        "MCIS_DATABASE_URL": postgres_server.url("mcis_e2e"),
    }
    with running_stack(env) as e2e:
        yield e2e


def test_postgres_stack_creates_and_deletes_an_mcis(pg_stack: E2E) -> None:
    e2e = pg_stack
    assert e2e.settings.database_url.startswith("postgresql+psycopg://")
    assert not (e2e.settings.home / "mcis.db").exists()
    e2e.ok("ns", "create", "pg")
    status = e2e.json("create", "pg", "web", *groups_for(e2e, {"aws": 2, "gcp": 1}), timeout=300)
    assert status["status"] == "Running" and status["counts"] == {"Running": 3}

    store = Store.from_settings(e2e.settings)
    try:
        record = store.get_mcis("pg", "web")
        assert record is not None and record.uid == status["uid"]
        assert len(store.list_resources("pg", ResourceKind.SSH_KEY)) == 2
    finally:
        store.close()
    conninfo = (
        make_url(e2e.settings.database_url)
        .set(drivername="postgresql")
        .render_as_string(hide_password=False)
    )
    with psycopg.connect(conninfo) as conn:
        tables = {row[0] for row in conn.execute("SELECT tablename FROM pg_tables")}
        assert {"namespaces", "resources", "secrets", "mcis", "vms"} <= tables
        vms = conn.execute("SELECT count(*) FROM vms WHERE namespace = %s", ("pg",)).fetchone()
        assert vms is not None and vms[0] == 3

    e2e.ok("delete", "pg", "web", timeout=300)
    assert live(e2e.cloud_vms(status["uid"])) == []
    assert e2e.json("list", "pg") == []
    store = Store.from_settings(e2e.settings)
    try:
        assert store.get_mcis("pg", "web") is None
        assert store.list_resources("pg") == []
    finally:
        store.close()
