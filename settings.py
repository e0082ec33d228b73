"""Every setting of mcis, read from the environment once, with defaults for one machine.

| variable | default | meaning |
|---|---|---|
| MCIS_HOME | ~/.mcis | state: database, keys, logs, pids |
| MCIS_DATABASE_URL | sqlite:///$MCIS_HOME/mcis.db | the store (postgresql+psycopg://...) |
| TEMPORAL_ADDRESS | 127.0.0.1:7233 | Temporal frontend |
| TEMPORAL_NAMESPACE | default | Temporal namespace |
| MCIS_TASK_QUEUE | mcis | task queue of the workers |
| MCIS_TEMPORAL_UI_PORT | 8233 | web UI port of the embedded dev server |
| MCIS_LOCALCLOUD_URL | http://127.0.0.1:7380 | the embedded local cloud |
| MCIS_LOCALCLOUD_TIME_SCALE | 1.0 | local cloud timings (1 realistic, 0.01: 100x faster) |
| MCIS_MAX_CONCURRENT_ACTIVITIES | 200 | per worker |
| MCIS_CLOUD_READ_RATES | (reference limits) | status reads per second, e.g. `aws=10,gcp=12` |
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse


@dataclass(frozen=True)
class Settings:
    home: Path
    database_url: str
    temporal_address: str
    temporal_namespace: str
    task_queue: str
    temporal_ui_port: int
    localcloud_url: str
    localcloud_time_scale: float
    max_concurrent_activities: int
    cloud_read_rates: str

    @property
    def temporal_host_port(self) -> tuple[str, int]:
        host, _, port = self.temporal_address.rpartition(":")
        return host or "127.0.0.1", int(port)

    @property
    def localcloud_host_port(self) -> tuple[str, int]:
        url = urlparse(self.localcloud_url)
        return url.hostname or "127.0.0.1", url.port or 80

    @property
    def logs_dir(self) -> Path:
        return self.home / "logs"

    @property
    def run_dir(self) -> Path:
        return self.home / "run"

    @property
    def worker_ready_file(self) -> Path:
        """The worker writes its pid here once it polls its task queue, removes it on exit."""
        return self.run_dir / "worker.ready"


def load_settings(env: dict[str, str] | None = None) -> Settings:
    env = dict(os.environ) if env is None else env
    home = Path(env.get("MCIS_HOME") or Path.home() / ".mcis").expanduser()
    return Settings(
        home=home,
        database_url=env.get("MCIS_DATABASE_URL") or f"sqlite:///{home / 'mcis.db'}",
        temporal_address=env.get("TEMPORAL_ADDRESS") or "127.0.0.1:7233",
        temporal_namespace=env.get("TEMPORAL_NAMESPACE") or "default",
        task_queue=env.get("MCIS_TASK_QUEUE") or "mcis",
        temporal_ui_port=int(env.get("MCIS_TEMPORAL_UI_PORT") or 8233),
        localcloud_url=(env.get("MCIS_LOCALCLOUD_URL") or "http://127.0.0.1:7380").rstrip("/"),
        localcloud_time_scale=float(env.get("MCIS_LOCALCLOUD_TIME_SCALE") or 1.0),
        max_concurrent_activities=int(env.get("MCIS_MAX_CONCURRENT_ACTIVITIES") or 200),
        cloud_read_rates=env.get("MCIS_CLOUD_READ_RATES") or "",
    )
