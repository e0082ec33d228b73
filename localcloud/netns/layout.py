"""Where a local cloud's real VMs live and what their pieces are called (pure).

One local cloud is one database file; its `tag` (a hash of the file's path) is part of every
name, so the namespaces, links, cgroups and processes of two clouds on one machine never mix.
A VM's key `lc-<tag>-<vm id>` names its network namespace and cgroup and stands in its init
command line and in the alias of its host-side veth (whose own name must fit 15 characters).
Files: `<db dir>/vms/<vm id>/` per VM; machine-wide bookkeeping under /run/mcis-localcloud.
"""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass
from pathlib import Path

PREFIX = "lc"
BRIDGE = "lcbr0"
CGROUP_PARENT = "mcis-localcloud"
MACHINE_DIR = Path("/run/mcis-localcloud")
"""Machine-wide: which database each tag belongs to (`clouds/<tag>`)."""

DELAY_CONFIG = "latency.json"
"""In the VMs directory: the latency daemon's delays by region."""
VM_FILE = "vm.json"
"""In a VM's directory: its key and region index (what the latency daemon needs)."""
BOUND_MARKER = "delay.bound"
"""In a VM's directory: the inode of the namespace the latency daemon serves (once it does)."""

_KEY = re.compile(rf"^{PREFIX}-([0-9a-f]{{8}})-(vm-[0-9a-f]{{16}})$")


def parse_key(key: str) -> tuple[str, str] | None:
    """(tag, vm id) of a VM key, None for any other name."""
    match = _KEY.match(key)
    return None if match is None else (match[1], match[2])


def veth_name(key: str) -> str:
    """The host end of the VM's veth pair: 15 characters, derived from its key."""
    return "lcv" + hashlib.sha1(key.encode()).hexdigest()[:12]


def cloud_db(tag: str) -> Path | None:
    """The database file a tag was registered for, None when unknown."""
    try:
        return Path((MACHINE_DIR / "clouds" / tag).read_text().strip())
    except OSError:
        return None


def forsaken_clouds() -> dict[str, Path]:
    """Registered clouds whose database file is gone: tag -> the database it was."""
    try:
        tags = os.listdir(MACHINE_DIR / "clouds")
    except FileNotFoundError:
        return {}
    found = {tag: cloud_db(tag) for tag in tags}
    return {tag: db for tag, db in found.items() if db is not None and not db.exists()}


def forget_cloud(tag: str) -> None:
    (MACHINE_DIR / "clouds" / tag).unlink(missing_ok=True)


@dataclass(frozen=True)
class Layout:
    db: Path
    tag: str

    @classmethod
    def of(cls, db: str | Path) -> Layout:
        path = Path(db).resolve()
        return cls(path, hashlib.sha1(str(path).encode()).hexdigest()[:8])

    @property
    def vms_dir(self) -> Path:
        return self.db.parent / "vms"

    @property
    def delay_pid(self) -> Path:
        return self.vms_dir / "latency.pid"

    def key(self, vm_id: str) -> str:
        return f"{PREFIX}-{self.tag}-{vm_id}"

    def vm_dir(self, vm_id: str) -> Path:
        return self.vms_dir / vm_id

    def register(self) -> None:
        """Record machine-wide that this tag is this database's."""
        clouds = MACHINE_DIR / "clouds"
        clouds.mkdir(parents=True, exist_ok=True)
        (clouds / self.tag).write_text(f"{self.db}\n")
