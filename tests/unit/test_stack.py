"""The background stack with the real Temporal dev server: start, start again, stop, stale pid
files, a port taken by someone else, start-up failures, a crash and a restart. Each test has its
own MCIS_HOME and free ports, and stops what it started."""

from __future__ import annotations

import dataclasses
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from settings import Settings, load_settings
from starter import processes
from starter.stack import (
    Stack,
    StackError,
    child_env,
    isolated_env,
    temporal_answers,
)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return load_settings(isolated_env(tmp_path / "home", "mcis-test", time_scale=0.01))


@pytest.fixture
def stack(settings: Settings) -> Iterator[Stack]:
    stack = Stack(settings)
    yield stack
    stack.down()


@pytest.fixture
def unrelated_process() -> Iterator[subprocess.Popen[bytes]]:
    proc = subprocess.Popen(["sleep", "60"])
    yield proc
    proc.kill()
    proc.wait()


def dead_pid() -> int:
    proc = subprocess.Popen(["true"])
    proc.wait()
    return proc.pid


def temporal_processes_of(settings: Settings) -> list[int]:
    """Pids of dev servers using this MCIS_HOME's database."""
    db = str(settings.home / "temporal.db")
    return [
        int(entry.name)
        for entry in Path("/proc").iterdir()
        if entry.name.isdigit() and db in (processes.command_line(int(entry.name)) or [])
    ]


def test_temporal_starts_detached_and_answers(stack: Stack, settings: Settings) -> None:
    lines: list[str] = []

    started = stack.start_component("temporal", lines.append)

    host, port = settings.temporal_host_port
    ui = f"http://127.0.0.1:{settings.temporal_ui_port}"
    assert started.running and started.pid is not None
    assert lines[0] == "temporal: starting"
    assert lines[-1].startswith(f"temporal: ready at {host}:{port} (UI {ui}) after ")
    assert stack.pid_file("temporal").read_text().strip() == str(started.pid)
    assert os.getsid(started.pid) == started.pid  # a session of its own: outlives the terminal
    assert " server start-dev --ip 127.0.0.1 " in started.log_file.read_text()
    assert temporal_answers(settings)
    status = stack.status()
    assert status.component("temporal").running
    assert status.ui_url == ui
    assert not status.component("worker").running
    assert '"ui_url":"' + ui in status.model_dump_json()


def test_starting_twice_keeps_the_one_process(stack: Stack, settings: Settings) -> None:
    first = stack.start_component("temporal")
    lines: list[str] = []

    again = Stack(settings).start_component("temporal", lines.append)

    assert again.pid == first.pid
    assert lines[0] == f"temporal: already running (pid {first.pid})"
    assert temporal_processes_of(settings) == [first.pid]


def test_down_stops_everything_and_removes_pid_files(stack: Stack, settings: Settings) -> None:
    pid = stack.start_component("temporal").pid
    assert pid is not None
    lines: list[str] = []

    stack.down(lines.append)

    assert lines == [f"temporal: stopping (pid {pid})", "temporal: stopped"]
    assert not processes.is_running(pid)
    assert list(settings.run_dir.glob("*.pid")) == []
    status = stack.status()
    assert not any(c.running for c in status.components)
    assert status.ui_url is None
    stack.down(lines.append)  # nothing runs: nothing to say, nothing fails
    assert len(lines) == 2


def test_stale_pid_file_of_a_dead_process_is_replaced(stack: Stack) -> None:
    stale = dead_pid()
    stack.pid_file("temporal").parent.mkdir(parents=True)
    stack.pid_file("temporal").write_text(f"{stale}\n")
    assert not stack.status().component("temporal").running

    started = stack.start_component("temporal")

    assert started.running and started.pid != stale
    assert stack.pid_file("temporal").read_text().strip() == str(started.pid)


def test_pid_file_naming_an_unrelated_process_is_neither_trusted_nor_killed(
    stack: Stack, unrelated_process: subprocess.Popen[bytes]
) -> None:
    stack.pid_file("temporal").parent.mkdir(parents=True)
    stack.pid_file("temporal").write_text(f"{unrelated_process.pid}\n")
    assert not stack.status().component("temporal").running

    started = stack.start_component("temporal")
    stack.down()

    assert started.pid != unrelated_process.pid
    assert unrelated_process.poll() is None


