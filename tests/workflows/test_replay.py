"""Replay safety: every history recorded at a release (`tests/histories/<release>/*.json`, see
`tests.histories`) replays on today's workflow code without nondeterminism, one test per file;
every workflow type has recorded histories and none holds key material. And the guard itself
is proven: McisWorkflow changed without `workflow.patched` (one extra activity before anything
else) fails to replay a recorded create, while the same change behind a patch replays it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from temporalio import workflow
from temporalio.client import WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Replayer

from tests.e2e.test_create_delete import decoded_history
from tests.histories.record import HISTORIES, WORKFLOW_IDS, workflow_type
from tests.histories.variants import PatchedMcisWorkflow, UnpatchedMcisWorkflow
from workflows.mcis import McisWorkflow
from workflows.registry import ALL_WORKFLOWS, workflow_runner

RECORDED = sorted(p for p in HISTORIES.glob("*/*.json") if p.name != WORKFLOW_IDS)
CREATES = sorted(HISTORIES.glob("*/McisWorkflow-create.json"))


def label(path: Path) -> str:
    return f"{path.parent.name}/{path.name}"


def load(path: Path) -> WorkflowHistory:
    """The history with its workflow id (a workflow may name its children after it)."""
    ids = json.loads((path.parent / WORKFLOW_IDS).read_text())
    return WorkflowHistory.from_json(ids[path.name], path.read_text())


def replayer(*workflows: type) -> Replayer:
    return Replayer(
        workflows=list(workflows),
        data_converter=pydantic_data_converter,
        workflow_runner=workflow_runner(),
    )


@pytest.mark.parametrize("path", RECORDED, ids=label)
async def test_recorded_history_replays(path: Path) -> None:
    await replayer(*ALL_WORKFLOWS).replay_workflow(load(path))


def test_every_workflow_type_has_recorded_histories() -> None:
    names = {workflow._Definition.must_from_class(cls).name for cls in ALL_WORKFLOWS}
    recorded = {workflow_type(load(path)) for path in RECORDED}
    assert names - recorded == set(), "record them: make histories"
    assert CREATES, "no McisWorkflow-create.json: make histories"


def test_no_key_material_in_recorded_histories() -> None:
    leaks = [label(path) for path in RECORDED if "PRIVATE KEY" in decoded_history(path.read_text())]
    assert leaks == []


@pytest.mark.parametrize("path", CREATES, ids=label)
async def test_an_unpatched_change_fails_to_replay_and_a_patched_one_replays(path: Path) -> None:
    history = load(path)
    unpatched = await replayer(UnpatchedMcisWorkflow).replay_workflow(
        history, raise_on_replay_failure=False
    )
    assert isinstance(unpatched.replay_failure, workflow.NondeterminismError)
    assert "Nondeterminism error" in str(unpatched.replay_failure)
    await replayer(PatchedMcisWorkflow).replay_workflow(history)
    await replayer(McisWorkflow).replay_workflow(history)
