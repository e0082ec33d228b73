"""Benchmarks of the VMs of an MCIS over SSH (pure: no I/O): the ten actions, the shell command
each one runs on a VM, parsers of the tools' output into a value with its unit, and what a run
feeds into the catalog (a performance score per spec, an RTT per region pair).

The tools are the VM's own packages: sysbench (cpus, cpum, memR, memW), fio (fioR, fioW), the
SQLite shell (dbR, dbW) and ping (rtt, mrtt). `tools_command` installs the missing ones with the
VM's apt-get where it can, and says per tool why not where it cannot.
"""

from __future__ import annotations

import ipaddress
import math
import re
import shlex
import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, Field, field_validator

from catalog.entries import CatalogId
from catalog.records import PerformanceMeasurement, RttMeasurement, region_key
from models.naming import Name, vm_order
from models.remote import RemoteResult, RemoteRun
from models.workflow_input import WorkflowInput


class BenchAction(StrEnum):
    CPUS = "cpus"  # sysbench cpu, one thread
    CPUM = "cpum"  # sysbench cpu, a thread per CPU the VM shows
    MEMR = "memR"  # sysbench memory read
    MEMW = "memW"  # sysbench memory write
    FIOR = "fioR"  # fio 4 KiB random reads (direct I/O)
    FIOW = "fioW"  # fio 4 KiB random writes (direct I/O)
    DBR = "dbR"  # SQLite full-table scans
    DBW = "dbW"  # SQLite inserts
    RTT = "rtt"  # ping from the VM to a target
    MRTT = "mrtt"  # ping from the VM to every other VM of the MCIS


ALL_ACTIONS = "all"


@dataclass(frozen=True)
class Tool:
    command: str
    package: str  # the Debian/Ubuntu package that provides it


SYSBENCH = Tool("sysbench", "sysbench")
FIO = Tool("fio", "fio")
SQLITE = Tool("sqlite3", "sqlite3")
PING = Tool("ping", "iputils-ping")

TOOL_OF: dict[BenchAction, Tool] = {
    BenchAction.CPUS: SYSBENCH,
    BenchAction.CPUM: SYSBENCH,
    BenchAction.MEMR: SYSBENCH,
    BenchAction.MEMW: SYSBENCH,
    BenchAction.FIOR: FIO,
    BenchAction.FIOW: FIO,
    BenchAction.DBR: SQLITE,
    BenchAction.DBW: SQLITE,
    BenchAction.RTT: PING,
    BenchAction.MRTT: PING,
}

UNIT_OF: dict[BenchAction, str] = {
    BenchAction.CPUS: "events/s",
    BenchAction.CPUM: "events/s",
    BenchAction.MEMR: "MiB/s",
    BenchAction.MEMW: "MiB/s",
    BenchAction.FIOR: "IOPS",
    BenchAction.FIOW: "IOPS",
    BenchAction.DBR: "rows/s",
    BenchAction.DBW: "rows/s",
    BenchAction.RTT: "ms",
    BenchAction.MRTT: "ms",
}

EXCLUSIVE: frozenset[BenchAction] = frozenset(
    {BenchAction.CPUS, BenchAction.CPUM, BenchAction.MEMR, BenchAction.MEMW}
)
"""Actions bounded by the VM's CPU cap: VMs sharing one machine (the local cloud's) take turns
at them, or each would measure the others' load instead of its own cap."""

PERFORMANCE_ACTION = BenchAction.CPUM
"""The catalog's performance score of a spec: the median cpum events/s of its VMs (the whole
VM's CPU, every vCPU busy; one benchmark writes every score, so scores compare)."""

BENCH_DIR = "/var/tmp"
"""Where fio and SQLite put their files on the VM: its disk (/tmp may be a tmpfs)."""
FIO_FILE_SIZE = "32M"
FIO_TERSE_VERSION = 3
"""fio reports one `;`-separated line (a JSON report is ~6 KB per VM in the history)."""
DB_ROWS = 500_000
DB_SCANS = 10
"""SQLite work long enough (about a second under a quarter-core cap) to feel the CPU cap, not
to fit in one quota period."""
PING_INTERVAL_S = 0.2
TOOLS_TIMEOUT_S = 600.0
"""The tool check, with an apt-get install where tools are missing."""