@pytest.mark.parametrize("which", ["frontend", "ui"])
def test_port_taken_by_a_foreign_socket_is_reported(
    stack: Stack, settings: Settings, which: str
) -> None:
    port = settings.temporal_host_port[1] if which == "frontend" else settings.temporal_ui_port
    with socket.socket() as foreign:
        foreign.bind(("127.0.0.1", port))
        foreign.listen()

        with pytest.raises(StackError) as failure:
            stack.start_component("temporal")

    assert str(failure.value) == (
        f"temporal: cannot start at {settings.temporal_address}: "
        f"port {port} is in use by another process"
    )
    assert not stack.pid_file("temporal").exists()


def test_server_dying_at_start_is_retried_then_reported_with_its_log(
    stack: Stack, settings: Settings
) -> None:
    (settings.home / "temporal.db").mkdir(parents=True)  # the dev server cannot open its db
    lines: list[str] = []

    with pytest.raises(StackError) as failure:
        stack.start_component("temporal", lines.append)

    assert lines == ["temporal: starting", "temporal: retry 2/3", "temporal: retry 3/3"]
    first, *tail = str(failure.value).splitlines()
    assert first == (
        f"temporal exited during start-up at {settings.temporal_address}; "
        f"last lines of {stack.log_file('temporal')}:"
    )
    assert tail and "unable to open database file" in tail[-1]
    assert not stack.pid_file("temporal").exists()


def test_server_not_ready_in_time_is_stopped_and_reported(stack: Stack) -> None:
    never_ready = dataclasses.replace(
        stack.components["temporal"], probe=lambda _pid: None, ready_timeout=0.5
    )
    stack.components["temporal"] = never_ready

    with pytest.raises(StackError, match=r"^temporal was not ready within 0\.5 s at 127\.0\.0\.1:"):
        stack.start_component("temporal")

    assert not stack.pid_file("temporal").exists()
    assert temporal_processes_of(stack.settings) == []


def test_missing_temporal_binary_is_a_clear_error(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "executable", str(tmp_path / "nowhere" / "python"))
    monkeypatch.setenv("PATH", str(tmp_path))

    with pytest.raises(StackError, match=r"^temporal: cannot run temporal: No such file"):
        Stack(settings).start_component("temporal")


def test_killed_server_leaves_a_stale_pid_file_and_restarts_on_its_db(stack: Stack) -> None:
    crashed = stack.start_component("temporal").pid
    assert crashed is not None

    stack.kill_component("temporal", signal.SIGKILL)

    assert not stack.status().component("temporal").running
    assert stack.pid_file("temporal").read_text().strip() == str(crashed)
    restarted = stack.start_component("temporal")
    assert restarted.running and restarted.pid != crashed
    assert temporal_answers(stack.settings)


async def test_starts_from_inside_an_event_loop(stack: Stack) -> None:
    """`mcis stack up` calls the stack from async code: the probe must not need that loop."""
    assert stack.start_component("temporal").running


def test_whole_stack_up_twice_worker_crash_and_down(stack: Stack, settings: Settings) -> None:
    lines: list[str] = []

    status = stack.up(lines.append)

    assert [" ".join(line.split()[:2]) for line in lines] == [
        *("temporal: starting", "temporal: ready"),
        *("localcloud: starting", "localcloud: ready"),
        *("worker: starting", "worker: ready"),
        *("api: starting", "api: ready"),
    ]
    running = [c.name for c in status.components if c.running]
    assert running == ["temporal", "localcloud", "worker", "api"]
    assert status.localcloud_backend
    pids = {c.name: c.pid for c in status.components}
    assert stack.up().components == status.components  # again: nothing new started
    ready_file = settings.worker_ready_file
    assert ready_file.read_text().strip() == str(pids["worker"])

    stack.kill_component("worker", signal.SIGKILL)
    restarted = stack.start_component("worker")

    assert restarted.pid not in (None, pids["worker"])
    assert ready_file.read_text().strip() == str(restarted.pid)
    assert stack.status().component("temporal").pid == pids["temporal"]
    stack.down()
    assert sorted(p.name for p in settings.run_dir.iterdir()) == ["stack.lock"]
    assert not any(processes.is_running(pid) for pid in (*pids.values(), restarted.pid) if pid)


def test_children_read_the_same_settings(settings: Settings) -> None:
    absolute = Stack(settings).settings

    assert load_settings(child_env(absolute)) == absolute


def test_unknown_component_names_the_known_ones(stack: Stack) -> None:
    with pytest.raises(StackError, match=r"known: temporal, localcloud, worker"):
        stack.start_component("postgres")
