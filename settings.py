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
| MCIS_LOCALCLOUD_BACKEND | auto | local cloud VMs: netns (real), phantom (records), auto |
| MCIS_MAX_CONCURRENT_ACTIVITIES | 200 | per worker |
| MCIS_CLOUD_READ_RATES | (reference limits) | status reads per second, e.g. `aws=10,gcp=12` |
| MCIS_CREDENTIALS_FILE | $MCIS_HOME/credentials.yaml | cloud connections (drivers/credentials.py) |
| MCIS_LOCALCLOUD_ENABLED | true | offer the local cloud's flavors (false: connections only) |
| MCIS_MAX_CONCURRENT_WORKFLOW_TASKS | 100 | per worker |
| MCIS_GRACEFUL_SHUTDOWN_S | 10 | on SIGTERM: how long running activities may still finish |
| MCIS_STICKY_TIMEOUT_S | 2 | sticky queue schedule-to-start timeout of the worker |
| MCIS_WORKER_READY_FILE | $MCIS_HOME/run/worker.ready | pid file while a worker polls (one each) |
| MCIS_LOG_LEVEL | INFO | log level of the worker |
| MCIS_SSH_KEEP_S | 60 | how long the worker keeps an idle SSH connection to a VM (0: none) |
| MCIS_SECRET_KEY | (file $MCIS_HOME/secret.key) | Fernet key of the store's secrets |
| MCIS_API_BIND | 127.0.0.1 | address the REST API (and the Spider endpoints) listen on |
| MCIS_API_PORT | 1323 | the REST API: native `/v1`, CB-Tumblebug `/tumblebug`, dashboard `/` |
| MCIS_SPIDER_PORT | 1024 | CB-Spider 0.3 connection registration endpoints |
| MCIS_API_USERNAME | default | HTTP Basic user of the API (everything but `/health`) |
| MCIS_API_PASSWORD | default | HTTP Basic password of the API |
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
    localcloud_backend: str
    max_concurrent_activities: int
    cloud_read_rates: str
    credentials_file: Path | None = None
    """None: MCIS_HOME/credentials.yaml (see `connections_file`)."""
    localcloud_enabled: bool = True
    max_concurrent_workflow_tasks: int = 100
    graceful_shutdown_s: float = 10.0
    sticky_timeout_s: float = 2.0
    worker_ready_path: Path | None = None
    """None: MCIS_HOME/run/worker.ready (see `worker_ready_file`)."""
    log_level: str = "INFO"
    ssh_keep_s: float = 60.0
    """How long the worker keeps an idle SSH connection to a VM for the next command (0: none)."""
    api_bind: str = "127.0.0.1"
    api_port: int = 1323
    spider_port: int = 1024
    api_username: str = "default"
    api_password: str = "default"

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
        """The worker writes its pid here once it polls its task queue, removes it on exit.
        A second worker in the same MCIS_HOME needs its own (MCIS_WORKER_READY_FILE)."""
        return self.worker_ready_path or self.run_dir / "worker.ready"

    @property
    def connections_file(self) -> Path:
        """The credentials file of the cloud connections (drivers/credentials.py)."""
        return self.credentials_file or self.home / "credentials.yaml"


_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off"})


def _flag(env: dict[str, str], name: str, default: bool) -> bool:
    value = (env.get(name) or "").strip().lower()
    if not value:
        return default
    if value not in _TRUE | _FALSE:
        raise ValueError(f"{name}={env[name]!r}: expected true or false")
    return value in _TRUE


def _path(env: dict[str, str], name: str) -> Path | None:
    value = env.get(name)
    return Path(value).expanduser() if value else None


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
        localcloud_backend=env.get("MCIS_LOCALCLOUD_BACKEND") or "auto",
        max_concurrent_activities=int(env.get("MCIS_MAX_CONCURRENT_ACTIVITIES") or 200),
        cloud_read_rates=env.get("MCIS_CLOUD_READ_RATES") or "",
        credentials_file=_path(env, "MCIS_CREDENTIALS_FILE"),
        localcloud_enabled=_flag(env, "MCIS_LOCALCLOUD_ENABLED", True),
        max_concurrent_workflow_tasks=int(env.get("MCIS_MAX_CONCURRENT_WORKFLOW_TASKS") or 100),
        graceful_shutdown_s=float(env.get("MCIS_GRACEFUL_SHUTDOWN_S") or 10.0),
        sticky_timeout_s=float(env.get("MCIS_STICKY_TIMEOUT_S") or 2.0),
        worker_ready_path=_path(env, "MCIS_WORKER_READY_FILE"),
        log_level=(env.get("MCIS_LOG_LEVEL") or "INFO").upper(),
        ssh_keep_s=float(env.get("MCIS_SSH_KEEP_S") or 60.0),
        api_bind=env.get("MCIS_API_BIND") or "127.0.0.1",
        api_port=int(env.get("MCIS_API_PORT") or 1323),
        spider_port=int(env.get("MCIS_SPIDER_PORT") or 1024),
        api_username=env.get("MCIS_API_USERNAME") or "default",
        api_password=env.get("MCIS_API_PASSWORD") or "default",
    )
