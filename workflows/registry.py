"""The workflows a worker runs, and the sandbox settings that keep them cheap to start
(pydantic and the pure models are passed through instead of re-imported per run)."""

from __future__ import annotations

from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

from workflows.benchmark import BenchmarkWorkflow
from workflows.mcir import ResourceWorkflow
from workflows.mcis import McisWorkflow
from workflows.policy import PolicyWorkflow
from workflows.remote import RemoteWorkflow
from workflows.sweep import SweepWorkflow

ALL_WORKFLOWS: list[type] = [
    McisWorkflow,
    ResourceWorkflow,
    RemoteWorkflow,
    PolicyWorkflow,
    SweepWorkflow,
    BenchmarkWorkflow,
]

PASSTHROUGH_MODULES = ("pydantic", "pydantic_core", "annotated_types", "models")


def workflow_runner() -> SandboxedWorkflowRunner:
    return SandboxedWorkflowRunner(
        restrictions=SandboxRestrictions.default.with_passthrough_modules(*PASSTHROUGH_MODULES)
    )
