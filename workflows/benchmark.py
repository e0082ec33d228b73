"""The benchmark workflow (id `bench/NS/NAME/<token>`): a tool check that installs missing tools
where the VM can, then each action in turn over the Running VMs of an MCIS, every run a child
`RemoteWorkflow` (SSH keys stay inside its activities). The actions bounded by the CPU cap take
turns among VMs sharing a machine, so none measures another's load. What the VMs print stays in
the store: an activity reads it into missing tools or rows (histories from before that carry the
output in the child's results and are read here). It ends by recording the rows and feeding the
catalog a performance score per spec and an RTT per region pair."""

from __future__ import annotations

from temporalio import workflow
from temporalio.exceptions import ChildWorkflowError

from models.benchmark import (
    EXCLUSIVE,
    TOOL_OF,
    TOOLS_TIMEOUT_S,
    ActionRun,
    BenchAction,
    BenchmarkProgress,
    BenchmarkRecord,
    BenchmarkReport,
    BenchmarkWorkflowInput,
    BenchRow,
    BenchTargets,
    BenchVm,
    StepRun,
    ToolCheckRun,
    command,
    error_rows,
    performance_scores,
    region_rtts,
    sort_rows,
    tools_command,
    tools_for,
    turns,
)
from models.failures import failure_message
from models.remote import RemoteResult, RemoteRun, RemoteWorkflowInput, TargetQuery
from workflows.options import STORE, run_activity
from workflows.remote import RemoteWorkflow

ACTION_MARGIN_S = 120.0
"""Per VM and action, on top of the timed part: fio's file layout, SQLite's setup, slow SSH."""
OUTPUT_IN_STORE = "bench-output-in-store"
"""Patch, per step (`bench-output-in-store/<step>`): its output is read from the store by an
activity, not from the child's results. Per step, so a run that was going when the patch came
reads its earlier steps as it did and its later ones from the store."""


def benchmark_workflow_id(namespace: str, mcis: str, token: str) -> str:
    return f"bench/{namespace}/{mcis}/{token}"


@workflow.defn(name="BenchmarkWorkflow")
class BenchmarkWorkflow:
    def __init__(self) -> None:
        self._progress = BenchmarkProgress()

    @workflow.query
    def progress(self) -> BenchmarkProgress:
        return self._progress

    def _show(self, inp: BenchmarkWorkflowInput, progress: BenchmarkProgress) -> None:
        """The progress is also the workflow's current details in the Temporal UI."""
        self._progress = progress
        workflow.set_current_details(progress.line(f"{inp.namespace}/{inp.mcis}"))

    @workflow.run
    async def run(self, inp: BenchmarkWorkflowInput) -> BenchmarkReport:
        started = workflow.now()
        query = TargetQuery(namespace=inp.namespace, mcis=inp.mcis)
        found = await run_activity("benchmark_targets", query, BenchTargets, STORE)
        self._show(inp, BenchmarkProgress(step="checking tools"))
        tools = tools_for(inp.actions)
        checks = await self._remote(inp, found.vms, tools_command(tools), "tools", TOOLS_TIMEOUT_S)
        check = ToolCheckRun(**dict(checks), tools=tools)
        missing = (
            check.missing(check.results)
            if check.run is None
            else await run_activity("benchmark_tools", check, dict[str, dict[str, str]], STORE)
        )
        rows: list[BenchRow] = []
        for index, action in enumerate(inp.actions, 1):
            rows += await self._action(inp, action, index, found.vms, missing)
        rows = sort_rows(rows)
        record = BenchmarkRecord(
            run_id=workflow.info().workflow_id,
            namespace=inp.namespace,
            mcis=inp.mcis,
            rows=rows,
            performance=performance_scores(rows),
            rtts=region_rtts(rows),
        )
        self._show(inp, BenchmarkProgress(step="recording"))
        warnings = await run_activity("record_benchmark", record, list[str], STORE)
        return BenchmarkReport(
            **dict(record),
            started_at=started,
            finished_at=workflow.now(),
            warnings=[*found.skipped, *warnings],
        )

    async def _action(
        self,
        inp: BenchmarkWorkflowInput,
        action: BenchAction,
        index: int,
        vms: list[BenchVm],
        missing: dict[str, dict[str, str]],
    ) -> list[BenchRow]:
        """`action` on every VM that has its tool (at once, or in turns if EXCLUSIVE)."""
        tool = TOOL_OF[action].command
        ready = [vm for vm in vms if tool not in missing[vm.vm]]
        rows = [
            row
            for vm in vms
            if tool in missing[vm.vm]
            for row in error_rows(action, vm, missing[vm.vm][tool], workflow.now())
        ]
        self._show(
            inp,
            BenchmarkProgress(
                step=action.value,
                index=index,
                total=len(inp.actions),
                vms_done=len(rows),
                vms=len(vms),
            ),
        )
        groups = turns(ready) if action in EXCLUSIVE else [ready]
        text = command(action, inp, vms)
        timeout_s = inp.seconds + ACTION_MARGIN_S
        for number, group in enumerate(groups, 1):
            name = action.value if len(groups) == 1 else f"{action.value}-{number}"
            step = await self._remote(inp, group, text, name, timeout_s)
            ran = ActionRun(**dict(step), action=action, at=workflow.now())
            rows += (
                ran.rows(ran.results)
                if ran.run is None
                else await run_activity("benchmark_rows", ran, list[BenchRow], STORE)
            )
            done = self._progress.vms_done + len(group)
            self._show(inp, self._progress.model_copy(update={"vms_done": done}))
        return rows

    async def _remote(
        self,
        inp: BenchmarkWorkflowInput,
        vms: list[BenchVm],
        text: str,
        name: str,
        timeout_s: float,
    ) -> StepRun:
        """`text` on `vms` through a child remote workflow: a result per VM."""
        if not vms:
            return StepRun(run=None, results={}, vms=[])
        remote = RemoteWorkflowInput(
            query=TargetQuery(namespace=inp.namespace, mcis=inp.mcis, vms=[vm.vm for vm in vms]),
            command=text,
            timeout_s=timeout_s,
        )
        child = await workflow.start_child_workflow(
            RemoteWorkflow.run, remote, id=f"{workflow.info().workflow_id}/{name}"
        )
        try:
            results = await child
        except ChildWorkflowError as exc:
            error = failure_message(exc)
            results = [RemoteResult(vm=vm.vm, exit_code=None, error=error) for vm in vms]
        by_vm = {r.vm: r for r in results}
        each = {
            vm.vm: by_vm.get(vm.vm, RemoteResult(vm=vm.vm, exit_code=None, error="no result"))
            for vm in vms
        }
        run = RemoteRun.model_validate(
            {"workflow_id": child.id, "run_id": child.first_execution_run_id}
        )
        stored = workflow.patched(f"{OUTPUT_IN_STORE}/{name}")
        return StepRun(run=run if stored else None, results=each, vms=vms)
