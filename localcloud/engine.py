"""VM lifecycle of the local cloud, with lazy, time-based transitions.

A VM row holds its phase, when that phase started and how long it lasts. Reading a VM settles
it: every phase whose deadline has passed is advanced (each next phase starting at the previous
deadline) and persisted, so state is right after a restart without any ticker. Phase durations
are the flavor's timings times the time scale, unless overridden at run time with absolute
seconds. Boot failures are decided at create time.

A `VmBackend` makes VMs real: it hears about every phase a VM enters (and starts, stops or
destroys the real VM without blocking), and a transitional phase ends only once the backend
says the real VM got there (a VM is never reported running before it answers), or in FAILED
when it says a boot cannot succeed. Real VMs change while nobody reads them, so the app settles
all VMs on a ticker for a real backend. `PhantomBackend` does nothing (phantom VMs are never
contacted) and is always ready: phases end exactly at their deadlines.

Addresses: the private one comes from the subnet, the public one is 10.250.R.N (127.250.R.N for
phantom VMs, so nothing ever leaves the machine toward them) with R the
region's index across the whole cloud (at most 254 live real VMs a region; phantom VMs beyond
254 continue in 127.251.R.N, ..., 127.255.R.N).
"""

from __future__ import annotations

import dataclasses
import ipaddress
import itertools
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from localcloud.errors import conflict, incorrect_state, invalid, not_found, quota_exceeded
from localcloud.faults import ANY, Faults
from localcloud.flavors import FLAVORS, REGION_INDEX, Phase, Timings, native_status
from localcloud.schemas import TimingBody, VmBody
from localcloud.state import Store, Subnet, TimingOverride, Vm, new_id

PUBLIC_PREFIX = "10.250"
PHANTOM_PREFIX = "127.250"
PHANTOM_OVERFLOW = ("127.251", "127.252", "127.253", "127.254", "127.255")
"""Phantom VMs get loopback addresses: anything that tries to reach one (SSH, HTTP) is refused on
this machine, never routed anywhere else."""
REGION_STRIDE = 256
"""Third octet of a region's public addresses: R, the region's index (so at most 255 regions)."""
RESERVED_SUBNET_HOSTS = 3
"""The first hosts of every subnet belong to the cloud (gateway, DNS), as on AWS."""

if max(REGION_INDEX.values()) >= REGION_STRIDE:
    raise RuntimeError(f"at most {REGION_STRIDE - 1} regions fit the public address plan")


class Readiness(StrEnum):
    """Whether a VM's transitional phase may end, as its backend sees the real VM."""

    READY = "ready"
    PENDING = "pending"  # not there yet: the phase goes on past its deadline
    BROKEN = "broken"  # it will not get there: a boot phase ends in FAILED


@dataclass(frozen=True)
class VmUsage:
    """What a VM uses, as a cloud's monitoring reports it."""

    cpu_percent: float
    """Of the VM's vCPU allocation, over the last sampling window."""
    memory_mib: float
    memory_percent: float
    net_rx_bytes: int
    net_tx_bytes: int
    sampled_at: float


class VmBackend(Protocol):
    """What makes a VM real. Implementations are idempotent and never block on real work."""

    name: str
    real: bool
    """True when VMs exist outside the database (they change on their own and outlive us)."""

    def restore(self, vms: Sequence[tuple[Vm, str]], wait: bool) -> None:
        """Make the real VMs match `vms` (each with its key pair's public key) in their phases,
        adopting those that still run; destroy every other one (all when empty). With `wait`,
        return only when done."""
        ...

    def on_phase(self, vm: Vm, public_key: str) -> None:
        """`vm` entered `vm.phase`: start the real VM when a boot phase begins (restart on a
        reboot), stop it when it suspends or fails, destroy it when it terminates."""
        ...

    def readiness(self, vm: Vm) -> Readiness:
        """Whether the real VM is where `vm.phase` leads (up, stopped, gone)."""
        ...

    def usage(self, vm: Vm) -> VmUsage: ...

    def close(self) -> None:
        """Stop background work; real VMs keep running."""
        ...