_INSERT = (
    "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < "
    f"{DB_ROWS}) INSERT INTO t(v) SELECT hex(randomblob(16)) FROM c;"
)
_MEDIAN = (
    'awk \'/time=/ {sub(/.*time=/, ""); v[n++] = $1 + 0} /transmitted/ {t = $0} NF {l = $0} '
    'END {if (!n) {print (t != "" ? t : l); exit} '
    "for (i = 1; i < n; i++) for (j = i; j > 0 && v[j - 1] > v[j]; j--) "
    "{x = v[j]; v[j] = v[j - 1]; v[j - 1] = x} "
    'print "median", (n % 2 ? v[int(n / 2)] : (v[n / 2 - 1] + v[n / 2]) / 2), '
    '"ms of", n, "replies"}\''
)
"""A ping's output as one line: the median of its reply times (robust to the odd late reply),
else its packet count, else its last line."""
_CREATE = "CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT);"
_SCAN = "SELECT count(*) FROM t WHERE v LIKE '%AB%';"


def parse_actions(text: str) -> list[BenchAction]:
    """`cpus,mrtt` or `all` (any case) -> the actions in their canonical order; ValueError
    naming the known ones otherwise."""
    known = {a.value.lower(): a for a in BenchAction}
    chosen: set[BenchAction] = set()
    for word in (w.strip().lower() for w in text.split(",")):
        if word == ALL_ACTIONS:
            chosen.update(BenchAction)
        elif word in known:
            chosen.add(known[word])
        else:
            names = ", ".join([*(a.value for a in BenchAction), ALL_ACTIONS])
            raise ValueError(f"unknown benchmark action {word!r} (known: {names})")
    return [a for a in BenchAction if a in chosen]


def check_target(text: str) -> str:
    """An IP address to ping (no host names: nothing is resolved on the VMs)."""
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        raise ValueError(f"target {text!r} is not an IP address") from None


class BenchmarkWorkflowInput(WorkflowInput):
    namespace: Name
    mcis: Name
    actions: list[BenchAction] = Field(default_factory=lambda: list(BenchAction), min_length=1)
    target: str | None = None  # rtt's target; None: the address mcis reaches the VM from
    seconds: int = Field(default=2, ge=1, le=60)  # each timed sysbench and fio run
    pings: int = Field(default=5, ge=1, le=50)  # rtt and mrtt, 0.2 s apart

    @field_validator("target")
    @classmethod
    def _target_ok(cls, value: str | None) -> str | None:
        return None if value is None else check_target(value)


class BenchVm(BaseModel):
    """A Running VM to benchmark: where it is, what it is, and the machine it shares."""

    vm: str
    group: str
    provider: str
    region: str
    spec: CatalogId
    address: str
    machine: str  # VMs with the same value run on one machine (EXCLUSIVE actions take turns)


class BenchTargets(BaseModel):
    vms: list[BenchVm] = Field(default_factory=list)
    skipped: list[str] = Field(default_factory=list)  # "web-3: not Running (Suspended)"


class BenchRow(BaseModel):
    """One measure of one VM (`mcis bench --json` rows); mrtt has one per peer VM."""

    vm: str
    group: str
    spec: CatalogId
    provider: str
    region: str
    action: BenchAction
    target: str | None = None  # rtt: the address pinged; mrtt: the peer VM
    value: float | None = None
    unit: str
    measured_at: datetime
    error: str | None = None


class BenchmarkRecord(BaseModel):
    """What a run stores: its rows, and the measurements it feeds into the catalog."""

    run_id: str
    namespace: str
    mcis: str
    rows: list[BenchRow]
    performance: list[PerformanceMeasurement] = Field(default_factory=list)
    rtts: list[RttMeasurement] = Field(default_factory=list)


class BenchmarkReport(BenchmarkRecord):
    started_at: datetime
    finished_at: datetime
    warnings: list[str] = Field(default_factory=list)


class StepRun(BaseModel):
    """A benchmark step's child remote run and its result per VM: a summary, the output in the
    store under `run`; or, with `run` None (histories from before that), the output in it."""

    run: RemoteRun | None
    results: dict[str, RemoteResult]
    vms: list[BenchVm]


class ToolCheckRun(StepRun):
    tools: list[Tool]

    def missing(self, results: Mapping[str, RemoteResult]) -> dict[str, dict[str, str]]:
        """Per VM: tool -> why it cannot run there, from `results` with their output."""
        return {vm.vm: missing_tools(self.tools, results[vm.vm]) for vm in self.vms}


