"""The workflow tests' harness (time-skipping server, fake cloud, store on SQLite) for the tests
of the benchmarks' instruments that need a real workflow run."""

from __future__ import annotations

from tests.workflows.conftest import cloud, dev_server, env, harness, store

__all__ = ["cloud", "dev_server", "env", "harness", "store"]