class PhantomBackend:
    """VMs that exist only as rows: nothing runs, nothing answers at their addresses. Their CPU
    use is what `simulate_load` says (for auto-control demos without real VMs)."""

    name = "phantom"
    real = False

    def __init__(self) -> None:
        self._simulated_cpu: dict[str, float] = {}

    def simulate_load(self, vm_ids: Sequence[str], cpu_percent: float) -> None:
        for vm_id in vm_ids:
            self._simulated_cpu[vm_id] = cpu_percent

    def restore(self, vms: Sequence[tuple[Vm, str]], wait: bool) -> None:
        pass

    def on_phase(self, vm: Vm, public_key: str) -> None:
        pass

    def readiness(self, vm: Vm) -> Readiness:
        return Readiness.READY

    def usage(self, vm: Vm) -> VmUsage:
        return VmUsage(self._simulated_cpu.get(vm.id, 0.0), 0.0, 0.0, 0, 0, time.time())

    def close(self) -> None:
        pass


P = Phase

BOOT_PHASES = frozenset({P.CREATING, P.RESUMING, P.REBOOTING})
"""Phases at whose end a VM runs: a real backend boots it when they begin."""

_DURATION_OF: dict[Phase, str] = {
    P.CREATING: "boot_s",
    P.SUSPENDING: "stop_s",
    P.RESUMING: "start_s",
    P.REBOOTING: "reboot_s",
    P.TERMINATING: "terminate_s",
}
"""Transitional phases and the timing that says how long each lasts."""

_AFTER: dict[Phase, Phase] = {
    P.CREATING: P.RUNNING,
    P.SUSPENDING: P.SUSPENDED,
    P.RESUMING: P.RUNNING,
    P.REBOOTING: P.RUNNING,
    P.TERMINATING: P.TERMINATED,
}


@dataclass(frozen=True)
class _Action:
    allowed_from: frozenset[Phase]
    enters: Phase
    no_op_in: frozenset[Phase]  # already under way or done: answer the VM as it is


def _action(allowed_from: set[Phase], enters: Phase, no_op_in: set[Phase]) -> _Action:
    return _Action(frozenset(allowed_from), enters, frozenset(no_op_in))


ACTIONS: dict[str, _Action] = {
    "suspend": _action({P.RUNNING}, P.SUSPENDING, {P.SUSPENDING, P.SUSPENDED}),
    "resume": _action({P.SUSPENDED}, P.RESUMING, {P.RESUMING, P.RUNNING}),
    "reboot": _action({P.RUNNING}, P.REBOOTING, {P.REBOOTING}),
    "terminate": _action(
        set(Phase) - {P.TERMINATING, P.TERMINATED}, P.TERMINATING, {P.TERMINATING, P.TERMINATED}
    ),
}


