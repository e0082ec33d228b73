"""VM lifecycle of the local cloud, with lazy, time-based transitions.

A VM row holds its phase, when that phase started and how long it lasts. Reading a VM settles
it: every phase whose deadline has passed is advanced (each next phase starting at the previous
deadline) and persisted, so state is right after a restart without any ticker. Phase durations
are the flavor's timings times the time scale, unless overridden at run time with absolute
seconds. Boot failures are decided at create time.

Batches: `create_vms` and `act_on_vms` do what `create_vm` and `act` do (those are batches of
one) for many VMs of one region in one request, each VM on its own: a VM refused (its client
token's earlier VM asked otherwise, a refusal's dice, a quota, a bad reference, an incorrect
state) is that VM's error, the others go on. What a request would read per VM (timings, fault
settings, public keys, references, addresses in use, the live count) it reads once.

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
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol

from localcloud.errors import (
    ApiError,
    conflict,
    incorrect_state,
    invalid,
    not_found,
    quota_exceeded,
)
from localcloud.faults import ANY, Faults
from localcloud.flavors import FLAVORS, REGION_INDEX, Phase, Timings, native_status
from localcloud.schemas import TimingBody, VmBody
from localcloud.state import CloudState, FaultSetting, Subnet, TimingOverride, Vm, new_id

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


class _Reads:
    """What one request reads at most once however many VMs it touches: each flavor's timings
    and each key pair's public key (neither changes while a request runs)."""

    def __init__(self, store: CloudState, timings: Callable[[str], Timings]) -> None:
        self._store = store
        self._read_timings = timings
        self._timings: dict[str, Timings] = {}
        self._keys: dict[tuple[str, str, str], str] = {}

    def duration(self, flavor: str, phase: Phase) -> float:
        name = _DURATION_OF.get(phase)
        if name is None:
            return 0.0
        timings = self._timings.get(flavor)
        if timings is None:
            timings = self._timings[flavor] = self._read_timings(flavor)
        return float(getattr(timings, name))

    def public_key(self, vm: Vm) -> str:
        where = (vm.flavor, vm.region, vm.key_name)
        if where not in self._keys:
            key = self._store.key_pair(*where)
            self._keys[where] = "" if key is None else key.public_key
        return self._keys[where]


@dataclass
class _Addresses:
    """The free addresses of a range, first ones first. Within one request nothing is freed, so
    one pass over the range serves every VM it creates."""

    candidates: Iterator[str]
    used: set[str]
    returned: list[str] = field(default_factory=list)

    def take(self) -> str | None:
        if self.returned:
            return self.returned.pop()
        for address in self.candidates:
            if address not in self.used:
                self.used.add(address)
                return address
        return None

    def give_back(self, address: str) -> None:
        """An address taken for a VM that was not created after all."""
        self.returned.append(address)


_References = tuple[str, str, str, str, tuple[str, ...], str]
"""What a create body names: spec, image, vNet, subnet, security groups, key pair."""


@dataclass
class _Creation:
    """Creating VMs in one region during one request: what it read once, and what the VMs it
    made so far changed (tokens used, addresses taken, the live count)."""

    flavor: str
    region: str
    now: float
    reads: _Reads
    setting: FaultSetting
    by_token: dict[str, Vm]
    """The VMs of the request's client tokens (read up front, then each one it made)."""
    live: int | None = None  # live VMs of the region, counted once a quota needs it
    subnets: dict[_References, Subnet] = field(default_factory=dict)  # references checked
    public: _Addresses | None = None
    private: dict[str, _Addresses] = field(default_factory=dict)  # by subnet id


