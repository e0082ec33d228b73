"""Which backend runs, chosen at start-up: phantom when asked for; netns when asked for or
(auto) when it can run here: root, the commands, the cloud's address range free (a machine-wide
lock held by the local cloud running real VMs, and no VMs of a stopped one left on the range),
a network namespace can be made. Latency is injected by NFQUEUE when that works in a namespace.
"""

from __future__ import annotations

import fcntl
import logging
import os
import shutil
from dataclasses import dataclass

from localcloud.engine import PUBLIC_PREFIX, REGION_STRIDE, PhantomBackend, VmBackend
from localcloud.netns import network
from localcloud.netns.backend import NetnsBackend
from localcloud.netns.cgroups import Cgroups
from localcloud.netns.doctor import unavailable
from localcloud.netns.latency import LinkDelays
from localcloud.netns.layout import BRIDGE, MACHINE_DIR, Layout, cloud_db, parse_key
from localcloud.netns.nfqueue import LatencyDaemon, Queue
from localcloud.netns.proc import CLEAN_ENV, CommandError, run

log = logging.getLogger("localcloud.netns")

BACKENDS = ("auto", "netns", "phantom")
DEFAULT_CORES_PER_VCPU = 0.25
"""One vCPU gets a quarter of a host core, so specs differ measurably on a small machine."""
TOOLS = ("ip", "iptables", "iptables-restore", "unshare", "mount", "pivot_root", "sh", "sshd")


class BackendUnavailable(RuntimeError):
    pass


@dataclass(frozen=True)
class Probe:
    problem: str | None
    """Why real VMs cannot run here; None when they can."""
    delays: str | None = None
    """Why latency cannot be injected here; None when it can (by NFQUEUE)."""
    range_lock: int = -1
    """When they can: the open file whose lock reserves the address range for this process."""


def missing_requirements() -> str | None:
    """What this machine lacks for real VMs before anything is tried (root, commands)."""
    reason = unavailable()
    if reason is not None:
        return reason
    missing = [tool for tool in TOOLS if shutil.which(tool, path=CLEAN_ENV["PATH"]) is None]
    if missing:
        return f"missing commands: {', '.join(missing)} (openssh-server, iproute2, iptables)"
    return None


def _claim_range(layout: Layout) -> int | str:
    """Lock the address range machine-wide for as long as this process runs: the lock file's
    descriptor, or why not (another running local cloud with real VMs holds it)."""
    MACHINE_DIR.mkdir(parents=True, exist_ok=True)
    fd = os.open(MACHINE_DIR / "netns.lock", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.read(fd, 4096).decode().strip()
        os.close(fd)
        return f"the local cloud over {holder} runs real VMs on {network.CLOUD_RANGE}"
    os.ftruncate(fd, 0)
    os.write(fd, f"{layout.db}\n".encode())
    return fd


def _range_used(layout: Layout) -> str | None:
    """Whose VMs (of a local cloud not running now) are on the address range."""
    for name in network.namespaces():
        parsed = parse_key(name)
        holder = None if parsed is None or parsed[0] == layout.tag else cloud_db(parsed[0])
        if holder is not None and holder.exists():
            return (
                f"VMs of the local cloud over {holder} use {network.CLOUD_RANGE} (run that "
                "cloud and reset it, or delete its database and `mcis localcloud doctor --clean`)"
            )
    return None


def _delays_problem(layout: Layout) -> str | None:
    """Why NFQUEUE does not work in a network namespace here; CommandError when no namespace
    can be made."""
    key = layout.key("vm-" + "0" * 16)  # shaped like a VM's, so the doctor finds it if left
    run(["ip", "netns", "add", key])
    try:
        rule = "*mangle\n-A POSTROUTING -o lo -j NFQUEUE --queue-num 0 --queue-bypass\nCOMMIT\n"
        run(["ip", "netns", "exec", key, "iptables-restore", "-w"], stdin=rule)
        Queue(network.NETNS_DIR / key).close()
    except (CommandError, OSError) as exc:
        return f"no NFQUEUE here ({exc}); the kernel has no netem either"
    finally:
        run(["ip", "netns", "del", key], check=False)
    return None


def probe(layout: Layout) -> Probe:
    """Whether real VMs can run here: root, the commands, the address range free (no other
    local cloud with real VMs runs, nor are VMs of a stopped one left), a network namespace
    can be made; and whether NFQUEUE works in one."""
    reason = missing_requirements()
    if reason is not None:
        return Probe(reason)
    lock = _claim_range(layout)
    if isinstance(lock, str):
        return Probe(lock)
    try:
        reason = _range_used(layout)
        if reason is None:
            return Probe(None, _delays_problem(layout), lock)
    except CommandError as exc:
        reason = f"cannot make a network namespace: {exc}"
    os.close(lock)
    return Probe(reason)


def open_netns(
    layout: Layout, rtt: LinkDelays, cores_per_vcpu: float, found: Probe
) -> NetnsBackend:
    """The host network set up, the backend made; logs what it runs with."""
    network.setup_host()
    layout.register()
    cgroups = Cgroups.here()
    try:
        if cgroups is not None:
            cgroups.prepare()
    except OSError as exc:
        log.warning("cgroups cannot be used (%s): VMs run without CPU and memory caps", exc)
        cgroups = None
    delays = None
    if found.delays is None:
        table = rtt.one_way_ms_by_index()
        delays = LatencyDaemon(layout, table, PUBLIC_PREFIX, REGION_STRIDE)
    else:
        log.warning("latency between regions is not injected: %s", found.delays)
    log.info(
        "netns VMs: bridge %s, VM files in %s, cgroups %s, latency %s",
        BRIDGE,
        layout.vms_dir,
        "none" if cgroups is None else cgroups.kind,
        "by NFQUEUE" if delays is not None else "none",
    )
    return NetnsBackend(layout, cgroups, delays, cores_per_vcpu, found.range_lock)


def choose_backend(
    mode: str, db: str, rtt: LinkDelays, cores_per_vcpu: float = DEFAULT_CORES_PER_VCPU
) -> tuple[VmBackend, str]:
    """The backend `mode` (auto, netns or phantom) gives here, and why.
    BackendUnavailable when netns is asked for and cannot run."""
    if mode == "phantom":
        return PhantomBackend(), "asked for"
    layout = Layout.of(db)
    found = probe(layout)
    problem = found.problem
    if problem is None:
        try:
            backend = open_netns(layout, rtt, cores_per_vcpu, found)
        except (CommandError, OSError) as exc:
            os.close(found.range_lock)
            problem = f"the host network cannot be set up: {exc}"
        else:
            return (
                backend,
                "asked for" if mode == "netns" else "root, the commands and a namespace work",
            )
    if mode == "netns":
        raise BackendUnavailable(f"real VMs cannot run here: {problem}")
    return PhantomBackend(), f"real VMs cannot run here: {problem}"