class ActionRun(StepRun):
    action: BenchAction
    at: datetime  # when the rows are measured

    def rows(self, results: Mapping[str, RemoteResult]) -> list[BenchRow]:
        """The rows of the VMs, from `results` with their output."""
        return [row for vm in self.vms for row in rows_of(self.action, vm, results[vm.vm], self.at)]


class BenchmarkProgress(BaseModel):
    step: str = "starting"  # "checking tools", an action, "recording"
    index: int = 0  # of the action among `total`
    total: int = 0
    vms_done: int = 0
    vms: int = 0

    def line(self, mcis: str) -> str:
        if not self.index:
            return f"{mcis}: {self.step}"
        return f"{mcis}: {self.step} ({self.index}/{self.total}), {self.vms_done}/{self.vms} VMs"


# commands


def tools_for(actions: Iterable[BenchAction]) -> list[Tool]:
    return list(dict.fromkeys(TOOL_OF[a] for a in actions))


def tools_command(tools: Sequence[Tool]) -> str:
    """Check each tool; install the missing ones' packages with apt-get (as root, else with
    `sudo -n`); print `tool NAME ok|installed|missing REASON` per tool."""
    need = shlex.quote(" ".join(f"{t.command}:{t.package}" for t in tools))
    return (
        f"need={need}; miss=; pkgs=; why=; "
        'for p in $need; do command -v "${p%%:*}" >/dev/null 2>&1 '
        '|| { miss="$miss ${p%%:*}"; pkgs="$pkgs ${p#*:}"; }; done; '
        'if [ -n "$pkgs" ]; then '
        "if command -v apt-get >/dev/null 2>&1; then "
        's=; [ "$(id -u)" = 0 ] || s="sudo -n"; export DEBIAN_FRONTEND=noninteractive; '
        "why=$( { $s apt-get install -y -qq --no-install-recommends $pkgs "
        "|| { $s apt-get update -qq && $s apt-get install -y -qq --no-install-recommends $pkgs; }; "
        "} 2>&1 | tail -n 1); "
        'why="apt-get install$pkgs: ${why:-did not install it}"; '
        'else why="no apt-get on the VM to install$pkgs"; fi; fi; '
        'for p in $need; do t=${p%%:*}; if command -v "$t" >/dev/null 2>&1; then '
        'case " $miss " in *" $t "*) echo "tool $t installed";; *) echo "tool $t ok";; esac; '
        'else echo "tool $t missing $why"; fi; done'
    )


def _ping(address: str, pings: int) -> str:
    """`pings` pings summed up by _MEDIAN, after one unmeasured: the first packet to a new
    neighbour waits for its address resolution."""
    deadline = math.ceil(pings * PING_INTERVAL_S) + 5
    return (
        f'(ping -n -q -c 1 -w 2 "{address}" >/dev/null 2>&1; '
        f'ping -n -c {pings} -i {PING_INTERVAL_S} -w {deadline} "{address}" 2>&1) | {_MEDIAN}'
    )


def _in_file(suffix: str, command: str) -> str:
    """`command` with $f a fresh file in BENCH_DIR, removed after; its exit code kept."""
    return f'f={BENCH_DIR}/mcis-bench-$$.{suffix}; rm -f "$f"; {command}; c=$?; rm -f "$f"; exit $c'


def _sqlite(lines: Sequence[str]) -> str:
    script = " ".join(shlex.quote(line) for line in lines)
    return _in_file("db", f'printf "%s\\n" {script} | sqlite3 -bail "$f"')


def command(action: BenchAction, inp: BenchmarkWorkflowInput, vms: Sequence[BenchVm]) -> str:
    """The shell command of `action` on one VM (the VM sees itself as $MCIS_VM)."""
    s = inp.seconds
    match action:
        case BenchAction.CPUS | BenchAction.CPUM:
            threads = "1" if action is BenchAction.CPUS else "$(nproc)"
            return f"sysbench cpu --threads={threads} --time={s} run"
        case BenchAction.MEMR | BenchAction.MEMW:
            operation = "read" if action is BenchAction.MEMR else "write"
            return (
                f"sysbench memory --memory-oper={operation} --memory-block-size=1M "
                f"--memory-total-size=1T --threads=1 --time={s} run"
            )
        case BenchAction.FIOR | BenchAction.FIOW:
            rw = "randread" if action is BenchAction.FIOR else "randwrite"
            return _in_file(
                "fio",
                f'fio --name=mcis --filename="$f" --size={FIO_FILE_SIZE} --rw={rw} --bs=4k '
                f"--direct=1 --runtime={s} --time_based --output-format=terse "
                f"--terse-version={FIO_TERSE_VERSION}",
            )
        case BenchAction.DBW:
            return _sqlite([_CREATE, ".timer on", _INSERT])
        case BenchAction.DBR:
            return _sqlite([_CREATE, _INSERT, ".timer on", *[_SCAN] * DB_SCANS])
        case BenchAction.RTT:
            target = inp.target or "${SSH_CLIENT%% *}"
            return f't="{target}"; echo "target $t"; {_ping("$t", inp.pings)}'
        case BenchAction.MRTT:
            peers = shlex.quote(" ".join(f"{vm.vm}={vm.address}" for vm in vms))
            return (
                f'peers={peers}; d=$(mktemp -d); for p in $peers; do n=${{p%%=*}}; [ "$n" = '
                f'"$MCIS_VM" ] && continue; {_ping("${p#*=}", inp.pings)} > "$d/$n" & '
                "done; wait; "
                'for n in $(ls "$d"); do echo "peer $n $(cat "$d/$n")"; done; rm -rf "$d"'
            )


