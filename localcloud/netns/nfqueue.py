"""Latency between regions without netem: a daemon that holds each packet a VM sends to
another VM for half the RTT between their regions, then lets it go.

Every VM namespace has an iptables rule `mangle POSTROUTING -o eth0 -d 10.250.0.0/16
-j NFQUEUE --queue-num 0 --queue-bypass` (network.py). One daemon per cloud
(`python -m localcloud.netns.nfqueue VMS_DIR TAG`, in a session of its own so it outlives the
local cloud like the VMs do) binds queue 0 in every VM namespace it finds under VMS_DIR (the
nfnetlink_queue protocol spoken directly over a netlink socket, opened inside the namespace),
reads the destination address from the first 20 bytes of each packet, and accepts the packet
once its delay is over. Source region: the VM's; destination region: the third octet of the
address modulo the region stride (engine.py). While no daemon listens, `--queue-bypass` lets
packets through undelayed; when it falls behind, the kernel accepts them (fail-open).
"""

from __future__ import annotations

import contextlib
import ctypes
import heapq
import itertools
import json
import os
import selectors
import socket
import struct
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from localcloud.netns.layout import BOUND_MARKER, DELAY_CONFIG, VM_FILE, Layout
from localcloud.netns.proc import Identity, Process

NETLINK_NETFILTER = 12
SOL_NETLINK = 270
NETLINK_NO_ENOBUFS = 5
NFNL_SUBSYS_QUEUE = 3
MSG_PACKET, MSG_VERDICT, MSG_CONFIG = 0, 1, 2
NLM_F_REQUEST, NLM_F_ACK = 0x1, 0x4
NLMSG_ERROR = 2
CFG_CMD, CFG_PARAMS, CFG_QUEUE_MAXLEN, CFG_MASK, CFG_FLAGS = 1, 2, 3, 4, 5
CMD_BIND = 1
COPY_PACKET = 2
CFG_F_FAIL_OPEN, CFG_F_GSO = 0x1, 0x4
ATTR_PACKET_HDR, ATTR_PAYLOAD = 1, 10
ATTR_VERDICT_HDR = 2
NF_ACCEPT = 1
CLONE_NEWNET = 0x40000000
COPY_BYTES = 20
"""An IPv4 header: enough to read the destination address."""
QUEUE_MAXLEN = 4096
SCAN_INTERVAL_S = 0.1
HANDLING_S = 0.0002
"""What taking a packet through this daemon costs anyway (measured): taken off each delay."""

_libc = ctypes.CDLL(None, use_errno=True)


def _setns(fd: int) -> None:
    if _libc.setns(fd, CLONE_NEWNET) != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, os.strerror(errno))


@contextlib.contextmanager
def _in_netns(path: Path) -> Iterator[None]:
    """Run the block in the network namespace at `path` (this thread only), then come back."""
    home = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
    target = os.open(path, os.O_RDONLY)
    try:
        _setns(target)
        yield
    finally:
        _setns(home)
        os.close(home)
        os.close(target)


def _attr(kind: int, payload: bytes) -> bytes:
    length = 4 + len(payload)
    return struct.pack("=HH", length, kind) + payload + b"\0" * (-length % 4)


def _message(kind: int, flags: int, queue: int, attrs: list[bytes], seq: int = 0) -> bytes:
    body = struct.pack("=BBH", socket.AF_UNSPEC, 0, socket.htons(queue)) + b"".join(attrs)
    header = struct.pack("=IHHII", 16 + len(body), (NFNL_SUBSYS_QUEUE << 8) | kind, flags, seq, 0)
    return header + body


def _attrs(data: bytes, start: int, end: int) -> dict[int, bytes]:
    found: dict[int, bytes] = {}
    offset = start
    while offset + 4 <= end:
        length, kind = struct.unpack_from("=HH", data, offset)
        if length < 4:
            break
        found[kind & 0x3FFF] = data[offset + 4 : offset + length]
        offset += (length + 3) & ~3
    return found


