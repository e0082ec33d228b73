"""Reaching a live MCIS and showing it: name checks, the handle of its workflow, the status
table (or JSON)."""

from __future__ import annotations

from typing import Any

from temporalio.client import Client, WorkflowExecutionStatus, WorkflowHandle
from temporalio.service import RPCError, RPCStatusCode

from models.mcis import McisView
from models.naming import InvalidNameError, check_name, mcis_workflow_id
from starter.context import Context
from starter.errors import CliError
from starter.output import STATUS_STYLES, print_json, print_table
from workflows.mcis import McisWorkflow


def checked_name(value: str, what: str) -> str:
    try:
        return check_name(value, what)
    except InvalidNameError as exc:
        raise CliError(str(exc)) from None


def mcis_handle(
    client: Client, namespace: str, name: str
) -> WorkflowHandle[McisWorkflow, McisView]:
    """The handle of the MCIS's workflow (every caller takes it here, typed once)."""
    return client.get_workflow_handle_for(McisWorkflow.run, mcis_workflow_id(namespace, name))


async def running_handle(
    ctx: Context, namespace: str, name: str
) -> WorkflowHandle[McisWorkflow, McisView]:
    """The workflow of a live MCIS, or a clear 'not found'."""
    checked_name(namespace, "namespace")
    checked_name(name, "MCIS name")
    handle = mcis_handle(await ctx.client(), namespace, name)
    if not await is_running(handle):
        raise CliError(f"MCIS {name!r} not found in namespace {namespace!r}")
    return handle


async def is_running(handle: WorkflowHandle[Any, Any]) -> bool:
    """Whether the workflow exists and runs (a closed or unknown one does not)."""
    try:
        description = await handle.describe()
    except RPCError as exc:
        if exc.status != RPCStatusCode.NOT_FOUND:
            raise
        return False
    return description.status == WorkflowExecutionStatus.RUNNING


def show(view: McisView, as_json: bool) -> None:
    if as_json:
        print_json(view)
        return
    print(f"MCIS {view.namespace}/{view.name}  {view.display}  phase: {view.phase}")
    if view.target_action != "None":
        print(f"target: {view.target_action} -> {view.target_status}")
    rows = [
        (
            vm.id,
            vm.group,
            vm.status.value,
            vm.native_status or "-",
            vm.provider,
            vm.region,
            vm.public_ip or "-",
            vm.error or "",
        )
        for vm in view.vms
    ]
    headers = ["VM", "GROUP", "STATUS", "NATIVE", "CLOUD", "REGION", "IP", "ERROR"]
    print_table(headers, rows, STATUS_STYLES)
