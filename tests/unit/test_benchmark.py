"""Benchmarks, the pure parts: action names, parsers on captured outputs of sysbench, fio, SQLite
and ping, rows of failed runs, the tool check script (run by a real shell against stub tools),
turns of VMs sharing a machine, what the catalog learns, and the stored results (SQLite and
PostgreSQL). Where the tools are installed, each tool's command runs here for real."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from pydantic import ValidationError
from sqlalchemy import create_engine
from sqlmodel import SQLModel

from models.benchmark import (
    DB_ROWS,
    DB_SCANS,
    FIO,
    PING,
    SYSBENCH,
    TOOL_OF,
    BenchAction,
    BenchmarkRecord,
    BenchmarkWorkflowInput,
    BenchRow,
    BenchVm,
    Tool,
    check_target,
    command,
    missing_tools,
    parse,
    parse_actions,
    performance_scores,
    region_rtts,
    rows_of,
    tools_command,
    tools_for,
    turns,
)
from models.remote import RemoteResult
from store.benchmarks import BenchmarkResultRow, BenchmarkStore
from store.tables import table_of
from tests.postgres_server import POSTGRES_URL_ENV

OUTPUTS = Path(__file__).parent / "bench_outputs"
AT = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


def output(name: str) -> str:
    return (OUTPUTS / name).read_text()


def vm(
    name: str, region: str = "r1", spec: str = "s1", machine: str = "m", address: str = ""
) -> BenchVm:
    return BenchVm(
        vm=name,
        group=name.rpartition("-")[0],
        provider="aws",
        region=region,
        spec=f"aws+{region}+{spec}",
        address=address or "127.0.0.1",
        machine=machine,
    )


def ok(stdout: str) -> RemoteResult:
    return RemoteResult(vm="web-1", exit_code=0, stdout=stdout)


# actions and input


def test_actions_parse_in_canonical_order_any_case() -> None:
    assert parse_actions("all") == list(BenchAction)
    assert parse_actions("MRTT, cpus,memr") == [
        BenchAction.CPUS,
        BenchAction.MEMR,
        BenchAction.MRTT,
    ]
    assert parse_actions("cpus,all") == list(BenchAction)
    with pytest.raises(ValueError, match=r"unknown benchmark action 'disk' \(known: cpus, cpum"):
        parse_actions("cpus,disk")
    with pytest.raises(ValueError, match="unknown benchmark action ''"):
        parse_actions("")


def test_targets_are_ip_addresses_only() -> None:
    assert check_target("10.250.0.1") == "10.250.0.1"
    assert check_target("::1") == "::1"
    for bad in ("example.com", "1.2.3.4; reboot", ""):
        with pytest.raises(ValueError, match="is not an IP address"):
            check_target(bad)
    with pytest.raises(ValidationError):
        BenchmarkWorkflowInput(namespace="n", mcis="m", target="$(reboot)")
    with pytest.raises(ValidationError):
        BenchmarkWorkflowInput(namespace="n", mcis="m", actions=[])


def test_tools_of_actions() -> None:
    assert tools_for([BenchAction.CPUS, BenchAction.MRTT, BenchAction.CPUM]) == [SYSBENCH, PING]
    assert [t.command for t in tools_for(BenchAction)] == ["sysbench", "fio", "sqlite3", "ping"]


# parsers on captured outputs


@pytest.mark.parametrize(
    ("action", "name", "value"),
    [
        (BenchAction.CPUM, "sysbench_cpu.txt", 5431.46),
        (BenchAction.CPUS, "sysbench_cpu.txt", 5431.46),
        (BenchAction.MEMW, "sysbench_memory.txt", 22083.57),
        (BenchAction.FIOR, "fio_randread.txt", 16411),
        (BenchAction.FIOW, "fio_randwrite.txt", 16998),
        (BenchAction.DBR, "sqlite_dbr.txt", DB_ROWS * DB_SCANS / 0.639),
    ],
)
def test_parsers_read_captured_outputs(action: BenchAction, name: str, value: float) -> None:
    [row] = rows_of(action, vm("web-1"), ok(output(name)), AT)
    assert row.error is None and row.target is None
    assert row.value == pytest.approx(value)


def test_units() -> None:
    units = {a: rows_of(a, vm("web-1"), ok(""), AT)[0].unit for a in BenchAction}
    assert units[BenchAction.CPUS] == "events/s" and units[BenchAction.MEMR] == "MiB/s"
    assert units[BenchAction.FIOW] == "IOPS" and units[BenchAction.DBW] == "rows/s"
    assert units[BenchAction.RTT] == units[BenchAction.MRTT] == "ms"


def test_sqlite_write_rate() -> None:
    stdout = "Run Time: real 0.250 user 0.2 sys 0.01\n"
    assert parse(BenchAction.DBW, stdout)[0].value == pytest.approx(DB_ROWS / 0.25)


def test_rtt_reads_its_target_and_median() -> None:
    [row] = rows_of(BenchAction.RTT, vm("web-1"), ok(output("ping_rtt.txt")), AT)
    assert (row.target, row.error) == ("127.0.0.1", None)
    assert row.value == pytest.approx(0.0275, abs=1e-3)


def test_mrtt_gives_a_row_per_peer_and_names_the_lost_one() -> None:
    rows = rows_of(BenchAction.MRTT, vm("web-1"), ok(output("ping_mrtt.txt")), AT)
    assert [(r.target, r.value) for r in rows] == [
        ("web-2", pytest.approx(0.0085, abs=1e-3)),
        ("web-3", None),
        ("web-4", pytest.approx(0.0185, abs=1e-3)),
    ]
    assert rows[1].error is not None
    assert rows[1].error.startswith("no reply: 6 packets transmitted, 0 received")


def test_failed_runs_give_one_error_row() -> None:
    host = vm("web-1")
    unreachable = RemoteResult(vm="web-1", exit_code=None, error="cannot reach web-1")
    failed = RemoteResult(
        vm="web-1", exit_code=1, stdout="", stderr="fio: failed to create dir (/x)\n"
    )
    for result, error in (
        (unreachable, "cannot reach web-1"),
        (failed, "exit 1: fio: failed to create dir (/x)"),
        (ok("FATAL: nothing"), "no events/s in the output: FATAL: nothing"),
        (ok(""), "no events/s in the output: nothing"),
    ):
        [row] = rows_of(BenchAction.CPUS, host, result, AT)
        assert (row.value, row.error, row.measured_at) == (None, error, AT)
    errored = output("fio_randread.txt").replace(";mcis;0;0;", ";mcis;0;5;")
    assert rows_of(BenchAction.FIOR, host, ok(errored), AT)[0].error == "fio failed with error 5"
    idle = ok(output("fio_randwrite.txt"))  # read as a read report: no read I/O
    assert rows_of(BenchAction.FIOR, host, idle, AT)[0].error == "fio did no I/O"
    assert rows_of(BenchAction.FIOR, host, ok("fio-3.33 started"), AT)[0].error == (
        "no fio report in the output: fio-3.33 started"
    )
    assert rows_of(BenchAction.MRTT, host, ok(""), AT)[0].error == "no other VM to ping"
    assert rows_of(BenchAction.RTT, host, ok("target 1.2.3.4\n"), AT)[0].error == (
        "no reply: target 1.2.3.4"
    )


# the tool check script, run by a real shell against stub tools


def stub(directory: Path, name: str, body: str) -> None:
    path = directory / name
    path.write_text(f"#!/bin/sh\n{body}\n")
    path.chmod(0o755)


@pytest.fixture
def bin_dir(tmp_path: Path) -> Path:
    """A PATH holding only what the check needs besides the stubs each test adds."""
    for tool in ("id", "tail", "chmod"):
        found = shutil.which(tool)
        assert found is not None
        (tmp_path / tool).symlink_to(found)
    stub(tmp_path, "sudo", 'shift; exec "$@"')  # `sudo -n CMD...` when the tests are not root
    return tmp_path


def check(bin_dir: Path, tools: list[Tool]) -> dict[str, str]:
    done = subprocess.run(
        ["/bin/sh", "-c", tools_command(tools)],
        env={"PATH": str(bin_dir)},
        capture_output=True,
        text=True,
        timeout=30,
    )
    return missing_tools(tools, RemoteResult(vm="v", exit_code=done.returncode, stdout=done.stdout))


def test_tools_present_need_nothing(bin_dir: Path) -> None:
    stub(bin_dir, "sysbench", "true")
    stub(bin_dir, "fio", "true")
    assert check(bin_dir, [SYSBENCH, FIO]) == {}


def test_missing_tools_are_installed_with_apt_get(bin_dir: Path) -> None:
    stub(bin_dir, "fio", "true")
    stub(
        bin_dir,
        "apt-get",
        f'[ "$1" = install ] || exit 0; for p; do case $p in -*|install) ;; *) '
        f"printf '#!/bin/sh\\n' > {bin_dir}/$p; chmod +x {bin_dir}/$p;; esac; done",
    )
    assert check(bin_dir, [SYSBENCH, FIO]) == {}
    assert (bin_dir / "sysbench").exists()


def test_a_tool_apt_get_cannot_install_is_named_with_why(bin_dir: Path) -> None:
    stub(bin_dir, "fio", "true")
    stub(
        bin_dir,
        "apt-get",
        '[ "$1" = update ] && exit 0; echo "E: Unable to locate package sysbench" >&2; exit 100',
    )
    assert check(bin_dir, [SYSBENCH, FIO]) == {
        "sysbench": "sysbench is missing and could not be installed: apt-get install sysbench: "
        "E: Unable to locate package sysbench"
    }


def test_without_apt_get_the_missing_tools_are_named(bin_dir: Path) -> None:
    assert check(bin_dir, [SYSBENCH, PING]) == {
        "sysbench": "sysbench is missing and could not be installed: no apt-get on the VM to "
        "install sysbench iputils-ping",
        "ping": "ping is missing and could not be installed: no apt-get on the VM to install "
        "sysbench iputils-ping",
    }


def test_a_failed_check_blocks_every_tool() -> None:
    down = RemoteResult(vm="v", exit_code=None, error="cannot reach v at 10.0.0.1:22")
    assert missing_tools([FIO], down) == {
        "fio": "the tool check failed: cannot reach v at 10.0.0.1:22"
    }
    assert missing_tools([FIO], ok("tool sysbench ok\n")) == {"fio": "fio was not checked"}


@pytest.mark.parametrize(
    ("replies", "median"),
    [
        (output("ping_raw.txt"), 0.041),  # iputils
        (
            "PING 10.0.0.1 (10.0.0.1): 56 data bytes\n"
            "64 bytes from 10.0.0.1: seq=0 ttl=64 time=0.090 ms\n"
            "64 bytes from 10.0.0.1: seq=1 ttl=64 time=9.500 ms\n"
            "64 bytes from 10.0.0.1: seq=2 ttl=64 time=0.083 ms\n"
            "64 bytes from 10.0.0.1: seq=3 ttl=64 time=0.100 ms\n\n"
            "--- 10.0.0.1 ping statistics ---\n"
            "4 packets transmitted, 4 packets received, 0% packet loss\n"
            "round-trip min/avg/max = 0.083/2.443/9.500 ms\n",
            0.095,
        ),  # busybox: the late reply does not count
    ],
)
def test_ping_replies_sum_up_to_their_median(bin_dir: Path, replies: str, median: float) -> None:
    """The rtt command against a stub ping (in a real shell with the real awk)."""
    for tool in ("awk", "cat"):
        found = shutil.which(tool)
        assert found is not None
        (bin_dir / tool).symlink_to(found)
    (bin_dir / "replies.txt").write_text(replies)
    stub(bin_dir, "ping", f"cat {bin_dir / 'replies.txt'}")
    inp = BenchmarkWorkflowInput(namespace="n", mcis="m", target="10.0.0.1")
    done = subprocess.run(
        ["/bin/sh", "-c", command(BenchAction.RTT, inp, [])],
        env={"PATH": str(bin_dir)},
        capture_output=True,
        text=True,
        timeout=30,
    )
    [reading] = parse(BenchAction.RTT, done.stdout)
    assert (reading.target, reading.error) == ("10.0.0.1", None)
    assert reading.value == pytest.approx(median)


# scheduling and what the catalog learns


def test_vms_sharing_a_machine_take_turns() -> None:
    shared = [vm(f"web-{i}", machine="localcloud") for i in (1, 2, 3)]
    apart = [vm(f"db-{i}", machine=f"aws/i-{i}") for i in (1, 2)]
    assert [[v.vm for v in turn] for turn in turns([*shared, *apart])] == [
        ["web-1", "db-1", "db-2"],
        ["web-2"],
        ["web-3"],
    ]
    assert turns(apart) == [apart]
    assert turns([]) == []


def row(
    name: str,
    action: BenchAction,
    value: float | None,
    region: str = "r1",
    spec: str = "s1",
    target: str | None = None,
    minutes: int = 0,
) -> BenchRow:
    host = vm(name, region, spec)
    return BenchRow(
        vm=host.vm,
        group=host.group,
        spec=host.spec,
        provider=host.provider,
        region=host.region,
        action=action,
        target=target,
        value=value,
        unit="u",
        measured_at=AT + timedelta(minutes=minutes),
        error=None if value is not None else "failed",
    )


def test_performance_is_the_median_cpum_of_a_spec() -> None:
    rows = [
        row("a-1", BenchAction.CPUM, 100, spec="big"),
        row("a-2", BenchAction.CPUM, 300, spec="big", minutes=2),
        row("a-3", BenchAction.CPUM, 200, spec="big"),
        row("a-4", BenchAction.CPUM, None, spec="big"),
        row("b-1", BenchAction.CPUM, 50, spec="small"),
        row("b-1", BenchAction.CPUS, 999, spec="small"),
    ]
    scores = {p.spec_id: (p.score, p.measured_at) for p in performance_scores(rows)}
    assert scores == {
        "aws+r1+big": (200, AT + timedelta(minutes=2)),
        "aws+r1+small": (50, AT),
    }


def test_region_rtts_are_medians_over_vm_pairs_both_ways() -> None:
    mrtt = BenchAction.MRTT
    rows = [
        row("a-1", mrtt, 2.0, "r1", target="a-2"),
        row("a-2", mrtt, 2.4, "r1", target="a-1"),
        row("a-1", mrtt, 60.0, "r1", target="b-1"),
        row("a-2", mrtt, 64.0, "r1", target="b-1"),
        row("b-1", mrtt, 62.0, "r2", target="a-1"),
        row("b-1", mrtt, None, "r2", target="a-2"),
        row("b-1", mrtt, 1.0, "r2", target="gone-1"),
        row("b-1", BenchAction.RTT, 0.1, "r2", target="10.0.0.1"),
    ]
    found = {(m.a, m.b): m.rtt_ms for m in region_rtts(rows)}
    assert found == {("aws/r1", "aws/r1"): 2.2, ("aws/r1", "aws/r2"): 62.0}


# the stored results


@pytest.fixture(params=["sqlite", "postgresql"])
def results(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[BenchmarkStore]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'mcis.db'}"
    else:
        url = os.environ.get(POSTGRES_URL_ENV) or str(request.getfixturevalue("postgres_url"))
        engine = create_engine(url)
        SQLModel.metadata.drop_all(engine, tables=[table_of(BenchmarkResultRow)])
        engine.dispose()
    store = BenchmarkStore(url)
    yield store
    store.close()


def test_results_keep_the_newest_measure_of_each_vm_action_and_target(
    results: BenchmarkStore,
) -> None:
    first = [
        row("web-1", BenchAction.CPUS, 10),
        row("web-1", BenchAction.MRTT, 5, target="web-2"),
        row("web-2", BenchAction.MRTT, 6, target="web-1"),
    ]
    results.save(BenchmarkRecord(run_id="bench/n/m/1", namespace="n", mcis="m", rows=first))
    results.save(BenchmarkRecord(run_id="bench/n/m/1", namespace="n", mcis="m", rows=first))
    later = [row("web-1", BenchAction.CPUS, 12, minutes=5), row("web-1", BenchAction.RTT, None)]
    results.save(BenchmarkRecord(run_id="bench/n/m/2", namespace="n", mcis="m", rows=later))
    results.save(BenchmarkRecord(run_id="bench/n/o/3", namespace="n", mcis="o", rows=first))
    latest = results.latest("n", "m")
    assert [(r.vm, r.action.value, r.target, r.value) for r in latest] == [
        ("web-1", "cpus", None, 12),
        ("web-1", "rtt", None, None),
        ("web-1", "mrtt", "web-2", 5),
        ("web-2", "mrtt", "web-1", 6),
    ]
    assert latest[0].measured_at == AT + timedelta(minutes=5)
    assert latest[1].error == "failed"
    assert results.latest("n", "nothing") == []


# each tool's command, run here for real (this machine stands in for a VM)


@pytest.mark.parametrize(
    "action",
    [
        BenchAction.CPUM,
        BenchAction.MEMR,
        BenchAction.FIOW,
        BenchAction.DBW,
        BenchAction.RTT,
        BenchAction.MRTT,
    ],
)
def test_commands_run_here(action: BenchAction) -> None:
    tool = TOOL_OF[action].command
    if shutil.which(tool) is None:
        pytest.skip(f"{tool} is not installed")
    inp = BenchmarkWorkflowInput(namespace="n", mcis="m", seconds=1, pings=2)
    peers = [vm("web-1", address="127.0.0.1"), vm("web-2", address="127.0.0.2")]
    done = subprocess.run(
        ["/bin/sh", "-c", command(action, inp, peers)],
        env={**os.environ, "MCIS_VM": "web-1", "SSH_CLIENT": "127.0.0.3 40000 22"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    result = RemoteResult(
        vm="web-1", exit_code=done.returncode, stdout=done.stdout, stderr=done.stderr
    )
    rows = rows_of(action, peers[0], result, AT)
    assert [r.error for r in rows] == [None], rows
    assert rows[0].value is not None and rows[0].value > 0
    expected_target = {BenchAction.RTT: "127.0.0.3", BenchAction.MRTT: "web-2"}.get(action)
    assert rows[0].target == expected_target
