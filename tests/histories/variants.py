"""McisWorkflow changed, for the test that proves the replay guard (tests/workflows/
test_replay.py): an activity no recorded history has, issued before anything else, once without
and once behind `workflow.patched`. A module of their own because the workflow sandbox
re-imports the module that defines a workflow, and a test module's imports do not belong there."""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow

from models.mcis import McisView
from models.operations import McisWorkflowInput
from workflows.mcis import McisWorkflow

PATCH = "announce-mcis"


async def announce(inp: McisWorkflowInput) -> None:
    await workflow.execute_activity(
        "announce_mcis", inp.request.name, start_to_close_timeout=timedelta(seconds=10)
    )


@workflow.defn(name="McisWorkflow")
class UnpatchedMcisWorkflow(McisWorkflow):
    @workflow.run
    async def run(self, inp: McisWorkflowInput) -> McisView:
        await announce(inp)
        return await super().run(inp)


@workflow.defn(name="McisWorkflow")
class PatchedMcisWorkflow(McisWorkflow):
    @workflow.run
    async def run(self, inp: McisWorkflowInput) -> McisView:
        if workflow.patched(PATCH):
            await announce(inp)
        return await super().run(inp)
