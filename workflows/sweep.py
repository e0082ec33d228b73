"""The sweep workflow (`mcis reconcile --all`, id `sweep/<id>`): find the VMs the clouds hold with
mcis tags that no MCIS owns (orphans), those a live MCIS could adopt, and the records whose VM is
gone; with `delete_orphans`, terminate each orphan (one activity each, tolerating a VM already
gone). Orchestration only: the clouds and the store are reached by activities."""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.exceptions import ActivityError

from models.failures import failure_message
from models.sweep import Orphan, OrphanRef, SweepInput, SweepReport
from workflows.options import CLOUD, ActivityOptions, retry_policy, run_activity
from workflows.waves import in_waves

SCAN = ActivityOptions(timedelta(minutes=10), timedelta(seconds=30), retry_policy(attempts=5))
TERMINATIONS_AT_ONCE = 20


def sweep_workflow_id(suffix: str) -> str:
    return f"sweep/{suffix}"


@workflow.defn(name="SweepWorkflow")
class SweepWorkflow:
    @workflow.run
    async def run(self, inp: SweepInput) -> SweepReport:
        report = await run_activity("scan_for_orphans", inp, SweepReport, SCAN)
        if not inp.delete_orphans or not report.orphans:
            return report

        async def terminate(orphan: Orphan) -> Orphan:
            ref = OrphanRef(
                provider=orphan.provider,
                region=orphan.region,
                csp_id=orphan.csp_id,
                namespace=orphan.namespace,
                mcis=orphan.mcis,
                uid=orphan.uid,
            )
            try:
                action = await run_activity("terminate_orphan", ref, str, CLOUD)
            except ActivityError as exc:
                action = f"failed: {failure_message(exc)}"
            return orphan.model_copy(update={"action": action})

        orphans = await in_waves(report.orphans, TERMINATIONS_AT_ONCE, terminate)
        return report.model_copy(update={"orphans": orphans})