# parsing


@dataclass(frozen=True)
class Reading:
    target: str | None
    value: float | None
    error: str | None = None


_PING_MEDIAN = re.compile(r"^median ([\d.]+) ms", re.MULTILINE)


def _number(pattern: str, text: str, what: str) -> float:
    found = re.search(pattern, text)
    if found is None:
        raise ValueError(f"no {what} in the output: {_last_line(text) or 'nothing'}")
    return float(found.group(1))


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1][:300] if lines else ""


def _fio_iops(stdout: str, side: str) -> float:
    """IOPS of one side (read or write) from fio's terse report, version 3 (`3;fio-3.33;job;
    group;error;` then per side 41 fields from total KiB, KiB/s, IOPS; writes start at 46)."""
    line = next((x for x in stdout.splitlines() if x.startswith(f"{FIO_TERSE_VERSION};")), "")
    fields = line.split(";")
    try:
        error, iops = int(fields[4]), float(fields[7 if side == "read" else 48])
    except (ValueError, IndexError):
        raise ValueError(
            f"no fio report in the output: {_last_line(stdout) or 'nothing'}"
        ) from None
    if error:
        raise ValueError(f"fio failed with error {error}")
    if iops <= 0:
        raise ValueError("fio did no I/O")
    return iops


def _sqlite_rate(stdout: str, rows: int) -> float:
    seconds = sum(float(t) for t in re.findall(r"Run Time: real ([\d.]+)", stdout))
    if seconds <= 0:
        raise ValueError(f"no SQLite timing in the output: {_last_line(stdout) or 'nothing'}")
    return rows / seconds


def _ping_reading(target: str | None, summary: str) -> Reading:
    found = _PING_MEDIAN.search(summary)
    if found is None:
        return Reading(target, None, f"no reply: {_last_line(summary) or 'nothing'}")
    return Reading(target, float(found.group(1)))


def parse(action: BenchAction, stdout: str) -> list[Reading]:
    """The readings in the output of `command(action, ...)`; ValueError when it holds none."""
    match action:
        case BenchAction.CPUS | BenchAction.CPUM:
            return [Reading(None, _number(r"events per second:\s*([\d.]+)", stdout, "events/s"))]
        case BenchAction.MEMR | BenchAction.MEMW:
            return [Reading(None, _number(r"\(([\d.]+) MiB/sec\)", stdout, "MiB/sec"))]
        case BenchAction.FIOR:
            return [Reading(None, _fio_iops(stdout, "read"))]
        case BenchAction.FIOW:
            return [Reading(None, _fio_iops(stdout, "write"))]
        case BenchAction.DBW:
            return [Reading(None, _sqlite_rate(stdout, DB_ROWS))]
        case BenchAction.DBR:
            return [Reading(None, _sqlite_rate(stdout, DB_ROWS * DB_SCANS))]
        case BenchAction.RTT:
            target = re.search(r"^target (\S*)", stdout, re.MULTILINE)
            reading = _ping_reading(target.group(1) if target else None, stdout)
            if reading.error:
                raise ValueError(reading.error)
            return [reading]
        case BenchAction.MRTT:
            peers = re.findall(r"^peer (\S+) ?(.*)$", stdout, re.MULTILINE)
            if not peers:
                raise ValueError("no other VM to ping")
            return [_ping_reading(name, summary) for name, summary in peers]


