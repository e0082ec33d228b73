"""Driving a running embedded stack the way a user does: the real `mcis` CLI in a subprocess
(with the stack's environment) and the local cloud's HTTP API. Shared by the end-to-end tests
and the benchmarks that need a user's view (bench/chaos.py)."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass
from typing import Any

import httpx

from settings import Settings
from starter.stack import Stack


@dataclass
class StackCli:
    settings: Settings
    env: dict[str, str]
    stack: Stack

    def run(self, *args: str, timeout: float = 180) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "starter", *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    def ok(self, *args: str, timeout: float = 180) -> str:
        done = self.run(*args, timeout=timeout)
        assert done.returncode == 0, f"mcis {' '.join(args)}: {done.stderr}"
        return done.stdout

    def json(self, *args: str, timeout: float = 180) -> Any:
        """The command's --json output (the flag goes before a `--` that starts a command)."""
        words = list(args)
        at = words.index("--") if "--" in words else len(words)
        return json.loads(self.ok(*words[:at], "--json", *words[at:], timeout=timeout))

    def cloud(self, path: str) -> Any:
        answer = httpx.get(f"{self.settings.localcloud_url}{path}", timeout=10, trust_env=False)
        answer.raise_for_status()
        return answer.json()

    def cloud_put(self, path: str, body: dict[str, Any]) -> None:
        url = f"{self.settings.localcloud_url}{path}"
        httpx.put(url, json=body, timeout=10, trust_env=False).raise_for_status()

    def cloud_delete(self, path: str) -> None:
        url = f"{self.settings.localcloud_url}{path}"
        httpx.delete(url, timeout=10, trust_env=False).raise_for_status()

    def cloud_vms(self, mcis_uid: str) -> list[dict[str, Any]]:
        return list(self.cloud(f"/admin/vms?tag:mcis-uid={mcis_uid}"))
