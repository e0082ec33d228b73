"""The SSH layer against a real sshd on loopback: commands with exit codes and output, files,
timeouts, host keys trusted on first use and refused when they change."""

from __future__ import annotations

import os
import resource
from collections.abc import Iterator
from pathlib import Path

import pytest

from models.remote import MAX_OUTPUT_CHARS, VmTarget
from remote.load import start_load, stop_load
from remote.sessions import SessionPool
from remote.ssh import run, with_environment
from starter.processes import free_port
from tests.sshd_server import Sshd, sshd_available, start_sshd

pytestmark = pytest.mark.skipif(not sshd_available(), reason="sshd is not installed")


class MemoryHostKeys:
    def __init__(self) -> None:
        self.keys: dict[str, str] = {}

    def get_host_key(self, ref: str) -> str | None:
        return self.keys.get(ref)

    def put_host_key(self, ref: str, key: str) -> None:
        self.keys[ref] = key


@pytest.fixture(scope="module")
def sshd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sshd]:
    server = start_sshd(tmp_path_factory.mktemp("sshd"))
    yield server
    server.stop()


def target(server: Sshd, port: int | None = None) -> VmTarget:
    return VmTarget(
        vm="web-1",
        group="web",
        provider="aws",
        region="r",
        csp_id="i-1",
        host="127.0.0.1",
        port=port or server.port,
        ssh_key="k",
    )


def test_command_output_exit_code_and_environment(sshd: Sshd) -> None:
    keys = MemoryHostKeys()
    command = with_environment("echo $MCIS_VM; echo oops >&2; exit 3", {"MCIS_VM": "web-1; rm"})
    result = run(target(sshd), sshd.private_key, keys, command, timeout_s=20)
    assert (result.exit_code, result.stdout, result.stderr) == (3, "web-1; rm\n", "oops\n")
    assert result.error is None and result.duration_s > 0
    assert list(keys.keys) == ["aws/i-1"] and keys.keys["aws/i-1"].startswith("ssh-ed25519 ")


def test_put_then_read_a_file(sshd: Sshd, tmp_path: Path) -> None:
    keys, path = MemoryHostKeys(), str(tmp_path / "deep" / "file.txt")
    result = run(target(sshd), sshd.private_key, keys, f"cat {path}", 20, (b"hello\n", path))
    assert (result.exit_code, result.stdout) == (0, "hello\n")


def test_timeout_is_reported_not_raised(sshd: Sshd) -> None:
    result = run(target(sshd), sshd.private_key, MemoryHostKeys(), "sleep 5", timeout_s=0.5)
    assert result.exit_code is None and result.error == "timed out after 0.5s"


def test_unreachable_vm_is_reported(sshd: Sshd) -> None:
    result = run(target(sshd, free_port()), sshd.private_key, MemoryHostKeys(), "true", 5)
    assert result.exit_code is None and "cannot reach web-1 at 127.0.0.1" in (result.error or "")


def test_a_changed_host_key_is_refused(tmp_path: Path) -> None:
    server = start_sshd(tmp_path / "sshd2")
    keys = MemoryHostKeys()
    try:
        assert run(target(server), server.private_key, keys, "true", 20).exit_code == 0
        assert run(target(server), server.private_key, keys, "true", 20).exit_code == 0
        server.stop()
        server.new_host_key()
        server.start()
        refused = run(target(server), server.private_key, keys, "touch /tmp/never", 20)
    finally:
        server.stop()
    assert refused.exit_code is None
    assert "host key of web-1 (127.0.0.1) changed: recorded SHA256:" in (refused.error or "")


def test_cpu_load_starts_and_stops_without_killing_its_own_shell(sshd: Sshd) -> None:
    keys = MemoryHostKeys()
    started = run(target(sshd), sshd.private_key, keys, start_load(50, 30), timeout_s=20)
    assert started.exit_code == 0 and started.stdout.startswith("load 50% for 30s")
    again = run(target(sshd), sshd.private_key, keys, start_load(50, 30), timeout_s=20)
    assert again.exit_code == 0
    count = run(target(sshd), sshd.private_key, keys, 'pgrep -fc "^timeout .*[m]cis-load"', 20)
    cpus = run(target(sshd), sshd.private_key, keys, "nproc", timeout_s=20)
    assert count.stdout.strip() == cpus.stdout.strip()  # restarted, not doubled
    stopped = run(target(sshd), sshd.private_key, keys, stop_load(), timeout_s=20)
    assert stopped.exit_code == 0 and stopped.stdout == "load stopped\n"
    left = run(target(sshd), sshd.private_key, keys, 'pgrep -fc "[m]cis-load"', timeout_s=20)
    assert left.stdout.strip() == "0"


