"""CPU load on VMs for auto-control demos and tests: a duty-cycled busy loop per CPU the VM
shows, ended by `timeout` after the duration or by `stop`. The processes carry a marker
argument; the shell builds it at run time (`m=mcis; M=$m-load`), so `pkill -f` never matches
the shell that runs it."""

from __future__ import annotations

_MARKER = 'm=mcis; M="$m-load"; '


def start_load(cpu_percent: int, duration_s: int) -> str:
    """A shell command that starts the load in the background and returns at once."""
    busy = cpu_percent / 100
    loop = (
        "import time\\n"
        "while True:\\n"
        f"    end = time.monotonic() + {busy * 0.1:.4f}\\n"
        "    while time.monotonic() < end: pass\\n"
        f"    time.sleep({(1 - busy) * 0.1:.4f})\\n"
    )
    return (
        f'{_MARKER}pkill -f "$M" || true; '
        f"for _ in $(seq $(nproc)); do setsid -f timeout {duration_s} "
        f'python3 -c "$(printf \'{loop}\')" "$M" </dev/null >/dev/null 2>&1; done; '
        f"echo load {cpu_percent}% for {duration_s}s on $(nproc) CPUs"
    )


def stop_load() -> str:
    return f'{_MARKER}pkill -f "$M" || true; echo load stopped'