class Engine:
    def __init__(
        self,
        store: Store,
        faults: Faults,
        backend: VmBackend,
        time_scale: float,
        clock: Callable[[], float],
    ) -> None:
        self._store = store
        self._faults = faults
        self.backend = backend
        self.time_scale = time_scale
        self._clock = clock

    # timings

    def timings(self, flavor: str) -> Timings:
        """Phase durations of `flavor` now: overrides for it, then for "*", then scaled."""
        overrides = {o.flavor: o for o in self._store.timings()}
        scaled = FLAVORS[flavor].timings
        values: dict[str, float] = {}
        for name in _DURATION_OF.values():
            chosen = [getattr(overrides[f], name) for f in (flavor, ANY) if f in overrides]
            given = next((v for v in chosen if v is not None), None)
            default = round(getattr(scaled, name) * self.time_scale, 6)
            values[name] = given if given is not None else default
        return Timings(**values)

    def override_timings(self, body: TimingBody) -> None:
        """Merge absolute durations into the flavor's overrides (None keeps what was there)."""
        if body.flavor != ANY and body.flavor not in FLAVORS:
            raise invalid(f"unknown flavor {body.flavor!r}; known: {', '.join(FLAVORS)}")
        current = next((o for o in self._store.timings() if o.flavor == body.flavor), None)
        given = {k: v for k, v in body.model_dump().items() if v is not None}
        self._store.put_timing(dataclasses.replace(current or TimingOverride(body.flavor), **given))

    # reading VMs

    def native(self, vm: Vm) -> str | None:
        """The VM's native status now; None when its cloud no longer knows it."""
        elapsed = self._clock() - vm.phase_started
        progress = min(max(elapsed / vm.phase_duration, 0.0), 1.0) if vm.phase_duration else 0.0
        return native_status(FLAVORS[vm.flavor], vm.phase, progress, vm.from_phase)

    def failure_reason(self, vm: Vm) -> str | None:
        return FLAVORS[vm.flavor].failure_reason if vm.phase is P.FAILED else None

    def vm(self, flavor: str, region: str, vm_id: str) -> Vm:
        """The settled VM; NotFound when it does not exist or is gone."""
        vm = self._store.vm(flavor, region, vm_id)
        if vm is None or self._gone(self.settle(vm)):
            raise not_found(f"VM {vm_id} not found in {flavor} {region}")
        return vm

    def vms(self, tags: dict[str, str] | None, flavor: str = "", region: str = "") -> list[Vm]:
        """Settled, listable VMs of one flavor and region (all when not given) with `tags`."""
        columns = {"flavor": flavor, "region": region} if flavor else {}
        keeps = not flavor or FLAVORS[flavor].keeps_terminated
        found = self._store.vms(columns, tags, with_terminated=keeps)
        return [vm for vm in found if not self._gone(self.settle(vm))]

    def settle(self, vm: Vm) -> Vm:
        """Advance every phase of `vm` whose deadline has passed and whose backend is ready
        (persisting each step)."""
        now = self._clock()
        while vm.phase in _AFTER and vm.phase_deadline <= now:
            after = self._next_phase(vm)
            if after is None:
                break
            self._enter(vm, after, vm.phase_deadline)
        return vm

    def settle_all(self) -> None:
        for vm in self._store.vms_due(_AFTER, self._clock()):
            self.settle(vm)

    def restore_backend(self) -> None:
        """Hand the backend every VM the state holds (at start-up): it adopts the real VMs
        still running and starts, stops or destroys the others to match."""
        vms = self._store.vms({}, None, with_terminated=False)
        self.backend.restore([(vm, self._public_key(vm)) for vm in vms], wait=False)

    # changing VMs

    def create_vm(self, flavor: str, region: str, body: VmBody) -> tuple[Vm, bool]:
        """Create a VM, or return the one `body.client_token` made before; True when new."""
        if body.client_token:
            existing = self._store.vm_by_token(flavor, region, body.client_token)
            if existing is not None:
                return self._same_request(existing, body), False
        self._faults.refuse("create", flavor, region)
        subnet = self._check_references(flavor, region, body)
        now = self._clock()
        quota = self._faults.setting(flavor, region).quota
        if quota is not None and self._store.count_live_vms(flavor, region, now) >= quota:
            raise quota_exceeded(f"quota of {quota} VMs in {flavor} {region} is used up")
        vm = Vm(
            id=new_id("vm"),
            flavor=flavor,
            region=region,
            name=body.name,
            spec=body.spec,
            image=body.image,
            vnet_id=body.vnet_id,
            subnet_id=body.subnet_id,
            security_group_ids=body.security_group_ids,
            key_name=body.key_name,
            client_token=body.client_token,
            tags=body.tags,
            phase=P.CREATING,
            from_phase=None,
            phase_started=now,
            phase_duration=self._duration(flavor, P.CREATING),
            fails_at_boot=self._faults.boot_fails(flavor, region),
            public_ip=self._public_ip(flavor, region, now),
            private_ip=self._private_ip(subnet, now),
            created_at=now,
        )
        self._store.add_vm(vm)
        self.backend.on_phase(vm, self._public_key(vm))
        return vm, True

    def act(self, flavor: str, region: str, vm_id: str, action: str) -> Vm:
        """Start suspend, resume, reboot or terminate; a retry of one under way is a no-op."""
        rule = ACTIONS[action]
        vm = self.vm(flavor, region, vm_id)
        if vm.phase in rule.no_op_in:
            return vm
        self._faults.refuse(action, flavor, region)
        if vm.phase not in rule.allowed_from:
            raise incorrect_state(
                f"cannot {action} VM {vm_id}: it is {vm.phase} ({self.native(vm)})"
            )
        self._enter(vm, rule.enters, self._clock())
        return vm

    # internals

    def _gone(self, vm: Vm) -> bool:
        return vm.phase is P.TERMINATED and not FLAVORS[vm.flavor].keeps_terminated

    def _duration(self, flavor: str, phase: Phase) -> float:
        name = _DURATION_OF.get(phase)
        return 0.0 if name is None else float(getattr(self.timings(flavor), name))

    def _next_phase(self, vm: Vm) -> Phase | None:
        """Where `vm` goes at the end of its phase; None while its backend is not there yet."""
        if vm.phase is P.CREATING and vm.fails_at_boot:
            return P.FAILED
        readiness = self.backend.readiness(vm)
        if readiness is Readiness.PENDING:
            return None
        if readiness is Readiness.BROKEN and vm.phase in BOOT_PHASES:
            return P.FAILED
        return _AFTER[vm.phase]

    def _enter(self, vm: Vm, phase: Phase, at: float) -> None:
        vm.from_phase, vm.phase = vm.phase, phase
        vm.phase_started, vm.phase_duration = at, self._duration(vm.flavor, phase)
        if phase is P.TERMINATED:
            vm.public_ip = vm.private_ip = None
        self._store.save_vm_phase(vm)
        self.backend.on_phase(vm, self._public_key(vm))

    def _public_key(self, vm: Vm) -> str:
        key = self._store.key_pair(vm.flavor, vm.region, vm.key_name)
        return "" if key is None else key.public_key

    def _same_request(self, vm: Vm, body: VmBody) -> Vm:
        """The VM an earlier create with the same token made, if that create asked the same."""
        asked = (body.name, body.spec, body.image)
        if (vm.name, vm.spec, vm.image) != asked:
            raise conflict(
                f"client token {body.client_token!r} already created VM {vm.id} "
                f"({vm.name}, {vm.spec}, {vm.image}) with other parameters"
            )
        if self._gone(self.settle(vm)):
            raise not_found(
                f"VM {vm.id} created with client token {body.client_token!r} "
                "was terminated and no longer exists"
            )
        return vm

    def _check_references(self, flavor: str, region: str, body: VmBody) -> Subnet:
        """Check everything the VM names exists where it must; return its subnet."""
        cloud, where = FLAVORS[flavor], f"{flavor} {region}"
        if cloud.spec(body.spec) is None:
            raise invalid(f"spec {body.spec!r} does not exist in {where}")
        if cloud.image(body.image) is None:
            raise invalid(f"image {body.image!r} does not exist in {where}")
        vnet = self._store.vnet(flavor, region, body.vnet_id)
        if vnet is None:
            raise invalid(f"vnet {body.vnet_id!r} does not exist in {where}")
        subnet = next((s for s in vnet.subnets if s["id"] == body.subnet_id), None)
        if subnet is None:
            raise invalid(f"subnet {body.subnet_id!r} is not a subnet of vnet {vnet.id}")
        for group_id in body.security_group_ids:
            group = self._store.security_group(flavor, region, group_id)
            if group is None or group.vnet_id != vnet.id:
                raise invalid(f"security group {group_id!r} does not exist in vnet {vnet.id}")
        if self._store.key_pair(flavor, region, body.key_name) is None:
            raise invalid(f"key pair {body.key_name!r} does not exist in {where}")
        return subnet

    def _public_ip(self, flavor: str, region: str, now: float) -> str:
        used = self._store.public_ips_in_use(flavor, region, now)
        index = REGION_INDEX[(flavor, region)]
        prefixes = (PUBLIC_PREFIX,) if self.backend.real else (PHANTOM_PREFIX, *PHANTOM_OVERFLOW)
        for prefix in prefixes:
            for host in range(1, 255):
                address = f"{prefix}.{index}.{host}"
                if address not in used:
                    return address
        raise quota_exceeded(f"no public address left in {flavor} {region}")

    def _private_ip(self, subnet: Subnet, now: float) -> str:
        used = self._store.private_ips_in_use(subnet["id"], now)
        hosts = ipaddress.IPv4Network(subnet["cidr"]).hosts()
        free = (str(h) for h in itertools.islice(hosts, RESERVED_SUBNET_HOSTS, None))
        address = next((h for h in free if h not in used), None)
        if address is None:
            raise quota_exceeded(f"subnet {subnet['id']} ({subnet['cidr']}) has no free address")
        return address