class Queue:
    """NFQUEUE `num` in one network namespace, bound by a netlink socket made inside it."""

    def __init__(self, netns: Path, num: int = 0) -> None:
        self.num = num
        with _in_netns(netns):
            self.sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_NETFILTER)
        try:
            self.sock.bind((0, 0))
            self.sock.setsockopt(SOL_NETLINK, NETLINK_NO_ENOBUFS, 1)
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 22)
            flags = CFG_F_FAIL_OPEN | CFG_F_GSO
            self._configure(_attr(CFG_CMD, struct.pack("!BxH", CMD_BIND, socket.AF_INET)))
            self._configure(_attr(CFG_PARAMS, struct.pack("!IB", COPY_BYTES, COPY_PACKET)))
            self._configure(_attr(CFG_QUEUE_MAXLEN, struct.pack("!I", QUEUE_MAXLEN)))
            mask = struct.pack("!I", flags)
            self._configure(_attr(CFG_MASK, mask), _attr(CFG_FLAGS, mask))
        except OSError:
            self.sock.close()
            raise
        self.sock.setblocking(False)

    def _configure(self, *attrs: bytes) -> None:
        self.sock.send(_message(MSG_CONFIG, NLM_F_REQUEST | NLM_F_ACK, self.num, list(attrs)))
        answer = self.sock.recv(4096)
        kind = struct.unpack_from("=H", answer, 4)[0]
        code = struct.unpack_from("=i", answer, 16)[0] if kind == NLMSG_ERROR else 0
        if code:
            raise OSError(-code, f"NFQUEUE {self.num} configuration: {os.strerror(-code)}")

    def packets(self) -> Iterator[tuple[int, bytes]]:
        """(packet id, first bytes) of every packet waiting for a verdict now."""
        while True:
            try:
                data = self.sock.recv(1 << 16)
            except (BlockingIOError, InterruptedError):
                return
            offset = 0
            while offset + 16 <= len(data):
                length, kind = struct.unpack_from("=IH", data, offset)
                if length < 16:
                    break
                if kind == (NFNL_SUBSYS_QUEUE << 8) | MSG_PACKET:
                    attrs = _attrs(data, offset + 20, offset + length)
                    header = attrs.get(ATTR_PACKET_HDR)
                    if header is not None:
                        yield struct.unpack_from("!I", header)[0], attrs.get(ATTR_PAYLOAD, b"")
                offset += (length + 3) & ~3

    def accept(self, packet_id: int) -> None:
        verdict = _attr(ATTR_VERDICT_HDR, struct.pack("!II", NF_ACCEPT, packet_id))
        with contextlib.suppress(OSError):  # the namespace is going away
            self.sock.send(_message(MSG_VERDICT, NLM_F_REQUEST, self.num, [verdict]))

    def close(self) -> None:
        self.sock.close()


@dataclass
class _Served:
    queue: Queue
    inode: int
    region: int


