"""One real VM on this host: start, stop, destroy, adopt after a restart of the local cloud.

A VM is a directory `<db dir>/vms/<vm id>/`, a network namespace (network.py), cgroups with
its spec's caps (cgroups.py) and, while it runs, one process tree:
`ip netns exec <ns> unshare --mount --uts --ipc --pid --fork --kill-child sh init.sh ...` in a
session of its own (it outlives the local cloud). init.sh mounts a copy-on-write overlay of the
host's root (writes land in the VM's `upper/`, so host binaries such as nginx run and nothing
of the host changes), a fresh /proc, tmpfs /run and /tmp, the VM's own /root and /etc/ssh; it
hides the VMs' directory, sets the hostname, pivots into the overlay and becomes sshd (own host
key, root login with the key pair's public key). Killing the unshare process ends the VM.
"""

from __future__ import annotations

import contextlib
import logging
import re
import shutil
import time
from dataclasses import dataclass

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from localcloud.netns import network
from localcloud.netns.cgroups import Cgroups, Limits
from localcloud.netns.layout import BOUND_MARKER, VM_FILE, Layout, veth_name
from localcloud.netns.proc import Identity, Process

log = logging.getLogger("localcloud.netns")

SSH_PORT = 22
BOOT_TIMEOUT_S = 10.0
DELAY_TIMEOUT_S = 3.0
PID_FILE = "vm.pid"

SSHD_CONFIG = """\
Port 22
HostKey /etc/ssh/ssh_host_ed25519_key
PidFile /run/sshd.pid
UsePAM no
StrictModes no
UseDNS no
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin prohibit-password
AuthorizedKeysFile .ssh/authorized_keys
Subsystem sftp internal-sftp
PrintMotd no
"""

INIT_SH = """\
# $1: the VM's directory, $2: its hostname, $3: the VMs' directory (hidden), $4: its key
set -e
d=$1 R=$1/rootfs
mount -t overlay overlay -o "lowerdir=/,upperdir=$d/upper,workdir=$d/work" "$R"
mount --rbind /dev "$R/dev"
mount -t proc proc "$R/proc"
mount --rbind /sys "$R/sys"
mount -t tmpfs -o mode=755,size=64m tmpfs "$R/run"
mkdir -p "$R/run/sshd"
mount -t tmpfs -o mode=1777 tmpfs "$R/tmp"
mount --bind "$d/root" "$R/root"
mount --bind "$d/ssh" "$R/etc/ssh"
if [ -d "$R$3" ]; then mount -t tmpfs -o mode=700,size=1m tmpfs "$R$3"; fi
hostname "$2"
cd "$R"
mkdir -p .oldroot
pivot_root . .oldroot
umount -l /.oldroot
rmdir /.oldroot
exec "$(command -v sshd)" -D -e
"""

JOIN_CGROUPS = 'while [ "$1" != -- ]; do echo $$ > "$1"; shift; done; shift; exec "$@"'
"""sh: write our pid into each cgroup.procs file given before `--`, then become the rest."""

_NOT_HOSTNAME = re.compile(r"[^A-Za-z0-9-]+")


def hostname(name: str) -> str:
    """`name` as a valid hostname (it usually is one already)."""
    return _NOT_HOSTNAME.sub("-", name).strip("-")[:63] or "vm"


@dataclass(frozen=True)
class VmSpec:
    """What a VM is made of."""

    name: str
    address: str
    region_index: int
    limits: Limits
    public_key: str


