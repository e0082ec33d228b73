"""A private embedded stack for a benchmark run: its own MCIS_HOME and free ports, lifecycle
durations set at the local cloud, and everything stopped afterwards (real VMs destroyed first:
they outlive their cloud process)."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx

from settings import Settings, load_settings
from starter.stack import Stack, isolated_env


@contextlib.contextmanager
def private_stack(
    timings: dict[str, Any] | None = None, backend: str = "phantom", time_scale: float = 1.0
) -> Iterator[tuple[Settings, Path]]:
    """(settings, home) of a running stack; `timings` is PUT to the local cloud's
    /admin/timings (absolute seconds for every flavor)."""
    with tempfile.TemporaryDirectory(prefix="mcis-bench-") as home:
        env = isolated_env(Path(home), "bench", time_scale=time_scale, backend=backend)
        os.environ.update(env)
        settings = load_settings(env)
        stack = Stack(settings)
        try:
            stack.up()
            if timings:
                url = f"{settings.localcloud_url}/admin/timings"
                body = {"flavor": "*", **timings}
                httpx.put(url, json=body, trust_env=False).raise_for_status()
            yield settings, Path(home)
        finally:
            if backend != "phantom":
                with contextlib.suppress(httpx.HTTPError):
                    url = f"{settings.localcloud_url}/admin/reset"
                    httpx.post(url, timeout=120, trust_env=False)
            stack.down()
