"""A process's resident set size during a benchmark, from /proc/<pid>/status (Linux; no psutil):
VmRSS sampled by a thread every `interval` seconds, each window's peak, and the kernel's own
high-water mark VmHWM, reset at the start of a window where the kernel allows it
(/proc/<pid>/clear_refs), so a window's figure misses no peak between samples.

    with RssSampler(worker_pid) as rss:
        with rss.window("create") as create:
            ...
    print(create.describe())   # "peak 412.3 MiB (VmHWM 415.0 MiB, 93 samples)"
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

MIB = 1024 * 1024


def read_status_kib(pid: int, key: str) -> int | None:
    """A `kB` field of /proc/<pid>/status in KiB ("VmRSS", "VmHWM"), None if unreadable."""
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    for line in text.splitlines():
        if line.startswith(f"{key}:"):
            return int(line.split()[1])
    return None


def reset_hwm(pid: int) -> bool:
    """Reset the process's VmHWM to its current RSS (Linux 4.0+, a process we own)."""
    try:
        Path(f"/proc/{pid}/clear_refs").write_text("5")
    except OSError:
        return False
    return True


@dataclass
class RssWindow:
    """The figures of one stretch of a run."""

    name: str
    peak_bytes: int = 0
    """The largest VmRSS sampled during the window."""
    hwm_bytes: int | None = None
    """VmHWM at the window's end: its true peak if reset at its start (`hwm_reset`), the
    process's lifetime peak else."""
    hwm_reset: bool = False
    samples: int = 0
    _hwm_carried: int = 0
    """VmHWM read before another window reset it while this one was open."""

    @property
    def peak_mib(self) -> float:
        """The window's peak: VmHWM when it was reset at its start, else the sampled peak."""
        best = self.peak_bytes
        if self.hwm_reset and self.hwm_bytes is not None:
            best = max(best, self.hwm_bytes)
        return best / MIB

    def describe(self) -> str:
        hwm = ""
        if self.hwm_bytes is not None:
            since = "in the window" if self.hwm_reset else "since the process started"
            hwm = f", VmHWM {self.hwm_bytes / MIB:.1f} MiB {since}"
        return f"peak {self.peak_mib:.1f} MiB ({self.samples} samples{hwm})"

    def as_dict(self) -> dict[str, object]:
        return {
            "peak_mib": round(self.peak_mib, 1),
            "sampled_peak_mib": round(self.peak_bytes / MIB, 1),
            "hwm_mib": None if self.hwm_bytes is None else round(self.hwm_bytes / MIB, 1),
            "hwm_reset": self.hwm_reset,
            "samples": self.samples,
        }


class RssSampler:
    """Samples VmRSS of `pid` in a daemon thread while entered."""

    def __init__(self, pid: int, interval: float = 0.1) -> None:
        self.pid, self.interval = pid, interval
        self._open: list[RssWindow] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"rss-{pid}", daemon=True)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._stop.set()
        self._thread.join()

    @contextlib.contextmanager
    def window(self, name: str) -> Iterator[RssWindow]:
        """Figures of the stretch of the run inside the `with`."""
        with self._lock:
            before = read_status_kib(self.pid, "VmHWM")
            for other in self._open:
                other._hwm_carried = max(other._hwm_carried, (before or 0) * 1024)
            window = RssWindow(name, hwm_reset=reset_hwm(self.pid))
            self._open.append(window)
        self.sample()
        try:
            yield window
        finally:
            self.sample()
            self._close(window)

    def sample(self) -> int | None:
        """Read VmRSS now and count it in every open window."""
        kib = read_status_kib(self.pid, "VmRSS")
        if kib is None:
            return None
        with self._lock:
            for window in self._open:
                window.peak_bytes = max(window.peak_bytes, kib * 1024)
                window.samples += 1
        return kib * 1024

    def _close(self, window: RssWindow) -> None:
        hwm = read_status_kib(self.pid, "VmHWM")
        with self._lock:
            if window in self._open:
                self._open.remove(window)
            if hwm is not None:
                window.hwm_bytes = max(hwm * 1024, window._hwm_carried)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.sample()
            self._stop.wait(self.interval)
