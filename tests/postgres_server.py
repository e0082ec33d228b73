"""A throwaway PostgreSQL server for tests: `initdb` + `pg_ctl` in a temporary directory, on a
free loopback port with its unix socket in that directory, trust authentication, stopped at
the end. As root it runs as the `postgres` OS user (initdb refuses root).

`postgres_server` is a session fixture (import it into a conftest or test module): it yields a
`PostgresServer` whose `url(database)` creates the database on first use; it skips with the
reason when no PostgreSQL binaries are found. `MCIS_TEST_POSTGRES_URL` (a server you run) is
used instead when set.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import sql
from sqlalchemy import make_url

from starter.processes import free_port

POSTGRES_URL_ENV = "MCIS_TEST_POSTGRES_URL"
SUPERUSER = "mcis"
START_TIMEOUT_S = 30.0


def postgres_bindir() -> Path | None:
    """The newest /usr/lib/postgresql/*/bin with initdb, else the directory of `initdb` on PATH."""
    candidates = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/initdb"),
        key=lambda p: int(p.parent.parent.name) if p.parent.parent.name.isdigit() else 0,
    )
    if candidates:
        return candidates[-1].parent
    found = shutil.which("initdb")
    return Path(found).parent if found else None


class PostgresServer:
    """One running server; `url()` gives SQLAlchemy URLs (postgresql+psycopg://) to it."""

    def __init__(self, base_url: str, stop: Any = None) -> None:
        self.base_url = base_url
        self._stop = stop
        self._made: set[str] = set()

    def url(self, database: str | None = None) -> str:
        """The URL of `database` on the server, creating it if needed (None: the base URL)."""
        if database is None:
            return self.base_url
        url = make_url(self.base_url)
        if database not in self._made:
            admin = url.set(drivername="postgresql", database="postgres")
            conninfo = admin.render_as_string(hide_password=False)
            with psycopg.connect(conninfo, autocommit=True) as conn:
                exists = conn.execute(
                    "SELECT 1 FROM pg_database WHERE datname = %s", (database,)
                ).fetchone()
                if not exists:
                    conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(database)))
            self._made.add(database)
        return url.set(database=database).render_as_string(hide_password=False)

    def stop(self) -> None:
        if self._stop is not None:
            self._stop()
            self._stop = None


def _run_as() -> dict[str, Any]:
    """subprocess arguments that drop root to the `postgres` user (nothing when not root)."""
    if os.geteuid() != 0:
        return {}
    try:
        user = pwd.getpwnam("postgres")
    except KeyError:
        user = pwd.getpwnam("nobody")
    return {"user": user.pw_uid, "group": user.pw_gid, "extra_groups": []}


@contextlib.contextmanager
def running_postgres(bindir: Path) -> Iterator[PostgresServer]:
    """Start a server from `bindir` in a fresh temporary directory; stop and remove it after."""
    run_as = _run_as()
    root = Path(tempfile.mkdtemp(prefix="mcis-pg-"))
    data, sockets, log = root / "data", root / "sockets", root / "server.log"
    sockets.mkdir()
    if run_as:
        for path in (root, sockets):
            os.chown(path, run_as["user"], run_as["group"])
    env = {"PATH": f"{bindir}:/usr/bin:/bin", "LC_ALL": "C", "LANG": "C"}

    def run(*argv: str) -> None:
        done = subprocess.run(
            argv, env=env, cwd=root, capture_output=True, text=True, timeout=120, **run_as
        )
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(argv[:2])} failed: {done.stderr.strip()[-800:]}")

    port = free_port()
    try:
        run(
            str(bindir / "initdb"),
            *("-D", str(data), "-U", SUPERUSER, "--auth=trust", "--encoding=UTF8", "--no-sync"),
        )
        options = (
            f"-c listen_addresses=127.0.0.1 -c port={port} -c unix_socket_directories={sockets} "
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off "
            "-c max_connections=200"
        )
        run(
            str(bindir / "pg_ctl"),
            *("-D", str(data), "-l", str(log), "-o", options, "-w", "-t", "60", "start"),
        )
    except BaseException:
        shutil.rmtree(root, ignore_errors=True)
        raise

    def stop() -> None:
        with contextlib.suppress(Exception):
            run(str(bindir / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop")
        shutil.rmtree(root, ignore_errors=True)

    server = PostgresServer(f"postgresql+psycopg://{SUPERUSER}@127.0.0.1:{port}/postgres", stop)
    try:
        _wait_ready(server.base_url)
        yield server
    finally:
        server.stop()


def _wait_ready(url: str) -> None:
    conninfo = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    deadline = time.monotonic() + START_TIMEOUT_S
    while True:
        try:
            with psycopg.connect(conninfo, connect_timeout=2) as conn:
                conn.execute("SELECT 1")
            return
        except psycopg.OperationalError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """A PostgreSQL server for the whole session (or the one MCIS_TEST_POSTGRES_URL names)."""
    given = os.environ.get(POSTGRES_URL_ENV)
    if given:
        yield PostgresServer(given)
        return
    bindir = postgres_bindir()
    if bindir is None or not (bindir / "pg_ctl").exists():
        pytest.skip(
            "PostgreSQL server binaries (initdb, pg_ctl) not found in /usr/lib/postgresql/*/bin "
            f"or on PATH: install postgresql or set {POSTGRES_URL_ENV}"
        )
    with running_postgres(bindir) as server:
        yield server