class Delayer:
    """The daemon: a queue per VM namespace, read in the main thread; packets held in a heap
    that a second thread releases on time (a condition wait is precise to microseconds,
    epoll's timeout only to milliseconds)."""

    def __init__(self, vms_dir: Path) -> None:
        self.vms_dir = vms_dir
        self.config_file = vms_dir / DELAY_CONFIG
        self.selector = selectors.DefaultSelector()
        self.served: dict[str, _Served] = {}
        self.held: list[tuple[float, int, Queue, int]] = []
        self.held_changed = threading.Condition()
        """Guards `held`; notified when its first packet changes."""
        self.order = itertools.count()
        self.config_mtime = -1.0
        self.prefix = b""
        self.stride = 1
        self.one_way_ms: list[list[float]] = []

    def _reload_config(self) -> None:
        mtime = self.config_file.stat().st_mtime
        if mtime != self.config_mtime:
            config = json.loads(self.config_file.read_text())
            self.prefix, self.stride = bytes(config["prefix"]), int(config["stride"])
            self.one_way_ms = config["one_way_ms"]
            self.config_mtime = mtime

    def scan(self) -> None:
        """Serve the namespace of every VM of ours, stop serving those gone."""
        self._reload_config()
        present: set[str] = set()
        for entry in os.scandir(self.vms_dir):
            try:
                vm = json.loads((Path(entry.path) / VM_FILE).read_text())
                inode = os.stat(f"/run/netns/{vm['key']}").st_ino
            except (OSError, ValueError, KeyError):
                continue
            present.add(entry.path)
            served = self.served.get(entry.path)
            if served is not None and served.inode == inode:
                continue
            self._forget(entry.path)
            try:
                queue = Queue(Path(f"/run/netns/{vm['key']}"))
            except OSError as exc:
                print(f"cannot serve {vm['key']}: {exc}", file=sys.stderr, flush=True)
                continue
            self.served[entry.path] = _Served(queue, inode, int(vm["region_index"]))
            self.selector.register(queue.sock, selectors.EVENT_READ, entry.path)
            (Path(entry.path) / BOUND_MARKER).write_text(f"{inode}\n")
        for path in set(self.served) - present:
            self._forget(path)

    def _forget(self, path: str) -> None:
        served = self.served.pop(path, None)
        if served is not None:
            self.selector.unregister(served.queue.sock)
            with self.held_changed:
                served.queue.close()
                self.held = [h for h in self.held if h[2] is not served.queue]
                heapq.heapify(self.held)

    def delay_s(self, source: int, header: bytes) -> float:
        if len(header) < COPY_BYTES or header[16:18] != self.prefix:
            return 0.0
        destination = header[18] % self.stride
        try:
            return max(0.0, self.one_way_ms[source][destination] / 1000 - HANDLING_S)
        except IndexError:
            return 0.0

    def receive(self, path: str) -> None:
        served = self.served[path]
        now = time.monotonic()
        for packet_id, header in served.queue.packets():
            delay = self.delay_s(served.region, header)
            if delay <= 0:
                served.queue.accept(packet_id)
                continue
            entry = (now + delay, next(self.order), served.queue, packet_id)
            with self.held_changed:
                heapq.heappush(self.held, entry)
                if self.held[0] is entry:
                    self.held_changed.notify()

    def release_forever(self) -> None:
        with self.held_changed:
            while True:
                wait = self.held[0][0] - time.monotonic() if self.held else None
                if wait is None or wait > 0:
                    self.held_changed.wait(wait)
                    continue
                _, _, queue, packet_id = heapq.heappop(self.held)
                queue.accept(packet_id)

    def run(self) -> None:
        threading.Thread(target=self.release_forever, name="release", daemon=True).start()
        while True:
            self.scan()
            deadline = time.monotonic() + SCAN_INTERVAL_S
            while (left := deadline - time.monotonic()) > 0:
                for key, _ in self.selector.select(left):
                    self.receive(str(key.data))


class LatencyDaemon:
    """Starts, adopts and stops the cloud's delay daemon; writes what it reads."""

    def __init__(self, layout: Layout, one_way_ms: list[list[float]], prefix: str, stride: int):
        self._layout = layout
        self._config = {
            "prefix": [int(part) for part in prefix.split(".")],
            "stride": stride,
            "one_way_ms": one_way_ms,
        }
        identity = Identity.load(layout.delay_pid)
        self._process = None if identity is None else Process(identity)

    def alive(self) -> bool:
        return self._process is not None and self._process.alive()

    def ensure(self) -> None:
        """Start the daemon unless it runs (its configuration rewritten first)."""
        if self.alive():
            return
        self._layout.vms_dir.mkdir(parents=True, exist_ok=True)
        config = self._layout.vms_dir / DELAY_CONFIG
        config.with_suffix(".tmp").write_text(json.dumps(self._config))
        config.with_suffix(".tmp").replace(config)
        argv = [sys.executable, "-m", __name__, str(self._layout.vms_dir), self._layout.tag]
        log = self._layout.vms_dir / "latency.log"
        self._process = Process.spawn(argv, log, cwd=Path(__file__).resolve().parents[2])
        self._process.identity.save(self._layout.delay_pid)

    def stop(self) -> None:
        if self._process is not None:
            self._process.kill()
            self._process = None
        self._layout.delay_pid.unlink(missing_ok=True)


def is_daemon(argv: list[str]) -> str | None:
    """The tag of the cloud whose delay daemon `argv` is, None for another command line."""
    return argv[-1] if len(argv) >= 4 and argv[-3:-2] == [__name__] else None


def main(argv: list[str]) -> None:
    """`VMS_DIR TAG`: the tag only marks whose daemon this is (doctor.py reads it)."""
    Delayer(Path(argv[0])).run()


if __name__ == "__main__":
    main(sys.argv[1:])
