"""Unit-test fixtures: a throwaway PostgreSQL server for the store's PostgreSQL tests."""

from __future__ import annotations

import pytest

from tests.postgres_server import PostgresServer, postgres_server

__all__ = ["postgres_server", "postgres_url"]


@pytest.fixture(scope="session")
def postgres_url(postgres_server: PostgresServer) -> str:
    """A database of its own on the session's PostgreSQL server (started on first use)."""
    return postgres_server.url("mcis_unit")
