"""Auto-control policies as the CLI (`mcis policy`, `mcis load`) and the API
(`/v1/ns/NS/mcis/NAME/policy`) both handle them: register one on a live MCIS (its policy
workflow), its status (state, recent samples and decisions; how an ended one ended), pause,
resume and delete, the namespace's policies, ending an MCIS's policy when the MCIS is deleted,
and CPU load on the VMs (simulated on phantom VMs) to watch a policy act."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ValidationError
from temporalio.client import WorkflowExecutionStatus, WorkflowHandle, WorkflowUpdateFailedError
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode
from temporalio.workflow import UpdateMethodMultiParam

from drivers.errors import CloudError
from models.failures import failure_message
from models.naming import TAG_GROUP, TAG_MCIS, TAG_NAMESPACE, TAG_VM
from models.policy import Policy, PolicyState, PolicyView, PolicyWorkflowInput
from models.remote import TargetQuery
from starter.context import Context
from starter.errors import FAILED, CliError, check_input_size, validation_message
from starter.namespace_service import existing_namespace
from starter.views import checked_name, is_running, running_handle
from starter.watch import query_status
from workflows.policy import DELETED, PolicyWorkflow, policy_workflow_id

PolicyHandle = WorkflowHandle[PolicyWorkflow, PolicyView]
CHANGES = ("pause", "resume", "delete")


def parse_policy(data: dict[str, Any]) -> Policy:
    try:
        return Policy.model_validate(data)
    except ValidationError as exc:
        raise CliError(validation_message(exc, "policy")) from None


async def _any_policy_handle(ctx: Context, namespace: str, name: str) -> PolicyHandle:
    checked_name(namespace, "namespace")
    checked_name(name, "MCIS name")
    client = await ctx.client()
    return client.get_workflow_handle_for(PolicyWorkflow.run, policy_workflow_id(namespace, name))


class NoPolicyError(CliError):
    """The MCIS has no policy (bad input to the CLI, a missing thing to the API)."""


class PolicyExistsError(CliError):
    """The MCIS has a policy already (bad input to the CLI, a conflict to the API)."""


def _none_runs(namespace: str, name: str) -> NoPolicyError:
    return NoPolicyError(f"no policy runs for MCIS {name!r} in namespace {namespace!r}")


async def create_policy(ctx: Context, namespace: str, name: str, policy: Policy) -> PolicyView:
    """Start auto-control of a live MCIS; CliError if a policy already runs for it."""
    mcis = await query_status(await running_handle(ctx, namespace, name))
    if mcis is None:
        raise CliError(f"no worker answered for MCIS {name!r}: is the stack up?", FAILED)
    client = await ctx.client()
    inp = PolicyWorkflowInput(namespace=namespace, mcis=name, policy=policy, mcis_uid=mcis.uid)
    await check_input_size(client.data_converter, inp, f"policy of MCIS {name!r}")
    try:
        handle = await client.start_workflow(
            PolicyWorkflow.run,
            inp,
            id=policy_workflow_id(namespace, name),
            task_queue=ctx.settings.task_queue,
            id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE,
            id_conflict_policy=WorkflowIDConflictPolicy.FAIL,
            static_summary=f"Policy of MCIS {namespace}/{name}",
        )
    except WorkflowAlreadyStartedError:
        raise PolicyExistsError(
            f"a policy already runs for MCIS {name!r}; delete it first"
        ) from None
    return await handle.query(PolicyWorkflow.status)


async def policy_view(ctx: Context, namespace: str, name: str) -> PolicyView:
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


async def list_policies(ctx: Context, namespace: str) -> list[PolicyView]:
    """The policy of every MCIS of the namespace that has one (running or ended)."""
    existing_namespace(ctx, namespace)
    views = []
    for mcis in ctx.store.list_mcis(namespace):
        try:
            views.append(await policy_view(ctx, namespace, mcis.name))
        except NoPolicyError:
            continue
    return views


async def change_policy(ctx: Context, namespace: str, name: str, change: str) -> PolicyView:
    """Pause, resume or delete the running policy of the MCIS (after a delete: its last
    status)."""
    updates: dict[str, UpdateMethodMultiParam[[PolicyWorkflow], PolicyView]] = {
        "pause": PolicyWorkflow.pause,
        "resume": PolicyWorkflow.resume,
        "delete": PolicyWorkflow.delete,
    }
    if change not in updates:
        raise CliError(f"unknown policy change {change!r} (changes: {', '.join(CHANGES)})")
    handle = await _any_policy_handle(ctx, namespace, name)
    if not await is_running(handle):
        raise _none_runs(namespace, name)
    try:
        view = await handle.execute_update(updates[change])
    except WorkflowUpdateFailedError as exc:
        raise CliError(failure_message(exc), FAILED) from None
    return await handle.result() if change == "delete" else view


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


class SimulatedLoad(BaseModel):
    """CPU load set on phantom VMs (nothing runs on them: they report it)."""

    simulated: bool = True
    vms: int
    cpu_percent: int


def check_load(cpu: int, duration: int, stop: bool) -> None:
    if not stop and not (1 <= cpu <= 100):
        raise CliError(f"--cpu must be 1..100, got {cpu}")
    if not stop and duration < 1:
        raise CliError(f"--duration must be 1 or more seconds, got {duration}")


async def simulate_load(ctx: Context, query: TargetQuery, cpu: int) -> SimulatedLoad | None:
    """On the local cloud's phantom VMs, make the query's VMs report `cpu` percent (0: stop);
    None where VMs are real (the load must run on them)."""
    if not await _phantom_vms(ctx):
        return None
    tags = {TAG_NAMESPACE: query.namespace, TAG_MCIS: query.mcis}
    if query.vm:
        tags[TAG_VM] = query.vm
    elif query.group:
        tags[TAG_GROUP] = query.group
    count = await ctx.admin.simulate_load(tags, float(cpu))
    return SimulatedLoad(vms=count, cpu_percent=cpu)


async def _phantom_vms(ctx: Context) -> bool:
    try:
        return (await ctx.admin.health()).get("backend") == "phantom"
    except CloudError:
        return False
