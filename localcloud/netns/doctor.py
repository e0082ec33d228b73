"""Finding and removing what real VMs left behind: network namespaces, host-side veth links,
cgroups, processes (VM process trees, the latency daemon) and VM directories that belong to no
live VM.

Everything is recognised by the VM key in its name, alias or command line (layout.py). A
resource of this cloud is leaked when its VM is not live; one of another cloud only when that
cloud's database file is gone (nobody can ever claim it again: its VM directories go too, and
cleaning forgets it). Live VMs of other clouds are named in the summary, never touched.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any

from localcloud.netns import network, nfqueue
from localcloud.netns.cgroups import Cgroups
from localcloud.netns.layout import Layout, cloud_db, forget_cloud, forsaken_clouds, parse_key
from localcloud.netns.proc import Identity, Process, all_pids, command_line, run, start_time

_VM_DIR = re.compile(r"^vm-[0-9a-f]{16}$")


@dataclass(frozen=True)
class Leak:
    kind: str  # namespace | link | cgroup | process | directory
    name: str
    vm_id: str = ""
    detail: str = ""


@dataclass
class Report:
    leaks: list[Leak] = field(default_factory=list)
    live_vms: int = 0
    other_clouds: dict[str, str] = field(default_factory=dict)
    """Tag -> database of other local clouds whose live resources were seen (not leaks)."""
    cleaned: list[Leak] = field(default_factory=list)
    checked: bool = True
    note: str = ""

    def as_json(self) -> dict[str, Any]:
        return {
            "leaks": [asdict(leak) for leak in self.leaks],
            "cleaned": [asdict(leak) for leak in self.cleaned],
            "summary": {
                "leaked": len(self.leaks),
                "by_kind": dict(Counter(leak.kind for leak in self.leaks)),
                "cleaned": len(self.cleaned),
                "live_vms": self.live_vms,
                "other_clouds": self.other_clouds,
                "checked": self.checked,
                "note": self.note,
            },
        }


def unavailable() -> str | None:
    """Why nothing real can be inspected here, None when it can."""
    if os.geteuid() != 0:
        return "not root: this machine runs no real VMs of ours"
    if shutil.which("ip") is None:
        return "no `ip` command: this machine runs no real VMs of ours"
    return None


class Doctor:
    def __init__(self, layout: Layout, cgroups: Cgroups | None) -> None:
        self._layout = layout
        self._cgroups = cgroups

    def check(self, live: set[str]) -> Report:
        """What is leaked now, given the ids of the live VMs of this cloud."""
        reason = unavailable()
        if reason is not None:
            return Report(checked=False, note=reason, live_vms=len(live))
        report = Report(live_vms=len(live))

        def leaked(tag: str, vm_id: str | None) -> bool:
            if tag == self._layout.tag:
                return vm_id is None or vm_id not in live
            db = cloud_db(tag)
            if db is not None and db.exists():
                report.other_clouds[tag] = str(db)
                return False
            return True

        def keyed(kind: str, name: str, key: str, detail: str = "") -> None:
            parsed = parse_key(key)
            if parsed is not None and leaked(*parsed):
                report.leaks.append(Leak(kind, name, parsed[1], detail))

        for name in network.namespaces():
            keyed("namespace", name, name)
        for alias, name in network.veth_aliases().items():
            keyed("link", name, alias, f"alias {alias}")
        for name in self._cgroups.names() if self._cgroups is not None else []:
            keyed("cgroup", name, name)
        for pid in all_pids():
            argv = command_line(pid)
            detail = " ".join(argv)[:160]
            tag = nfqueue.is_daemon(argv)
            if tag is not None:
                # ours serves while any VM is live; another cloud's, while that cloud exists
                if (not live) if tag == self._layout.tag else leaked(tag, None):
                    report.leaks.append(Leak("process", str(pid), "", detail))
            elif argv and argv[0] == "unshare":
                keyed("process", str(pid), argv[-1], detail)
        vms_dirs = {self._layout.vms_dir: live}
        vms_dirs |= {db.parent / "vms": set() for db in forsaken_clouds().values()}
        for vms_dir, keep in vms_dirs.items():
            with contextlib.suppress(FileNotFoundError):
                for entry in os.scandir(vms_dir):
                    if _VM_DIR.match(entry.name) and entry.name not in keep:
                        report.leaks.append(Leak("directory", entry.path, entry.name))
        return report

    def clean(self, live: set[str]) -> Report:
        """Remove every leak (processes first, directories last); what was found and cleaned,
        and what is still leaked after that."""
        found = self.check(live)
        for leak in sorted(found.leaks, key=lambda leak: _ORDER.index(leak.kind)):
            self._remove(leak)
        for tag in forsaken_clouds():
            forget_cloud(tag)
        after = self.check(live)
        after.cleaned = [leak for leak in found.leaks if leak not in after.leaks]
        return after

    def _remove(self, leak: Leak) -> None:
        if leak.kind == "process":
            started = start_time(int(leak.name))
            if started is not None:
                Process(Identity(int(leak.name), started)).kill()
        elif leak.kind == "cgroup" and self._cgroups is not None:
            self._cgroups.remove(leak.name)
        elif leak.kind == "namespace":
            run(["ip", "netns", "del", leak.name], check=False)
        elif leak.kind == "link":
            run(["ip", "link", "del", leak.name], check=False)
        elif leak.kind == "directory":
            shutil.rmtree(leak.name, ignore_errors=True)


_ORDER = ("process", "cgroup", "namespace", "link", "directory")