def test_megabytes_on_both_streams_at_once_end_cut_with_a_note(sshd: Sshd) -> None:
    # 3 MB on each stream, interleaved: more than the 2 MiB SSH window, so a reader that waited
    # on one stream while the other filled the window would hang until the timeout
    each = 3_000_000
    zeros = f"head -c {each} /dev/zero | tr '\\0'"
    both = f"{zeros} o & {zeros} e >&2; wait"
    result = run(target(sshd), sshd.private_key, MemoryHostKeys(), both, timeout_s=20)
    assert result.exit_code == 0 and result.error is None
    cut = f"\n[... {each - MAX_OUTPUT_CHARS} more characters cut]"
    assert result.stdout == "o" * MAX_OUTPUT_CHARS + cut
    assert result.stderr == "e" * MAX_OUTPUT_CHARS + cut


def test_a_worker_with_over_a_thousand_descriptors_open_still_runs_commands(sshd: Sshd) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, 4096)), hard))
    held = [os.open("/dev/null", os.O_RDONLY) for _ in range(1100)]  # select() stops at 1024
    try:
        result = run(target(sshd), sshd.private_key, MemoryHostKeys(), "echo hi", timeout_s=20)
    finally:
        for fd in held:
            os.close(fd)
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    assert (result.exit_code, result.stdout, result.error) == (0, "hi\n", None)


def test_a_command_killed_by_a_signal_has_no_exit_code_of_its_own(sshd: Sshd) -> None:
    result = run(target(sshd), sshd.private_key, MemoryHostKeys(), "kill -9 $$", timeout_s=20)
    assert result.error is None and result.exit_code == -1


KEPT = SessionPool()


def client_port(server: Sshd, keys: MemoryHostKeys, sessions: SessionPool | None = KEPT) -> str:
    """The local port of the connection a command ran on (sshd's SSH_CLIENT)."""
    command = 'echo "$SSH_CLIENT"'
    result = run(target(server), server.private_key, keys, command, 20, sessions=sessions)
    assert result.exit_code == 0, result
    return result.stdout.split()[1]


def test_a_second_command_on_a_vm_reuses_its_connection(sshd: Sshd) -> None:
    keys = MemoryHostKeys()
    assert client_port(sshd, keys) == client_port(sshd, keys)
    assert client_port(sshd, keys, None) != client_port(sshd, keys, None)  # keeping none


def test_a_command_that_timed_out_leaves_no_connection_behind(sshd: Sshd) -> None:
    keys = MemoryHostKeys()
    before = client_port(sshd, keys)
    timed_out = run(target(sshd), sshd.private_key, keys, "sleep 5", 0.5, sessions=KEPT)
    assert timed_out.exit_code is None
    assert client_port(sshd, keys) != before


def test_a_kept_connection_to_a_restarted_vm_is_replaced_without_an_error(tmp_path: Path) -> None:
    server = start_sshd(tmp_path / "sshd3")
    keys = MemoryHostKeys()
    try:
        before = client_port(server, keys)
        server.stop()
        server.start()
        assert client_port(server, keys) != before
    finally:
        server.stop()


def test_commands_on_a_kept_connection_leave_no_descriptor_open(sshd: Sshd) -> None:
    keys = MemoryHostKeys()
    client_port(sshd, keys)
    before = len(os.listdir("/proc/self/fd"))
    for _ in range(20):
        client_port(sshd, keys)
    assert len(os.listdir("/proc/self/fd")) == before


def test_a_forgotten_host_key_is_recorded_again_on_a_kept_connection(sshd: Sshd) -> None:
    keys = MemoryHostKeys()
    client_port(sshd, keys)
    recorded = dict(keys.keys)
    keys.keys.clear()  # `mcis access --forget-host-keys`
    client_port(sshd, keys)
    assert keys.keys == recorded
