"""Tumblebug remote commands (`POST /tumblebug/ns/{ns}/cmd/mcis/{mcis}[/vm/{vm}]`): the command
runs over SSH on every VM of the MCIS (or one) through the remote workflow, as `mcis cmd`
(`starter/remote_service.py`), and answers `result_array`, one entry per VM with what it
printed (and, when it failed, its error output or why it did not run)."""

from __future__ import annotations

from fastapi import APIRouter
from temporalio.client import WorkflowFailureError

from api.errors import ApiError
from api.tumblebug.ids import checked_id, not_found
from api.tumblebug.models import CmdReply, CmdReq, CmdResult
from api.tumblebug.ns import namespace_id
from api.tumblebug.state import CompatState, State
from api.tumblebug.status import tumblebug_vm_id
from models.failures import failure_message
from models.naming import vm_order
from models.remote import RemoteResult, RemoteWorkflowInput
from starter.remote_service import remote_results, start_remote, target_query

router = APIRouter(tags=["tumblebug remote command"])


def _result(result: RemoteResult) -> str:
    if result.exit_code == 0:
        return result.stdout
    return result.stdout + (result.stderr or result.error or f"exit {result.exit_code}")


async def _run(state: CompatState, ns: str, mcis: str, command: str, vm: str | None) -> CmdReply:
    namespace = namespace_id(state, ns)
    id = checked_id(mcis, "MCIS")
    if state.ctx.store.get_mcis(namespace, id) is None:
        raise not_found("MCIS", id)
    records = state.ctx.store.list_vms(namespace, id)
    ids = {record.name: tumblebug_vm_id(record.name, record.group) for record in records}
    name = None
    if vm is not None:
        wanted = checked_id(vm, "VM")
        name = next((n for n, tb_id in ids.items() if wanted in (n, tb_id)), None)
        if name is None:
            raise not_found("VM", wanted, f"in the MCIS {id}")
    query = target_query(state.ctx, namespace, id, None, name)
    handle = await start_remote(state.ctx, RemoteWorkflowInput(query=query, command=command))
    try:
        results = await remote_results(state.ctx, handle, handle.result_run_id or "")
    except WorkflowFailureError as exc:
        raise ApiError(409, "failed", failure_message(exc)) from None
    addresses = {record.name: record.public_ip or "" for record in records}
    return CmdReply(
        result_array=[
            CmdResult(
                mcis_id=id,
                vm_id=ids.get(r.vm, r.vm),
                vm_ip=addresses.get(r.vm, ""),
                result=_result(r),
            )
            for r in sorted(results, key=lambda r: vm_order(r.vm))
        ]
    )


@router.post("/ns/{ns}/cmd/mcis/{mcis}")
async def run_on_mcis(ns: str, mcis: str, body: CmdReq, state: State) -> CmdReply:
    return await _run(state, ns, mcis, body.command, None)


@router.post("/ns/{ns}/cmd/mcis/{mcis}/vm/{vm}")
async def run_on_vm(ns: str, mcis: str, vm: str, body: CmdReq, state: State) -> CmdReply:
    return await _run(state, ns, mcis, body.command, vm)
