"""The remote workflow: run one command (and/or put one file) on the VMs of an MCIS, a group or
one VM over SSH, with bounded concurrency, in batches of up to 50 VMs per activity (each VM its
own session and its own result; the first batch's activity also finds the VMs). A command runs
at most once per VM: a VM whose run failed is reported, not retried. The result is a summary per
VM (exit code, error, bytes printed): the output itself is in the store under this run
(store/remote_outputs.py), so the history stays small whatever the VMs print."""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.exceptions import ActivityError

from models.failures import failure_message
from models.naming import vm_order
from models.remote import (
    REMOTE_BATCH_SIZE,
    BatchOutcome,
    RemoteBatch,
    RemoteResult,
    RemoteWorkflowInput,
    VmTarget,
)
from workflows.options import STORE, ActivityOptions, retry_policy, run_activity
from workflows.waves import in_waves

CONNECT_MARGIN_S = 60.0


def remote_options(timeout_s: float) -> ActivityOptions:
    return ActivityOptions(
        timedelta(seconds=timeout_s + CONNECT_MARGIN_S), retry=retry_policy(attempts=1)
    )


@workflow.defn(name="RemoteWorkflow")
class RemoteWorkflow:
    @workflow.run
    async def run(self, inp: RemoteWorkflowInput) -> list[RemoteResult]:
        def batch(**fields: object) -> RemoteBatch:
            return RemoteBatch.model_validate(
                {
                    "namespace": inp.query.namespace,
                    "mcis": inp.query.mcis,
                    "command": inp.command,
                    "file_ref": inp.file_ref,
                    "destination": inp.destination,
                    "timeout_s": inp.timeout_s,
                    "concurrency": inp.concurrency,
                    **fields,
                }
            )

        options = remote_options(inp.timeout_s)
        try:
            # The first batch finds the scope's VMs itself (an unknown scope fails the workflow
            # here) and hands back those beyond it.
            first = await run_activity("run_remote", batch(query=inp.query), BatchOutcome, options)
            results = list(first.results)
            rest = first.rest
            batches = [
                rest[i : i + REMOTE_BATCH_SIZE] for i in range(0, len(rest), REMOTE_BATCH_SIZE)
            ]

            async def one(targets: list[VmTarget]) -> list[RemoteResult]:
                try:
                    done = await run_activity(
                        "run_remote", batch(targets=targets), BatchOutcome, options
                    )
                except ActivityError as exc:
                    error = failure_message(exc)
                    return [RemoteResult(vm=t.vm, exit_code=None, error=error) for t in targets]
                return done.results

            at_once = max(1, inp.concurrency // REMOTE_BATCH_SIZE)
            for done in await in_waves(batches, at_once, one):
                results += done
        finally:
            if inp.file_ref is not None:
                await run_activity("forget_upload", inp.file_ref, type(None), STORE)
        return sorted([*results, *first.skipped], key=lambda r: vm_order(r.vm))