class Engine:
    def __init__(
        self,
        store: CloudState,
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
        return self._found(self._store.vm(flavor, region, vm_id), flavor, region, vm_id)

    def vms(self, tags: dict[str, str] | None, flavor: str = "", region: str = "") -> list[Vm]:
        """Settled, listable VMs of one flavor and region (all when not given) with `tags`."""
        columns = {"flavor": flavor, "region": region} if flavor else {}
        keeps = not flavor or FLAVORS[flavor].keeps_terminated
        found = self._store.vms(columns, tags, with_terminated=keeps)
        reads = self._reads()
        return [vm for vm in found if not self._gone(self.settle(vm, reads))]

    def settle(self, vm: Vm, reads: _Reads | None = None) -> Vm:
        """Advance every phase of `vm` whose deadline has passed and whose backend is ready
        (persisting each step)."""
        now = self._clock()
        while vm.phase in _AFTER and vm.phase_deadline <= now:
            after = self._next_phase(vm)
            if after is None:
                break
            self._enter(vm, after, vm.phase_deadline, reads)
        return vm

    def settle_all(self) -> None:
        reads = self._reads()
        for vm in self._store.vms_due(_AFTER, self._clock()):
            self.settle(vm, reads)

    def restore_backend(self) -> None:
        """Hand the backend every VM the state holds (at start-up): it adopts the real VMs
        still running and starts, stops or destroys the others to match."""
        vms = self._store.vms({}, None, with_terminated=False)
        reads = self._reads()
        self.backend.restore([(vm, reads.public_key(vm)) for vm in vms], wait=False)

    # changing VMs

    def create_vm(self, flavor: str, region: str, body: VmBody) -> tuple[Vm, bool]:
        """Create a VM, or return the one `body.client_token` made before; True when new."""
        return self._create(self._creation(flavor, region, [body]), body)

    def create_vms(
        self, flavor: str, region: str, bodies: Sequence[VmBody]
    ) -> list[tuple[Vm, bool] | ApiError]:
        """What `create_vm` answers for each body, in order, the VMs made one after another
        (a token repeated in `bodies` returns the VM its first use made); a VM refused is its
        error, the others go on."""
        creation = self._creation(flavor, region, bodies)
        results: list[tuple[Vm, bool] | ApiError] = []
        for body in bodies:
            try:
                results.append(self._create(creation, body))
            except ApiError as refused:
                results.append(refused)
        return results

    def act(self, flavor: str, region: str, vm_id: str, action: str) -> Vm:
        """Start suspend, resume, reboot or terminate; a retry of one under way is a no-op."""
        found = self._store.vm(flavor, region, vm_id)
        return self._act(found, flavor, region, vm_id, action, self._reads())

    def act_on_vms(
        self, flavor: str, region: str, action: str, vm_ids: Sequence[str]
    ) -> list[Vm | ApiError | None]:
        """What `act` answers for each id, in order; a VM refused (NotFound, IncorrectState,
        a refusal) is its error, the others go on. A terminated VM is read again right after:
        None when its cloud no longer knows it."""
        reads = self._reads()
        found = {vm.id: vm for vm in self._store.vms_by_ids(flavor, region, vm_ids)}
        results: list[Vm | ApiError | None] = []
        for vm_id in vm_ids:
            try:
                vm = self._act(found.get(vm_id), flavor, region, vm_id, action, reads)
            except ApiError as refused:
                results.append(refused)
                continue
            gone = action == "terminate" and self._gone(self.settle(vm, reads))
            results.append(None if gone else vm)
        return results

    # internals

    def _gone(self, vm: Vm) -> bool:
        return vm.phase is P.TERMINATED and not FLAVORS[vm.flavor].keeps_terminated

    def _reads(self) -> _Reads:
        return _Reads(self._store, self.timings)

    def _found(
        self, vm: Vm | None, flavor: str, region: str, vm_id: str, reads: _Reads | None = None
    ) -> Vm:
        """`vm` (as read by id) settled; NotFound when it does not exist or is gone."""
        if vm is None or self._gone(self.settle(vm, reads)):
            raise not_found(f"VM {vm_id} not found in {flavor} {region}")
        return vm

    def _act(
        self, vm: Vm | None, flavor: str, region: str, vm_id: str, action: str, reads: _Reads
    ) -> Vm:
        rule = ACTIONS[action]
        vm = self._found(vm, flavor, region, vm_id, reads)
        if vm.phase in rule.no_op_in:
            return vm
        self._faults.refuse(action, flavor, region)
        if vm.phase not in rule.allowed_from:
            raise incorrect_state(
                f"cannot {action} VM {vm_id}: it is {vm.phase} ({self.native(vm)})"
            )
        self._enter(vm, rule.enters, self._clock(), reads)
        return vm

    def _creation(self, flavor: str, region: str, bodies: Sequence[VmBody]) -> _Creation:
        tokens = [body.client_token for body in bodies if body.client_token]
        found = self._store.vms_by_tokens(flavor, region, tokens) if tokens else []
        return _Creation(
            flavor=flavor,
            region=region,
            now=self._clock(),
            reads=self._reads(),
            setting=self._faults.setting(flavor, region),
            by_token={vm.client_token: vm for vm in found},
        )

    def _create(self, c: _Creation, body: VmBody) -> tuple[Vm, bool]:
        """One VM of a creation: the one its token made before (False), or a new one (True)."""
        flavor, region = c.flavor, c.region
        if body.client_token:
            existing = c.by_token.get(body.client_token)
            if existing is not None:
                return self._same_request(existing, body, c.reads), False
        self._faults.refuse("create", flavor, region)
        subnet = self._checked_references(c, body)
        quota = c.setting.quota
        if quota is not None:
            if c.live is None:
                c.live = self._store.count_live_vms(flavor, region, c.now)
            if c.live >= quota:
                raise quota_exceeded(f"quota of {quota} VMs in {flavor} {region} is used up")
        fails_at_boot = self._faults.boot_fails(flavor, region, c.setting)
        public_ip = self._public_ip(c)
        try:
            private_ip = self._private_ip(c, subnet)
        except ApiError:
            self._public_addresses(c).give_back(public_ip)
            raise
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
            phase_started=c.now,
            phase_duration=c.reads.duration(flavor, P.CREATING),
            fails_at_boot=fails_at_boot,
            public_ip=public_ip,
            private_ip=private_ip,
            created_at=c.now,
        )
        self._store.add_vm(vm)
        if body.client_token:
            c.by_token[body.client_token] = vm
        if c.live is not None:
            c.live += 1
        self.backend.on_phase(vm, c.reads.public_key(vm))
        return vm, True

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

    def _enter(self, vm: Vm, phase: Phase, at: float, reads: _Reads | None = None) -> None:
        reads = reads or self._reads()
        vm.from_phase, vm.phase = vm.phase, phase
        vm.phase_started, vm.phase_duration = at, reads.duration(vm.flavor, phase)
        if phase is P.TERMINATED:
            vm.public_ip = vm.private_ip = None
        self._store.save_vm_phase(vm)
        self.backend.on_phase(vm, reads.public_key(vm))

    def _same_request(self, vm: Vm, body: VmBody, reads: _Reads) -> Vm:
        """The VM an earlier create with the same token made, if that create asked the same."""
        asked = (body.name, body.spec, body.image)
        if (vm.name, vm.spec, vm.image) != asked:
            raise conflict(
                f"client token {body.client_token!r} already created VM {vm.id} "
                f"({vm.name}, {vm.spec}, {vm.image}) with other parameters"
            )
        if self._gone(self.settle(vm, reads)):
            raise not_found(
                f"VM {vm.id} created with client token {body.client_token!r} "
                "was terminated and no longer exists"
            )
        return vm

    def _checked_references(self, c: _Creation, body: VmBody) -> Subnet:
        """`_check_references` once per distinct set of references in a creation."""
        key = (
            body.spec,
            body.image,
            body.vnet_id,
            body.subnet_id,
            tuple(body.security_group_ids),
            body.key_name,
        )
        subnet = c.subnets.get(key)
        if subnet is None:
            subnet = c.subnets[key] = self._check_references(c.flavor, c.region, body)
        return subnet

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

    def _public_addresses(self, c: _Creation) -> _Addresses:
        if c.public is None:
            index = REGION_INDEX[(c.flavor, c.region)]
            real = self.backend.real
            prefixes = (PUBLIC_PREFIX,) if real else (PHANTOM_PREFIX, *PHANTOM_OVERFLOW)
            candidates = (f"{p}.{index}.{host}" for p in prefixes for host in range(1, 255))
            used = self._store.public_ips_in_use(c.flavor, c.region, c.now)
            c.public = _Addresses(candidates, used)
        return c.public

    def _public_ip(self, c: _Creation) -> str:
        address = self._public_addresses(c).take()
        if address is None:
            raise quota_exceeded(f"no public address left in {c.flavor} {c.region}")
        return address

    def _private_ip(self, c: _Creation, subnet: Subnet) -> str:
        addresses = c.private.get(subnet["id"])
        if addresses is None:
            hosts = ipaddress.IPv4Network(subnet["cidr"]).hosts()
            free = (str(h) for h in itertools.islice(hosts, RESERVED_SUBNET_HOSTS, None))
            used = self._store.private_ips_in_use(subnet["id"], c.now)
            addresses = c.private[subnet["id"]] = _Addresses(free, used)
        address = addresses.take()
        if address is None:
            raise quota_exceeded(f"subnet {subnet['id']} ({subnet['cidr']}) has no free address")
        return address
