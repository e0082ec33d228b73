"""`NetnsBackend`: the local cloud's VMs as real lightweight VMs on this host (vm.py).

The engine's hooks only record what each VM should be (running in its nth boot, stopped, gone)
and return at once: a small thread pool does the work outside any database transaction, one
job at a time per VM, always towards the latest wish (a suspend during a boot simply wins).
`readiness` compares wish and reality, so the engine keeps a VM booting until its sshd
listens. A monitor thread samples every VM's cgroups and traffic each second, restarts a VM
whose processes died on their own and keeps the latency daemon running while VMs exist.
`restore` (start-up, reset) adopts the VMs still running (pid files), boots or stops the others
as their phases say, destroys VMs that should not exist and cleans leaks (doctor.py).
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from enum import StrEnum

from localcloud.engine import (
    BOOT_PHASES,
    Readiness,
    VmUsage,
)
from localcloud.flavors import FLAVORS, REGION_INDEX, Phase
from localcloud.netns import network
from localcloud.netns.cgroups import Cgroups, Limits
from localcloud.netns.doctor import Doctor
from localcloud.netns.layout import Layout
from localcloud.netns.nfqueue import LatencyDaemon
from localcloud.netns.vm import Machine, VmSpec
from localcloud.state import Vm

log = logging.getLogger("localcloud.netns")

WORKERS = 4
SAMPLE_INTERVAL_S = 1.0
PIDS_MAX = 1024
MIB = 1024 * 1024


class State(StrEnum):
    ABSENT = "absent"
    STOPPED = "stopped"
    RUNNING = "running"


P = Phase
_TARGET: dict[Phase, tuple[State, bool]] = {
    P.CREATING: (State.RUNNING, True),
    P.RESUMING: (State.RUNNING, True),
    P.REBOOTING: (State.RUNNING, True),
    P.RUNNING: (State.RUNNING, False),
    P.SUSPENDING: (State.STOPPED, False),
    P.SUSPENDED: (State.STOPPED, False),
    P.FAILED: (State.STOPPED, False),
    P.TERMINATING: (State.ABSENT, False),
    P.TERMINATED: (State.ABSENT, False),
}
"""What a VM should be in each phase, and whether entering the phase (re)boots it."""


@dataclass(frozen=True)
class _Wish:
    state: State
    boot: int
    """Boots asked for so far: a reboot asks for one more."""
    spec: VmSpec | None


class _Record:
    """One VM as this backend knows it: what it should be, what it is, its last sample."""

    def __init__(self, vm_id: str, machine: Machine) -> None:
        self.vm_id = vm_id
        self.machine = machine
        self.lock = threading.Lock()
        """Held while the VM is worked on."""
        state = (
            State.RUNNING
            if machine.running()
            else State.STOPPED
            if machine.exists()
            else State.ABSENT
        )
        self.have: tuple[State, int] = (state, 0)
        self.wish = _Wish(state, 0, None)
        self.failed_boot = -1
        self.queued = False
        self.address = ""
        self.usage: VmUsage | None = None
        self.cpu_mark: tuple[float, int] | None = None


def _idle(now: float) -> VmUsage:
    return VmUsage(0.0, 0.0, 0.0, 0, 0, now)


class NetnsBackend:
    name = "netns"
    real = True

    def __init__(
        self,
        layout: Layout,
        cgroups: Cgroups | None,
        delays: LatencyDaemon | None,
        cores_per_vcpu: float,
        range_lock: int,
    ) -> None:
        self._layout = layout
        self._range_lock = range_lock
        self._cgroups = cgroups
        self._delays = delays
        self._delays_lock = threading.Lock()
        self._cores_per_vcpu = cores_per_vcpu
        self._doctor = Doctor(layout, cgroups)
        self._vms: dict[str, _Record] = {}
        self._lock = threading.RLock()
        """Guards `_vms`, every record's wish and queued flag, `_pending`."""
        self._pool = ThreadPoolExecutor(WORKERS, thread_name_prefix="vm")
        self._pending: set[Future[object]] = set()
        self._stop = threading.Event()
        self._monitor = threading.Thread(target=self._watch, name="vm-monitor", daemon=True)
        self._monitor.start()

    # the engine's hooks

    def restore(self, vms: Sequence[tuple[Vm, str]], wait: bool) -> None:
        wanted = set()
        for vm, public_key in vms:
            wanted.add(vm.id)
            self.on_phase(vm, public_key, first=True)
        with self._lock:
            for record in self._vms.values():
                if record.vm_id not in wanted:
                    record.wish = _Wish(State.ABSENT, record.wish.boot, None)
                    self._schedule(record)
            keep = set(self._vms)
        self._submit(self._doctor.clean, keep)
        if wait:
            self._wait()

    def on_phase(self, vm: Vm, public_key: str, first: bool = False) -> None:
        """Record what `vm` should now be and have it done. `first`: the VM is handed over at
        start-up, so a boot under way is not asked for again."""
        state, boots = _TARGET[vm.phase]
        if vm.phase is P.CREATING and vm.fails_at_boot:
            state, boots = State.ABSENT, False
        spec = self._spec(vm, public_key) if state is State.RUNNING else None
        with self._lock:
            record = self._vms.get(vm.id)
            if record is None:
                machine = Machine(self._layout, vm.id, self._cgroups, self._delays is not None)
                if state is State.ABSENT and not (machine.exists() or machine.running()):
                    return  # never made, or destroyed already
                record = self._vms[vm.id] = _Record(vm.id, machine)
            boot = record.wish.boot
            starts = state is State.RUNNING and record.wish.state is not State.RUNNING
            if starts or (boots and not first):
                boot += 1
            record.wish = _Wish(state, boot, spec or record.wish.spec)
            record.address = vm.public_ip or record.address
            self._schedule(record)

    def readiness(self, vm: Vm) -> Readiness:
        record = self._vms.get(vm.id)
        if vm.phase in BOOT_PHASES:
            if record is None:
                return Readiness.BROKEN
            wish = record.wish
            if wish.state is State.RUNNING and record.have == (State.RUNNING, wish.boot):
                return Readiness.READY
            return Readiness.BROKEN if record.failed_boot == wish.boot else Readiness.PENDING
        if vm.phase is P.SUSPENDING and record is not None:
            return Readiness.PENDING if record.have[0] is State.RUNNING else Readiness.READY
        if vm.phase is P.TERMINATING and record is not None:
            return Readiness.PENDING
        return Readiness.READY

    def usage(self, vm: Vm) -> VmUsage:
        record = self._vms.get(vm.id)
        usage = None if record is None else record.usage
        return usage or _idle(time.time())

    def close(self) -> None:
        self._stop.set()
        self._monitor.join()
        self._pool.shutdown(wait=True, cancel_futures=True)
        if not self._vms and self._delays is not None:
            self._delays.stop()
        os.close(self._range_lock)

    # doing the work

    def _spec(self, vm: Vm, public_key: str) -> VmSpec:
        spec = FLAVORS[vm.flavor].spec(vm.spec)
        if spec is None or vm.public_ip is None:
            raise ValueError(f"VM {vm.id} has no spec {vm.spec!r} or no address")
        cores = min(spec.vcpus * self._cores_per_vcpu, float(os.cpu_count() or 1))
        limits = Limits(cores, round(spec.memory_gib * 1024), PIDS_MAX)
        index = REGION_INDEX[(vm.flavor, vm.region)]
        return VmSpec(vm.name, vm.public_ip, index, limits, public_key)

    def _submit(self, job: Callable[..., object], *args: object) -> None:
        with self._lock:
            future = self._pool.submit(job, *args)
            self._pending.add(future)
        future.add_done_callback(self._finished)

    def _finished(self, future: Future[object]) -> None:
        with self._lock:
            self._pending.discard(future)
        if not future.cancelled() and future.exception() is not None:
            log.error("background job failed", exc_info=future.exception())

    def _wait(self) -> None:
        while True:
            with self._lock:
                pending = list(self._pending)
            if not pending:
                return
            wait(pending)

    def _schedule(self, record: _Record) -> None:
        """Have the record worked on (the caller holds `_lock`)."""
        if not record.queued:
            record.queued = True
            self._submit(self._reconcile, record)

    def _reconcile(self, record: _Record) -> None:
        """Bring the VM to its latest wish."""
        with record.lock:
            with self._lock:
                record.queued = False
                wish = record.wish
            try:
                self._apply(record, wish)
            except Exception:
                log.exception("VM %s: could not make it %s", record.machine.key, wish.state)
                self._failed(record, wish)
            with self._lock:
                gone = record.have[0] is State.ABSENT and record.wish.state is State.ABSENT
                last = gone and set(self._vms) == {record.vm_id}
            if last:  # before the VM is seen gone, so nothing of ours is left by then
                self._mind_delays(needed=False)
            with self._lock:
                if gone and self._vms.get(record.vm_id) is record:
                    del self._vms[record.vm_id]

    def _apply(self, record: _Record, wish: _Wish) -> None:
        machine = record.machine
        if wish.state is State.RUNNING:
            if record.have == (State.RUNNING, wish.boot) and machine.running():
                return
            if wish.spec is None:
                raise RuntimeError("nothing says what to boot (spec unknown)")
            began = time.monotonic()
            machine.stop()
            self._free_address(record)
            if self._delays is not None:
                with self._delays_lock:
                    self._delays.ensure()
            machine.start(wish.spec)
            record.have, record.cpu_mark = (State.RUNNING, wish.boot), None
            took = (time.monotonic() - began) * 1000
            log.info("VM %s up at %s in %.0f ms", machine.key, wish.spec.address, took)
        elif wish.state is State.STOPPED:
            machine.stop()
            record.have = (State.STOPPED if machine.exists() else State.ABSENT, record.have[1])
        else:
            began = time.monotonic()
            machine.destroy()
            record.have = (State.ABSENT, record.have[1])
            took = (time.monotonic() - began) * 1000
            log.info("VM %s destroyed in %.0f ms", machine.key, took)

    def _failed(self, record: _Record, wish: _Wish) -> None:
        """After a failed job: a boot is reported broken; a stop or destroy is taken as done
        (its error is logged) so the VM's phase does not hang."""
        if wish.state is State.RUNNING:
            record.failed_boot = wish.boot
            try:
                record.machine.stop()
            except Exception:
                log.exception("VM %s: could not stop it after a failed boot", record.machine.key)
            record.have = (State.STOPPED, record.have[1])
        else:
            record.have = (wish.state, record.have[1])

    def _free_address(self, record: _Record) -> None:
        """Destroy now a terminated VM that still holds the address `record` is to boot with
        (the engine reuses addresses of VMs whose termination is over)."""
        with self._lock:
            holders = [
                other
                for other in self._vms.values()
                if other is not record and other.address == record.address
            ]
        for other in holders:
            if other.wish.state is not State.ABSENT:
                raise RuntimeError(f"{record.address} is still used by VM {other.vm_id}")
            self._reconcile(other)

    # monitoring

    def _watch(self) -> None:
        while not self._stop.wait(SAMPLE_INTERVAL_S):
            with self._lock:
                records = list(self._vms.values())
            for record in records:
                try:
                    self._sample(record)
                    self._revive(record)
                except Exception:
                    log.exception("VM %s: monitoring failed", record.machine.key)
            self._mind_delays(bool(records))

    def _sample(self, record: _Record) -> None:
        now, tick = time.time(), time.monotonic()
        received, sent = network.traffic(record.machine.veth)
        spec, cgroups = record.wish.spec, self._cgroups
        running = record.have[0] is State.RUNNING
        used = cgroups.usage(record.machine.key) if running and cgroups is not None else None
        if used is None or spec is None:
            record.usage = VmUsage(0.0, 0.0, 0.0, received, sent, now)
            record.cpu_mark = None
            return
        cpu = 0.0
        if record.cpu_mark is not None:
            since, cpu_ns = record.cpu_mark
            cpu = (used.cpu_ns - cpu_ns) / ((tick - since) * 1e9 * spec.limits.cores) * 100
        record.cpu_mark = (tick, used.cpu_ns)
        memory = used.memory_bytes / MIB
        record.usage = VmUsage(
            round(max(cpu, 0.0), 1),
            round(memory, 1),
            round(memory / spec.limits.memory_mib * 100, 2),
            received,
            sent,
            now,
        )

    def _revive(self, record: _Record) -> None:
        """Boot again a VM whose processes ended while it should run (as a cloud would)."""
        if record.wish.state is not State.RUNNING or record.have[0] is not State.RUNNING:
            return
        if not record.lock.acquire(blocking=False):
            return  # being worked on
        try:
            if not record.machine.running():
                log.warning("VM %s stopped on its own: booting it again", record.machine.key)
                record.have = (State.STOPPED, record.have[1])
                with self._lock:
                    self._schedule(record)
        finally:
            record.lock.release()

    def _mind_delays(self, needed: bool) -> None:
        """The latency daemon runs while there are VMs (and is started again if it died)."""
        if self._delays is None:
            return
        with self._delays_lock:
            if needed and not self._delays.alive():
                log.warning("the latency daemon does not run: starting it")
                self._delays.ensure()
            elif not needed and self._delays.alive():
                self._delays.stop()
