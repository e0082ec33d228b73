"""What the Temporal UI shows of a workflow without opening a payload (pure, no I/O): each
activity's one-line summary naming the VM, region or batch it works on, read from its input,
and an MCIS's current details (status, phase, counts, the operation under way).

Summaries are metadata on the activity command, not part of what replay compares, so adding or
rewording them keeps recorded histories replayable."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

MAX_SUMMARY = 200
"""Characters of a summary: one line of the UI's history table."""


def activity_summary(name: str, arg: Any) -> str:
    """`create vm batch: aws/us-east-1, 250 VMs (web-1 .. web-250)`; `vm action: VM web-3 on
    gcp/us-central1`; the activity's name alone when its input names nothing of these."""
    what = name.replace("_", " ")
    target = _target(arg)
    text = f"{what}: {target}" if target else what
    return text if len(text) <= MAX_SUMMARY else text[: MAX_SUMMARY - 1] + "…"


def _target(arg: Any) -> str:
    if isinstance(arg, Sequence) and not isinstance(arg, str):
        groups = [g.group.name for g in arg if hasattr(getattr(g, "group", None), "name")]
        if groups and len(groups) == len(arg):  # group plans
            return f"{_count(groups, 'group')} ({', '.join(groups)})"
        named = [item.name for item in arg if isinstance(getattr(item, "name", None), str)]
        if named and len(named) == len(arg):  # VM records
            return f"{_count(named, 'VM')} ({_span(named)})"
        return _count(arg, "item") if arg else ""
    batch = getattr(arg, "batch", None)
    if batch is not None:
        return f"{_place(batch)}, {_count(batch.names, 'VM')} ({_span(batch.names)})" + _action(arg)
    vm = getattr(arg, "vm", None)
    if vm is not None and hasattr(vm, "provider"):
        return f"VM {vm.name} on {vm.provider}/{vm.region}" + _action(arg)
    if hasattr(arg, "provider") and hasattr(arg, "region"):
        names: list[str] = getattr(arg, "names", None) or []
        count = f", {_count(names, 'VM')} ({_span(names)})" if names else ""
        return _place(arg) + count + _action(arg)
    mcis = getattr(arg, "mcis", None)
    if not isinstance(mcis, str) and hasattr(arg, "uid"):  # the MCIS's own record
        mcis = getattr(arg, "name", None)
    if isinstance(mcis, str):
        return f"MCIS {getattr(arg, 'namespace', '?')}/{mcis}"
    return ""


def _count(items: Sequence[Any], noun: str) -> str:
    return f"{len(items)} {noun}" + ("" if len(items) == 1 else "s")


def _place(arg: Any) -> str:
    return f"{arg.provider}/{arg.region}"


def _action(arg: Any) -> str:
    action = getattr(arg, "action", None)
    value = getattr(action, "value", action)
    return f", {value}" if isinstance(value, str) and value else ""


def _span(names: Sequence[str]) -> str:
    return names[0] if len(names) == 1 else f"{names[0]} .. {names[-1]}"


def mcis_details(label: str, phase: str, counts: Mapping[str, int], operation: str | None) -> str:
    """The MCIS's current details (Markdown, as the Temporal UI renders them):
    `**Partial-Running (4/6)** · phase active · Creating 2, Running 4 · operation: #3 create
    mcis running`."""
    by_status = ", ".join(f"{status} {n}" for status, n in sorted(counts.items()) if n)
    parts = [f"**{label}**", f"phase {phase}", by_status or "no VMs"]
    if operation:
        parts.append(f"operation: {operation}")
    return " · ".join(parts)


def policy_details(
    state: str, mcis: str, checks: int, last_decision: str | None, error: str | None
) -> str:
    """A policy's current details: `**Stabilizing** · MCIS dev/web · 12 checks · last
    decision: #2 scale-out 2 (cpu > 80): done`."""
    parts = [f"**{state}**", f"MCIS {mcis}", f"{checks} checks"]
    if last_decision:
        parts.append(f"last decision: {last_decision}")
    if error:
        parts.append(f"error: {error}")
    return " · ".join(parts)


def mcis_summary(namespace: str, name: str, groups: Sequence[tuple[str, int]]) -> str:
    """The static summary an MCIS workflow starts with: `MCIS dev/web · 6 VMs · aws, azure,
    gcp` from its groups' (provider, count)."""
    clouds = ", ".join(sorted({provider for provider, _ in groups}))
    return f"MCIS {namespace}/{name} · {sum(n for _, n in groups)} VMs · {clouds}"
