"""Remote operations on the VMs of an MCIS as the CLI (`mcis cmd|put|deploy|access`) and the API
(`/v1/ns/NS/mcis/NAME/...`) both run them: which VMs (the MCIS, a group or a VM), the remote
workflow's input, starting it, its results with what the VMs printed (read back from the
store), the rows of a deploy, and how to reach the VMs yourself (their private key on request)."""

from __future__ import annotations

import base64
import uuid
from typing import Any

from temporalio.client import WorkflowHandle

from activities.remote import upload_ref
from models.naming import shown, vm_order
from models.records import ResourceKind, VmRecord
from models.remote import RemoteResult, RemoteRun, RemoteWorkflowInput, TargetQuery, with_output
from starter.context import Context
from starter.errors import CliError, check_input_size
from starter.resource_service import private_key
from starter.runs_service import RunState, check_token, new_token, run_state
from starter.views import checked_name
from store.remote_outputs import RemoteOutputStore
from workflows.remote import RemoteWorkflow

MAX_UPLOAD_BYTES = 16 * 1024 * 1024


def remote_workflow_id(namespace: str, name: str, token: str) -> str:
    return f"remote/{namespace}/{name}/{token}"


def target_query(
    ctx: Context, namespace: str, name: str, group: str | None, vm: str | None
) -> TargetQuery:
    """The VMs to act on; CliError unless the MCIS, the group and the VM exist."""
    checked_name(namespace, "namespace")
    checked_name(name, "MCIS name")
    if ctx.store.get_mcis(namespace, name) is None:
        raise CliError(f"MCIS {name!r} not found in namespace {namespace!r}")
    vms = ctx.store.list_vms(namespace, name)
    if group is not None and not any(record.group == group for record in vms):
        raise CliError(f"group {shown(group)} not found in MCIS {name!r}")
    if vm is not None and not any(record.name == vm for record in vms):
        raise CliError(f"VM {shown(vm)} not found in MCIS {name!r}")
    return TargetQuery(namespace=namespace, mcis=name, group=group, vm=vm)


def check_destination(destination: str) -> None:
    if not destination.startswith("/"):
        raise CliError(f"destination {destination!r} must be an absolute path on the VMs")


def upload(ctx: Context, content: bytes, what: str) -> str:
    """Keep a file to put (encrypted, in the store; the workflow removes it after) and return
    its reference; CliError if it is larger than MAX_UPLOAD_BYTES."""
    if len(content) > MAX_UPLOAD_BYTES:
        raise CliError(f"{what} is larger than {MAX_UPLOAD_BYTES // 2**20} MiB")
    ref = upload_ref(uuid.uuid4().hex)
    ctx.store.put_secret(ref, base64.b64encode(content).decode())
    return ref


async def start_remote(ctx: Context, inp: RemoteWorkflowInput) -> WorkflowHandle[Any, Any]:
    """Start the remote workflow of `inp` (checked first) and return its handle."""
    client = await ctx.client()
    where = f"{inp.query.namespace}/{inp.query.mcis}"
    await check_input_size(client.data_converter, inp, f"the input of the remote run on {where}")
    workflow_id = remote_workflow_id(inp.query.namespace, inp.query.mcis, new_token())
    query = inp.query
    scope = f" VM {query.vm}" if query.vm else f" group {query.group}" if query.group else ""
    what = f"command `{inp.command[:80]}`" if inp.command else f"file to {inp.destination}"
    return await client.start_workflow(
        RemoteWorkflow.run,
        inp,
        id=workflow_id,
        task_queue=ctx.settings.task_queue,
        static_summary=f"Remote {what} on {where}{scope}",
    )


async def remote_results(
    ctx: Context, handle: WorkflowHandle[Any, Any], run_id: str
) -> list[RemoteResult]:
    """The run's results (waiting for it to end) with what each VM printed, from the store;
    WorkflowFailureError if it failed."""
    results: list[RemoteResult] = await handle.result()
    run = RemoteRun(workflow_id=handle.id, run_id=run_id)
    outputs = RemoteOutputStore(ctx.settings.database_url)
    try:
        return with_output(results, outputs.read(run))
    finally:
        outputs.close()


async def remote_run(ctx: Context, namespace: str, name: str, token: str) -> RunState:
    """The state of a remote run on the MCIS (`token`: the end of its workflow id), with its
    results once it has ended."""
    checked_name(namespace, "namespace")
    checked_name(name, "MCIS name")
    what = f"remote run {shown(token)} of MCIS {name!r}"
    check_token(token, what)

    async def read(handle: WorkflowHandle[Any, Any], run_id: str) -> list[RemoteResult]:
        return await remote_results(ctx, handle, run_id)

    return await run_state(
        ctx, RemoteWorkflow.run, remote_workflow_id(namespace, name, token), what, read
    )


def deploy_rows(
    ctx: Context, namespace: str, name: str, results: list[RemoteResult]
) -> list[dict[str, Any]]:
    """Per VM: whether the app is ready, its URL, else the error."""
    addresses = {vm.name: vm.public_ip for vm in ctx.store.list_vms(namespace, name)}
    return [
        {
            "vm": r.vm,
            "ready": r.exit_code == 0,
            "url": f"http://{addresses.get(r.vm)}",
            "error": None if r.exit_code == 0 else (r.error or r.stderr.strip()[-300:]),
        }
        for r in results
    ]


def mcis_vms(ctx: Context, namespace: str, name: str) -> list[VmRecord]:
    """The VMs of an existing MCIS, in group and number order."""
    checked_name(namespace, "namespace")
    if ctx.store.get_mcis(namespace, checked_name(name, "MCIS name")) is None:
        raise CliError(f"MCIS {name!r} not found in namespace {namespace!r}")
    return sorted(ctx.store.list_vms(namespace, name), key=lambda vm: vm_order(vm.name))


def forget_host_keys(ctx: Context, vms: list[VmRecord]) -> None:
    """Forget the VMs' recorded host keys (after a rebuild)."""
    for vm in vms:
        ctx.store.forget_host_key(f"{vm.provider}/{vm.csp_id}")


def access_rows(vms: list[VmRecord]) -> list[dict[str, Any]]:
    """How to reach each VM: user, address, port, status and the name of its SSH key."""
    return [
        {
            "vm": vm.name,
            "user": "root",
            "ip": vm.public_ip,
            "port": 22,
            "status": vm.status.value,
            "ssh_key": vm.ssh_key,
        }
        for vm in vms
    ]


def private_keys(ctx: Context, namespace: str, vms: list[VmRecord]) -> dict[str, str]:
    """The private key of every SSH key the VMs use, by key name."""
    keys = sorted({vm.ssh_key for vm in vms if vm.ssh_key})
    return {key: vm_private_key(ctx, namespace, key) for key in keys}


def vm_private_key(ctx: Context, namespace: str, key_name: str) -> str:
    resource = ctx.store.get_resource(namespace, ResourceKind.SSH_KEY, key_name)
    if resource is None or resource.secret_ref is None:
        raise CliError(f"SSH key {key_name!r} has no private key in namespace {namespace!r}")
    return private_key(ctx, resource)
