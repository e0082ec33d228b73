"""`mcis policy create|status|pause|resume|delete` (an auto-control policy per MCIS, run by its
policy workflow; `status` also tells how an ended one ended) and `mcis load` (CPU load on the
VMs, to watch a policy act); the work is in `starter.policy_service`, shared with the API."""

from __future__ import annotations

import argparse

from models.policy import PolicyView
from remote.load import start_load, stop_load
from starter import policy_service
from starter.context import Context
from starter.documents import load_mapping
from starter.output import print_json, print_table
from starter.remote_commands import exit_code, run_command, show_results, target_query


def _show(view: PolicyView, as_json: bool) -> None:
    if as_json:
        print_json(view)
        return
    paused = " (paused)" if view.paused else ""
    print(
        f"policy of {view.namespace}/{view.mcis}: {view.state.value}{paused}, {view.checks} checks"
    )
    if view.ended:
        print(f"  ended: {view.ended}")
    for index, rule in enumerate(view.policy.rules):
        action = rule.action
        print(f"  rule {index}: {rule.condition.text} -> {action.kind.value} {action.count}")
    samples = {m.value: [round(v, 1) for v in values] for m, values in view.samples.items()}
    print(f"  samples: {samples or '-'}")
    if view.cooldown_until:
        print(f"  cool-down until {view.cooldown_until.isoformat()}")
    if view.last_error:
        print(f"  last error: {view.last_error}")
    if view.decisions:
        print_table(
            ["#", "AT", "CONDITION", "ACTION", "OUTCOME"],
            [
                (
                    d.seq,
                    d.at.strftime("%H:%M:%S"),
                    d.condition,
                    f"{d.action.kind.value} {d.count}",
                    d.outcome or "in progress",
                )
                for d in view.decisions[-10:]
            ],
        )


async def create(ctx: Context, args: argparse.Namespace) -> int:
    policy = policy_service.parse_policy(load_mapping(args.file, "policy"))
    _show(await policy_service.create_policy(ctx, args.namespace, args.name, policy), args.json)
    return 0


async def status(ctx: Context, args: argparse.Namespace) -> int:
    _show(await policy_service.policy_view(ctx, args.namespace, args.name), args.json)
    return 0


async def change(ctx: Context, args: argparse.Namespace) -> int:
    """pause, resume or delete."""
    view = await policy_service.change_policy(ctx, args.namespace, args.name, args.change)
    if args.json:
        print_json(view)
    else:
        print(f"policy of {args.namespace}/{args.name}: {args.change}d")
    return 0


async def load(ctx: Context, args: argparse.Namespace) -> int:
    """Real CPU load over SSH; on the local cloud's phantom VMs (nothing runs there), the load
    they report is simulated instead, and the output says so."""
    policy_service.check_load(args.cpu, args.duration, args.stop)
    query = target_query(ctx, args)  # the MCIS, and the group or VM, exist
    simulated = await policy_service.simulate_load(ctx, query, 0 if args.stop else args.cpu)
    if simulated is not None:
        if args.json:
            print_json(simulated.model_dump())
        else:
            print(
                f"phantom VMs (no real VMs on this machine): simulated CPU "
                f"{simulated.cpu_percent}% on {simulated.vms} VMs"
            )
        return 0
    command = stop_load() if args.stop else start_load(args.cpu, args.duration)
    what = "stopping load" if args.stop else f"loading CPUs to {args.cpu}% for {args.duration}s"
    results = await run_command(ctx, args, command, what)
    show_results(results, args.json)
    return exit_code(results)
