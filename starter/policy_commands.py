"""`mcis policy create|status|pause|resume|delete` (an auto-control policy per MCIS, run by its
policy workflow; `status` also tells how an ended one ended), ending an MCIS's policy when
`mcis delete` deletes the MCIS, and `mcis load` (CPU load on the VMs, to watch a policy act)."""

from __future__ import annotations

import argparse

from pydantic import ValidationError
from temporalio.client import WorkflowExecutionStatus, WorkflowHandle, WorkflowUpdateFailedError
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode
from temporalio.workflow import UpdateMethodMultiParam

from drivers.errors import CloudError
from models.naming import TAG_GROUP, TAG_MCIS, TAG_NAMESPACE, TAG_VM
from models.policy import Policy, PolicyState, PolicyView, PolicyWorkflowInput
from remote.load import start_load, stop_load
from starter.context import Context
from starter.documents import load_mapping
from starter.errors import FAILED, CliError, check_input_size, validation_message
from starter.output import print_json, print_table
from starter.remote_commands import exit_code, run_command, show_results, target_query
from starter.views import checked_name, is_running, running_handle
from starter.watch import query_status
from workflows.failures import failure_message
from workflows.policy import DELETED, PolicyWorkflow, policy_workflow_id


def _load_policy(path: str) -> Policy:
    try:
        return Policy.model_validate(load_mapping(path, "policy"))
    except ValidationError as exc:
        raise CliError(validation_message(exc, "policy")) from None


async def _any_policy_handle(
    ctx: Context, namespace: str, name: str
) -> WorkflowHandle[PolicyWorkflow, PolicyView]:
    checked_name(namespace, "namespace")
    checked_name(name, "MCIS name")
    client = await ctx.client()
    return client.get_workflow_handle_for(PolicyWorkflow.run, policy_workflow_id(namespace, name))


def _none_runs(namespace: str, name: str) -> CliError:
    return CliError(f"no policy runs for MCIS {name!r} in namespace {namespace!r}")


async def _policy_handle(
    ctx: Context, namespace: str, name: str
) -> WorkflowHandle[PolicyWorkflow, PolicyView]:
    handle = await _any_policy_handle(ctx, namespace, name)
    if not await is_running(handle):
        raise _none_runs(namespace, name)
    return handle


async def _policy_view(ctx: Context, namespace: str, name: str) -> PolicyView:
    """A running policy's status, or the last one of a policy that ended."""
    handle = await _any_policy_handle(ctx, namespace, name)
    try:
        state = (await handle.describe()).status
    except RPCError as exc:
        if exc.status is not RPCStatusCode.NOT_FOUND:
            raise
        raise _none_runs(namespace, name) from None
    if state is WorkflowExecutionStatus.RUNNING:
        return await handle.query(PolicyWorkflow.status)
    if state is not WorkflowExecutionStatus.COMPLETED:
        raise _none_runs(namespace, name)
    view = await handle.result()
    if view.state is not PolicyState.ENDED:  # ended before policies said why: only by a delete
        view = view.model_copy(update={"state": PolicyState.ENDED, "ended": DELETED})
    return view


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
    policy = _load_policy(args.file)
    mcis = await query_status(await running_handle(ctx, args.namespace, args.name))
    if mcis is None:
        raise CliError(f"no worker answered for MCIS {args.name!r}: is the stack up?", FAILED)
    client = await ctx.client()
    inp = PolicyWorkflowInput(
        namespace=args.namespace, mcis=args.name, policy=policy, mcis_uid=mcis.uid
    )
    await check_input_size(client.data_converter, inp, f"policy of MCIS {args.name!r}")
    try:
        handle = await client.start_workflow(
            PolicyWorkflow.run,
            inp,
            id=policy_workflow_id(args.namespace, args.name),
            task_queue=ctx.settings.task_queue,
            id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE,
            id_conflict_policy=WorkflowIDConflictPolicy.FAIL,
        )
    except WorkflowAlreadyStartedError:
        raise CliError(f"a policy already runs for MCIS {args.name!r}; delete it first") from None
    _show(await handle.query(PolicyWorkflow.status), args.json)
    return 0


async def status(ctx: Context, args: argparse.Namespace) -> int:
    _show(await _policy_view(ctx, args.namespace, args.name), args.json)
    return 0


async def change(ctx: Context, args: argparse.Namespace) -> int:
    """pause, resume or delete."""
    handle = await _policy_handle(ctx, args.namespace, args.name)
    updates: dict[str, UpdateMethodMultiParam[[PolicyWorkflow], PolicyView]] = {
        "pause": PolicyWorkflow.pause,
        "resume": PolicyWorkflow.resume,
        "delete": PolicyWorkflow.delete,
    }
    try:
        view = await handle.execute_update(updates[args.change])
    except WorkflowUpdateFailedError as exc:
        raise CliError(failure_message(exc), FAILED) from None
    if args.change == "delete":
        view = await handle.result()
    if args.json:
        print_json(view)
    else:
        print(f"policy of {args.namespace}/{args.name}: {args.change}d")
    return 0


async def end_policy(ctx: Context, namespace: str, name: str) -> None:
    """End the policy of an MCIS whose deletion was accepted, if it has one: at once, so an MCIS
    created anew under that name never meets it (it would also end at its next check)."""
    handle = await _any_policy_handle(ctx, namespace, name)
    try:
        await handle.execute_update(
            PolicyWorkflow.delete, f"MCIS {name!r} of namespace {namespace!r} was deleted"
        )
    except RPCError as exc:
        if exc.status is not RPCStatusCode.NOT_FOUND:  # no policy, or one that has ended
            raise


async def load(ctx: Context, args: argparse.Namespace) -> int:
    """Real CPU load over SSH; on the local cloud's phantom VMs (nothing runs there), the load
    they report is simulated instead, and the output says so."""
    if not args.stop and not (1 <= args.cpu <= 100):
        raise CliError(f"--cpu must be 1..100, got {args.cpu}")
    if not args.stop and args.duration < 1:
        raise CliError(f"--duration must be 1 or more seconds, got {args.duration}")
    target_query(ctx, args)  # the MCIS, and the group or VM, exist
    if await _phantom_vms(ctx):
        tags = {TAG_NAMESPACE: args.namespace, TAG_MCIS: args.name}
        if args.vm:
            tags[TAG_VM] = args.vm
        elif args.group:
            tags[TAG_GROUP] = args.group
        count = await ctx.admin.simulate_load(tags, 0.0 if args.stop else float(args.cpu))
        summary = {"simulated": True, "vms": count, "cpu_percent": 0 if args.stop else args.cpu}
        if args.json:
            print_json(summary)
        else:
            print(
                f"phantom VMs (no real VMs on this machine): simulated CPU "
                f"{summary['cpu_percent']}% on {count} VMs"
            )
        return 0
    command = stop_load() if args.stop else start_load(args.cpu, args.duration)
    what = "stopping load" if args.stop else f"loading CPUs to {args.cpu}% for {args.duration}s"
    results = await run_command(ctx, args, command, what)
    show_results(results, args.json)
    return exit_code(results)


async def _phantom_vms(ctx: Context) -> bool:
    try:
        return (await ctx.admin.health()).get("backend") == "phantom"
    except CloudError:
        return False
