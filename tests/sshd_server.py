"""A real sshd on loopback for tests of the SSH layer (no VM needed): its own host key, an
authorized_keys file, root login with a key only."""

from __future__ import annotations

import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from activities.ssh_keys import generate_private_key, public_key_of
from starter.processes import free_port, port_in_use

SSHD = shutil.which("sshd") or "/usr/sbin/sshd"


def sshd_available() -> bool:
    return Path(SSHD).exists() and shutil.which("ssh-keygen") is not None


@dataclass
class Sshd:
    home: Path
    port: int
    private_key: str
    process: subprocess.Popen[bytes] | None = None
    addresses: tuple[str, ...] = ("127.0.0.1",)  # where it listens (on `port`)

    def new_host_key(self) -> None:
        key = self.home / "host_key"
        key.unlink(missing_ok=True)
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)

    def start(self) -> None:
        config = self.home / "sshd_config"
        config.write_text(
            "\n".join(
                [
                    f"Port {self.port}",
                    *(f"ListenAddress {address}" for address in self.addresses),
                    f"HostKey {self.home / 'host_key'}",
                    f"AuthorizedKeysFile {self.home / 'authorized_keys'}",
                    f"PidFile {self.home / 'sshd.pid'}",
                    "PermitRootLogin prohibit-password",
                    "PasswordAuthentication no",
                    "UsePAM no",
                    "StrictModes no",
                    "UseDNS no",
                    # Bash sources ~/.bashrc for a command sent over SSH only at shell level 1:
                    # the host's root .bashrc (a pyenv rehash racing itself, say) must not
                    # write into the output the tests compare.
                    "SetEnv SHLVL=1",
                    "",
                ]
            )
        )
        Path("/run/sshd").mkdir(exist_ok=True)
        self.process = subprocess.Popen([SSHD, "-D", "-e", "-f", str(config)])
        deadline = time.monotonic() + 10
        while not port_in_use(self.addresses[0], self.port):
            if time.monotonic() > deadline or self.process.poll() is not None:
                raise RuntimeError("sshd did not start")
            time.sleep(0.02)

    def stop(self) -> None:
        """Stop sshd and the sessions it serves, as a VM going away would (a plain sshd stop
        leaves open connections working)."""
        if self.process is not None:
            sessions = subprocess.run(
                ["ps", "-o", "pid=", "--ppid", str(self.process.pid)],
                capture_output=True,
                text=True,
                check=False,
            ).stdout.split()
            for pid in sessions:
                subprocess.run(["kill", "-TERM", pid], check=False)
            self.process.terminate()
            self.process.wait(timeout=10)
            self.process = None


def start_sshd(home: Path) -> Sshd:
    home.mkdir(parents=True, exist_ok=True)
    private_key = generate_private_key()
    (home / "authorized_keys").write_text(public_key_of(private_key) + "\n")
    server = Sshd(home=home, port=free_port(), private_key=private_key)
    server.new_host_key()
    server.start()
    return server