def missing_tools(tools: Sequence[Tool], result: RemoteResult) -> dict[str, str]:
    """Tool -> why it cannot run on the VM, from the output of `tools_command`."""
    if result.exit_code is None or result.exit_code != 0:
        why = result.error or f"exit {result.exit_code}: {_last_line(result.stderr)}"
        return {t.command: f"the tool check failed: {why}" for t in tools}
    states = dict(re.findall(r"^tool (\S+) (ok|installed|missing.*)$", result.stdout, re.M))
    found: dict[str, str] = {}
    for tool in tools:
        state = states.get(tool.command)
        if state is None:
            found[tool.command] = f"{tool.command} was not checked"
        elif state.startswith("missing"):
            why = state.removeprefix("missing").strip()
            found[tool.command] = f"{tool.command} is missing and could not be installed: {why}"
    return found


def rows_of(action: BenchAction, vm: BenchVm, result: RemoteResult, at: datetime) -> list[BenchRow]:
    """The rows one VM's run of `action` gives (an error row when it gave no measure)."""

    def row(reading: Reading) -> BenchRow:
        return BenchRow(
            vm=vm.vm,
            group=vm.group,
            spec=vm.spec,
            provider=vm.provider,
            region=vm.region,
            action=action,
            target=reading.target,
            value=None if reading.value is None else round(reading.value, 3),
            unit=UNIT_OF[action],
            measured_at=at,
            error=reading.error,
        )

    if result.exit_code is None:
        return [row(Reading(None, None, result.error or "did not run"))]
    if result.exit_code != 0:
        why = _last_line(result.stderr) or _last_line(result.stdout)
        return [row(Reading(None, None, f"exit {result.exit_code}: {why}"))]
    try:
        return [row(r) for r in parse(action, result.stdout)]
    except ValueError as exc:
        return [row(Reading(None, None, str(exc)))]


def error_rows(action: BenchAction, vm: BenchVm, error: str, at: datetime) -> list[BenchRow]:
    return rows_of(action, vm, RemoteResult(vm=vm.vm, exit_code=None, error=error), at)


def turns(vms: Sequence[BenchVm]) -> list[list[BenchVm]]:
    """The VMs in turns where no two share a machine (the first VM of each machine, then the
    second, ...): on separate machines all go at once, on one machine one at a time."""
    by_machine: dict[str, list[BenchVm]] = {}
    for vm in vms:
        by_machine.setdefault(vm.machine, []).append(vm)
    count = max((len(group) for group in by_machine.values()), default=0)
    return [[g[i] for g in by_machine.values() if i < len(g)] for i in range(count)]


def sort_rows(rows: Iterable[BenchRow]) -> list[BenchRow]:
    order = {a: i for i, a in enumerate(BenchAction)}
    return sorted(rows, key=lambda r: (order[r.action], vm_order(r.vm), vm_order(r.target or "")))


# what the catalog learns


def performance_scores(rows: Iterable[BenchRow]) -> list[PerformanceMeasurement]:
    """Per spec: the median PERFORMANCE_ACTION value of its VMs."""
    values: dict[CatalogId, list[float]] = {}
    at: dict[CatalogId, datetime] = {}
    for r in rows:
        if r.action is PERFORMANCE_ACTION and r.value is not None:
            values.setdefault(r.spec, []).append(r.value)
            at[r.spec] = max(at.get(r.spec, r.measured_at), r.measured_at)
    return [
        PerformanceMeasurement(
            spec_id=spec, score=round(statistics.median(v), 3), measured_at=at[spec]
        )
        for spec, v in sorted(values.items())
    ]


def region_rtts(rows: Sequence[BenchRow]) -> list[RttMeasurement]:
    """Per region pair (`provider/region` keys; a region with itself too): the median mrtt
    over the VM pairs between them, both directions."""
    region_of = {r.vm: region_key(r.provider, r.region) for r in rows}
    values: dict[tuple[str, str], list[float]] = {}
    at: dict[tuple[str, str], datetime] = {}
    for r in rows:
        if r.action is not BenchAction.MRTT or r.value is None or r.target not in region_of:
            continue
        a, b = sorted((region_of[r.vm], region_of[r.target]))
        values.setdefault((a, b), []).append(r.value)
        at[a, b] = max(at.get((a, b), r.measured_at), r.measured_at)
    return [
        RttMeasurement(a=a, b=b, rtt_ms=round(statistics.median(v), 3), measured_at=at[a, b])
        for (a, b), v in sorted(values.items())
    ]
