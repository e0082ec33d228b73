"""The cloud's network on this host: one bridge holding 10.250.0.1/16, a blackhole route so a
packet for a VM address can never leave the machine once the bridge is gone, FORWARD rules that
keep VM traffic on the bridge; per VM a network namespace joined to the bridge by a veth pair
(`eth0` inside, with the VM's public address), and no default route, so VMs reach only the
bridge. The delay of traffic between regions is an NFQUEUE rule in each namespace (nfqueue.py).
"""

from __future__ import annotations

import json
import os
import socket
import time
from collections.abc import Callable
from pathlib import Path

from localcloud.engine import PUBLIC_PREFIX
from localcloud.netns.layout import BRIDGE
from localcloud.netns.proc import run

CLOUD_RANGE = f"{PUBLIC_PREFIX}.0.0/16"
GATEWAY = f"{PUBLIC_PREFIX}.0.1"
BLACKHOLE_METRIC = 4000
"""Above the bridge's own route (metric 0): the blackhole wins only when the bridge is gone."""
CHAIN = "MCIS-LOCALCLOUD"
QUEUE_NUM = 0
NETNS_DIR = Path("/run/netns")


class NetworkError(RuntimeError):
    pass


def setup_host() -> None:
    """Blackhole route, bridge, FORWARD rules (idempotent; the route stays when we stop)."""
    run(["ip", "route", "replace", "blackhole", CLOUD_RANGE, "metric", str(BLACKHOLE_METRIC)])
    if BRIDGE not in links():
        run(["ip", "link", "add", BRIDGE, "type", "bridge"], check=False)  # may race another run
    run(["ip", "addr", "replace", f"{GATEWAY}/16", "dev", BRIDGE])
    run(["ip", "link", "set", BRIDGE, "up"])
    rules = (
        f"*filter\n:{CHAIN} - [0:0]\n-F {CHAIN}\n"
        f"-A {CHAIN} -i {BRIDGE} -o {BRIDGE} -j ACCEPT\n"
        f"-A {CHAIN} -i {BRIDGE} -j DROP\n-A {CHAIN} -o {BRIDGE} -j DROP\nCOMMIT\n"
    )
    run(["iptables-restore", "-w", "--noflush"], stdin=rules)
    if f"-A FORWARD -j {CHAIN}" not in run(["iptables", "-w", "-S", "FORWARD"]).splitlines():
        run(["iptables", "-w", "-I", "FORWARD", "1", "-j", CHAIN])


def routes_to_bridge(address: str) -> bool:
    """Whether this host sends packets for `address` into the bridge (and the bridge is up)."""
    bridge = json.loads(run(["ip", "-j", "link", "show", "dev", BRIDGE], check=False) or "[]")
    route = json.loads(run(["ip", "-j", "route", "get", address], check=False) or "[]")
    up = bool(bridge) and "UP" in bridge[0].get("flags", [])
    return up and bool(route) and route[0].get("dev") == BRIDGE


def create_vm_net(key: str, veth: str, address: str, delayed: bool) -> None:
    """The VM's namespace (named `key`) with `eth0` at `address` on the bridge, unless it is
    there; its traffic to other VMs queued for the latency daemon when `delayed`. A half-made
    one (left by a crash midway) is made again."""
    if (NETNS_DIR / key).exists() and veth in links():
        return
    delete_vm_net(key, veth)
    host = (
        f"netns add {key}\n"
        f"link add {veth} type veth peer name eth0 netns {key}\n"
        f"link set {veth} alias {key}\nlink set {veth} master {BRIDGE}\nlink set {veth} up\n"
    )
    run(["ip", "-batch", "-"], stdin=host)
    inside = f"link set lo up\naddr add {address}/16 dev eth0\nlink set eth0 up\n"
    run(["ip", "-n", key, "-batch", "-"], stdin=inside)
    if delayed:
        rules = (
            f"*mangle\n-A POSTROUTING -o eth0 -d {GATEWAY} -j RETURN\n"
            f"-A POSTROUTING -o eth0 -d {CLOUD_RANGE} -j NFQUEUE --queue-num {QUEUE_NUM}"
            " --queue-bypass\nCOMMIT\n"
        )
        run(["ip", "netns", "exec", key, "iptables-restore", "-w"], stdin=rules)


def delete_vm_net(key: str, veth: str) -> None:
    """Remove the namespace (and with it both veth ends) and the host end if it was left."""
    if (NETNS_DIR / key).exists():
        run(["ip", "netns", "del", key], check=False)
    if veth in links():
        run(["ip", "link", "del", veth], check=False)


def namespaces() -> list[str]:
    try:
        return sorted(os.listdir(NETNS_DIR))
    except FileNotFoundError:
        return []


def veth_aliases() -> dict[str, str]:
    """Host-side veth links by their alias (the VM key for ours)."""
    links = json.loads(run(["ip", "-j", "link", "show", "type", "veth"]) or "[]")
    return {link["ifalias"]: link["ifname"] for link in links if link.get("ifalias")}


def links() -> dict[str, tuple[int, int]]:
    """Every link of this host's network namespace, with its (received, sent) bytes. Read from
    /proc/net/dev, which follows the reader's namespace (/sys may show another one's)."""
    found = {}
    for line in Path("/proc/net/dev").read_text().splitlines()[2:]:
        name, _, counters = line.partition(":")
        fields = counters.split()
        found[name.strip()] = (int(fields[0]), int(fields[8]))
    return found


def traffic(veth: str) -> tuple[int, int]:
    """Bytes (received, sent) by the VM behind host-side `veth` (0, 0 when it is gone)."""
    host_received, host_sent = links().get(veth, (0, 0))
    return host_sent, host_received


def wait_listening(address: str, port: int, timeout: float, alive: Callable[[], bool]) -> None:
    """Return once something accepts TCP connections at `address`:`port`; NetworkError when
    the bridge does not lead there, `alive()` turns false or `timeout` passes."""
    if not routes_to_bridge(address):
        raise NetworkError(f"{address} is not routed into bridge {BRIDGE} (is it up?)")
    deadline = time.monotonic() + timeout
    while True:
        try:
            socket.create_connection((address, port), timeout=0.5).close()
            return
        except OSError as exc:
            if not alive():
                raise NetworkError(f"the VM exited before {address}:{port} listened") from exc
            if time.monotonic() > deadline:
                raise NetworkError(f"nothing listens at {address}:{port} after {timeout}s") from exc
        time.sleep(0.01)
