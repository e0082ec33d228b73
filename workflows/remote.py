"""The remote workflow: run one command (and/or put one file) on the VMs of an MCIS, a group or
one VM over SSH, with bounded concurrency, one activity per VM so each shows in the UI.
A command runs at most once per VM: a VM whose run failed is reported, not retried."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from temporalio import workflow
from temporalio.exceptions import ActivityError

from models.naming import vm_order
from models.remote import RemoteJob, RemoteResult, RemoteTargets, RemoteWorkflowInput, VmTarget
from workflows.failures import failure_message
from workflows.options import STORE, ActivityOptions, retry_policy, run_activity

CONNECT_MARGIN_S = 60.0


def remote_options(timeout_s: float) -> ActivityOptions:
    return ActivityOptions(
        timedelta(seconds=timeout_s + CONNECT_MARGIN_S), retry=retry_policy(attempts=1)
    )


@workflow.defn(name="RemoteWorkflow")
class RemoteWorkflow:
    @workflow.run
    async def run(self, inp: RemoteWorkflowInput) -> list[RemoteResult]:
        try:
            targets = await run_activity("remote_targets", inp.query, RemoteTargets, STORE)
            limit = asyncio.Semaphore(inp.concurrency)

            async def one(target: VmTarget) -> RemoteResult:
                job = RemoteJob(
                    namespace=inp.query.namespace,
                    mcis=inp.query.mcis,
                    target=target,
                    command=inp.command,
                    file_ref=inp.file_ref,
                    destination=inp.destination,
                    timeout_s=inp.timeout_s,
                )
                async with limit:
                    try:
                        return await run_activity(
                            "run_remote", job, RemoteResult, remote_options(inp.timeout_s)
                        )
                    except ActivityError as exc:
                        return RemoteResult(
                            vm=target.vm, exit_code=None, error=failure_message(exc)
                        )

            results = await asyncio.gather(*(one(t) for t in targets.targets))
        finally:
            if inp.file_ref is not None:
                await run_activity("forget_upload", inp.file_ref, type(None), STORE)
        return sorted([*results, *targets.skipped], key=lambda r: vm_order(r.vm))
