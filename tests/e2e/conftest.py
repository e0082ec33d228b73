"""End-to-end fixtures: a real embedded stack (Temporal dev server, the local cloud process, a
worker process) in a temporary MCIS_HOME on free ports, driven through the real `mcis` CLI."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from bench.stack_cli import StackCli
from localcloud.netns.choose import missing_requirements
from settings import load_settings
from starter.stack import Stack, isolated_env

pytestmark = pytest.mark.e2e

E2E = StackCli  # the tests' name for a stack driven through the CLI

TIME_SCALE = 0.02
MISSING_FOR_REAL_VMS = missing_requirements()  # aws boots in 0.6 s


@contextlib.contextmanager
def running_stack(env: dict[str, str]) -> Iterator[E2E]:
    """A stack with the settings of `env`, up for the block and stopped after it."""
    settings = load_settings(env)
    stack = Stack(settings)
    try:
        stack.up()
        yield E2E(settings, env, stack)
    finally:
        stack.down()


@pytest.fixture(scope="session")
def e2e(tmp_path_factory: pytest.TempPathFactory) -> Iterator[E2E]:
    home = tmp_path_factory.mktemp("mcis-home")
    with running_stack({**os.environ, **isolated_env(home, "mcis-e2e", TIME_SCALE)}) as e2e:
        yield e2e


def logs_of(e2e: E2E, name: str) -> str:
    return Path(e2e.settings.logs_dir / f"{name}.log").read_text()[-4000:]


@pytest.fixture(scope="module")
def real(tmp_path_factory: pytest.TempPathFactory) -> Iterator[E2E]:
    """A stack whose local cloud runs real VMs (skipped where the machine cannot); every VM is
    destroyed at the end, since real VMs outlive their cloud process. Per module: only one
    real-VM cloud runs per machine, and tests/unit/test_netns_* start their own."""
    if MISSING_FOR_REAL_VMS is not None:
        pytest.skip(f"real VMs need root and tools: {MISSING_FOR_REAL_VMS}")
    home = tmp_path_factory.mktemp("mcis-realvm")
    env = {**os.environ, **isolated_env(home, "mcis-realvm", 0.05, backend="netns")}
    with running_stack(env) as e2e:
        try:
            assert e2e.cloud("/healthz")["backend"] == "netns"
            e2e.ok("ns", "create", "real")
            yield e2e
        finally:  # real VMs outlive their cloud: destroy them before it stops
            with contextlib.suppress(httpx.HTTPError):
                url = f"{e2e.settings.localcloud_url}/admin/reset"
                httpx.post(url, timeout=60, trust_env=False)
