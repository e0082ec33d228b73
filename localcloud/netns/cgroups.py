"""CPU, memory and process-count caps of VMs and their use, read host-side like a cloud's
monitoring would, through cgroups under `mcis-localcloud/<vm key>`. Both kinds are handled and
detected: v2 (one hierarchy: cpu.max, memory.max, pids.max, cpu.stat, memory.current,
cgroup.kill) and v1 (a hierarchy per controller: cpu.cfs_quota_us, cpuacct.usage,
memory.limit_in_bytes, memory.usage_in_bytes, pids.max).
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from dataclasses import dataclass
from pathlib import Path

from localcloud.netns.layout import CGROUP_PARENT

ROOT = Path("/sys/fs/cgroup")
CPU_PERIOD_US = 100_000
V1_CONTROLLERS = ("cpu", "cpuacct", "memory", "pids")
V2_CONTROLLERS = ("cpu", "memory", "pids")


@dataclass(frozen=True)
class Limits:
    cores: float
    """CPU time per wall-clock time (0.5: half of one core)."""
    memory_mib: int
    pids: int


@dataclass(frozen=True)
class Usage:
    cpu_ns: int
    """CPU time used since the cgroup was made."""
    memory_bytes: int
    """Memory in use, without page cache that could be dropped at once."""


def _write(path: Path, value: str) -> None:
    path.write_text(value)


def _stat(path: Path, name: str) -> int:
    """One value of a `key value` file such as memory.stat (0 when absent)."""
    for line in path.read_text().splitlines():
        key, _, value = line.partition(" ")
        if key == name:
            return int(value)
    return 0


class Cgroups:
    """Our cgroups in the hierarchy kind this machine has."""

    def __init__(self, v2: bool) -> None:
        self.v2 = v2
        roots = [ROOT] if v2 else [ROOT / c for c in V1_CONTROLLERS]
        # v1 controllers are often mounted together (cpu,cpuacct): one directory, listed once
        self._parents = list(dict.fromkeys((r / CGROUP_PARENT).resolve() for r in roots))

    @classmethod
    def here(cls) -> Cgroups | None:
        """The kind this machine has (nothing is changed); None when it has neither."""
        if (ROOT / "cgroup.controllers").exists():
            return cls(v2=True)
        if all((ROOT / c).is_dir() for c in V1_CONTROLLERS):
            return cls(v2=False)
        return None

    def prepare(self) -> None:
        """Make our parent cgroups (v2: with the controllers enabled below them). OSError when
        that is not allowed here."""
        if self.v2:
            enable = " ".join(f"+{c}" for c in V2_CONTROLLERS)
            _write(ROOT / "cgroup.subtree_control", enable)
            self._parents[0].mkdir(exist_ok=True)
            _write(self._parents[0] / "cgroup.subtree_control", enable)
        else:
            for parent in self._parents:
                parent.mkdir(exist_ok=True)

    @property
    def kind(self) -> str:
        return "v2" if self.v2 else "v1"

    def _dirs(self, name: str) -> list[Path]:
        return [parent / name for parent in self._parents]

    def _dir(self, controller: str, name: str) -> Path:
        return (ROOT if self.v2 else ROOT / controller) / CGROUP_PARENT / name

    def create(self, name: str, limits: Limits) -> list[Path]:
        """Make the VM's cgroups with `limits`; the cgroup.procs files a process joins them by."""
        for path in self._dirs(name):
            path.mkdir(exist_ok=True)
        quota = max(1000, round(limits.cores * CPU_PERIOD_US))
        memory = str(limits.memory_mib * 1024 * 1024)
        if self.v2:
            _write(self._dir("cpu", name) / "cpu.max", f"{quota} {CPU_PERIOD_US}")
            _write(self._dir("memory", name) / "memory.max", memory)
        else:
            _write(self._dir("cpu", name) / "cpu.cfs_period_us", str(CPU_PERIOD_US))
            _write(self._dir("cpu", name) / "cpu.cfs_quota_us", str(quota))
            _write(self._dir("memory", name) / "memory.limit_in_bytes", memory)
        _write(self._dir("pids", name) / "pids.max", str(limits.pids))
        return [path / "cgroup.procs" for path in self._dirs(name)]

    def usage(self, name: str) -> Usage | None:
        """What the VM's processes use now; None when its cgroups are gone."""
        try:
            if self.v2:
                cpu_ns = _stat(self._dir("cpu", name) / "cpu.stat", "usage_usec") * 1000
                memory = self._dir("memory", name)
                used = int((memory / "memory.current").read_text())
                cache = _stat(memory / "memory.stat", "inactive_file")
            else:
                cpu_ns = int((self._dir("cpuacct", name) / "cpuacct.usage").read_text())
                memory = self._dir("memory", name)
                used = int((memory / "memory.usage_in_bytes").read_text())
                cache = _stat(memory / "memory.stat", "total_inactive_file")
        except (OSError, ValueError):
            return None
        return Usage(cpu_ns, max(0, used - cache))

    def pids(self, name: str) -> list[int]:
        found: set[int] = set()
        for path in self._dirs(name):
            with contextlib.suppress(OSError):
                found.update(int(p) for p in (path / "cgroup.procs").read_text().split())
        return sorted(found)

    def remove(self, name: str, timeout: float = 2.0) -> None:
        """Kill every process left in the VM's cgroups and remove them."""
        kill_file = self._dir("pids", name) / "cgroup.kill"
        deadline = time.monotonic() + timeout
        while (pids := self.pids(name)) and time.monotonic() < deadline:
            if self.v2 and kill_file.exists():
                with contextlib.suppress(OSError):
                    _write(kill_file, "1")
            for pid in pids:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            time.sleep(0.01)
        for path in self._dirs(name):
            while path.exists():
                try:
                    path.rmdir()
                except OSError:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.01)

    def names(self) -> list[str]:
        """Every cgroup under our parent, in any controller."""
        found: set[str] = set()
        for parent in self._parents:
            with contextlib.suppress(OSError):
                found.update(entry.name for entry in os.scandir(parent) if entry.is_dir())
        return sorted(found)