class Machine:
    """The real VM behind one VM id."""

    def __init__(self, layout: Layout, vm_id: str, cgroups: Cgroups | None, delayed: bool):
        self.key = layout.key(vm_id)
        self.veth = veth_name(self.key)
        self.dir = layout.vm_dir(vm_id)
        self._vms_dir = layout.vms_dir
        self._cgroups = cgroups
        self._delayed = delayed
        identity = Identity.load(self.dir / PID_FILE)
        self._process = None if identity is None else Process(identity)

    def running(self) -> bool:
        return self._process is not None and self._process.alive()

    def exists(self) -> bool:
        return self.dir.exists()

    def start(self, spec: VmSpec) -> None:
        """Boot the VM; return once its sshd accepts connections (and its delays apply).
        RuntimeError (with the end of its console log) when it does not come up."""
        self._write_files(spec)
        network.create_vm_net(self.key, self.veth, spec.address, self._delayed)
        joins = [] if self._cgroups is None else self._cgroups.create(self.key, spec.limits)
        argv = [
            *("sh", "-c", JOIN_CGROUPS, "join", *map(str, joins), "--"),
            *("ip", "netns", "exec", self.key),
            *("unshare", "--mount", "--uts", "--ipc", "--pid", "--fork", "--kill-child"),
            *("sh", str(self.dir / "init.sh"), str(self.dir), hostname(spec.name)),
            *(str(self._vms_dir), self.key),
        ]
        self._process = Process.spawn(argv, self.dir / "console.log")
        self._process.identity.save(self.dir / PID_FILE)
        try:
            network.wait_listening(spec.address, SSH_PORT, BOOT_TIMEOUT_S, self.running)
        except network.NetworkError as exc:
            console = (self.dir / "console.log").read_text(errors="replace")[-600:]
            raise RuntimeError(f"VM {self.key} did not boot: {exc}; console: {console}") from exc
        if self._delayed and not self._delay_applies():
            log.warning("VM %s runs without latency: the daemon does not serve it", self.key)

    def _delay_applies(self) -> bool:
        """Wait until the latency daemon serves this namespace (not an earlier one)."""
        serves = f"{(network.NETNS_DIR / self.key).stat().st_ino}\n"
        deadline = time.monotonic() + DELAY_TIMEOUT_S
        while time.monotonic() < deadline:
            with contextlib.suppress(FileNotFoundError):
                if (self.dir / BOUND_MARKER).read_text() == serves:
                    return True
            time.sleep(0.01)
        return False

    def stop(self) -> None:
        """End every process of the VM and remove its cgroups; files and network stay."""
        if self._process is not None:
            self._process.kill()
            self._process = None
        if self._cgroups is not None:
            self._cgroups.remove(self.key)
        (self.dir / PID_FILE).unlink(missing_ok=True)

    def destroy(self) -> None:
        """Stop the VM and remove its network and files."""
        self.stop()
        network.delete_vm_net(self.key, self.veth)
        shutil.rmtree(self.dir, ignore_errors=True)

    def _write_files(self, spec: VmSpec) -> None:
        """The VM's files: made once (host key, authorized key, /etc files); the init script
        and the description the latency daemon reads, each boot."""
        if not (self.dir / "ssh").exists():
            self._make_files(spec)
        (self.dir / "init.sh").write_text(INIT_SH)
        vm = f'{{"key": "{self.key}", "region_index": {spec.region_index}}}\n'
        (self.dir / VM_FILE).write_text(vm)

    def _make_files(self, spec: VmSpec) -> None:
        for sub in ("upper/etc", "work", "rootfs", "root/.ssh"):
            (self.dir / sub).mkdir(parents=True, exist_ok=True)
        name = hostname(spec.name)
        etc = self.dir / "upper/etc"
        (etc / "hostname").write_text(f"{name}\n")
        (etc / "hosts").write_text(f"127.0.0.1 localhost\n{spec.address} {name}\n")
        (etc / "resolv.conf").write_text("options timeout:1 attempts:1\n")
        (self.dir / "root/.ssh/authorized_keys").write_text(f"{spec.public_key}\n")
        key = Ed25519PrivateKey.generate()
        private = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.OpenSSH,
            serialization.NoEncryption(),
        )
        public = key.public_key().public_bytes(
            serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
        )
        staging = self.dir / "ssh.new"
        staging.mkdir(exist_ok=True)
        (staging / "sshd_config").write_text(SSHD_CONFIG)
        host_key = staging / "ssh_host_ed25519_key"
        host_key.write_bytes(private)
        host_key.chmod(0o600)
        (staging / "ssh_host_ed25519_key.pub").write_bytes(public + b"\n")
        staging.replace(self.dir / "ssh")  # complete or absent, whatever happens midway
