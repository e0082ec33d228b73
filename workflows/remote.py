"""The remote workflow: run one command (and/or put one file) on the VMs of an MCIS, a group or
one VM over SSH, with bounded concurrency, in batches of up to 50 VMs per activity (each VM its
own session and its own result). A command runs at most once per VM: a VM whose run failed is
reported, not retried."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from temporalio import workflow
from temporalio.exceptions import ActivityError

from models.naming import vm_order
from models.remote import (
    RemoteBatch,
    RemoteResult,
    RemoteTargets,
    RemoteWorkflowInput,
    VmTarget,
)
from workflows.failures import failure_message
from workflows.options import STORE, ActivityOptions, retry_policy, run_activity

CONNECT_MARGIN_S = 60.0
BATCH_SIZE = 50
"""VMs one activity reaches (each in its own SSH session, concurrently)."""


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
            found = targets.targets
            batches = [found[i : i + BATCH_SIZE] for i in range(0, len(found), BATCH_SIZE)]

            async def one(batch: list[VmTarget]) -> list[RemoteResult]:
                job = RemoteBatch(
                    namespace=inp.query.namespace,
                    mcis=inp.query.mcis,
                    targets=batch,
                    command=inp.command,
                    file_ref=inp.file_ref,
                    destination=inp.destination,
                    timeout_s=inp.timeout_s,
                    concurrency=inp.concurrency,
                )
                try:
                    return await run_activity(
                        "run_remote", job, list[RemoteResult], remote_options(inp.timeout_s)
                    )
                except ActivityError as exc:
                    error = failure_message(exc)
                    return [RemoteResult(vm=t.vm, exit_code=None, error=error) for t in batch]

            # Batches in waves (the next wave once a whole one has returned): what follows never
            # depends on how a replaying worker sees completions grouped.
            at_once = max(1, inp.concurrency // BATCH_SIZE)
            results = []
            for at in range(0, len(batches), at_once):
                wave = await asyncio.gather(*map(one, batches[at : at + at_once]))
                results += [r for batch in wave for r in batch]
        finally:
            if inp.file_ref is not None:
                await run_activity("forget_upload", inp.file_ref, type(None), STORE)
        return sorted([*results, *targets.skipped], key=lambda r: vm_order(r.vm))
