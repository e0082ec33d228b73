"""The remote output store on a temporary SQLite file: outputs read back by run and VM, a VM's
output written again replaced, other runs apart, old outputs forgotten; and results given their
VM's output back."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

import store.remote_outputs
from models.remote import RemoteResult, RemoteRun, VmOutput, with_output
from store.remote_outputs import KEEP_FOR, RemoteOutputStore
from store.tables import utc_now

RUN = RemoteRun(workflow_id="remote/ns/m/1", run_id="r1")


@pytest.fixture
def outputs(tmp_path: Path) -> Iterator[RemoteOutputStore]:
    found = RemoteOutputStore(f"sqlite:///{tmp_path / 'mcis.db'}")
    yield found
    found.close()


def test_outputs_read_back_by_run_and_vm(outputs: RemoteOutputStore) -> None:
    outputs.save(RUN, [VmOutput(vm="web-1", stdout="a\n"), VmOutput(vm="web-2", stderr="b\n")])
    outputs.save(RUN, [VmOutput(vm="web-1", stdout="again\n")])
    outputs.save(RUN.model_copy(update={"run_id": "r2"}), [VmOutput(vm="web-1", stdout="r2\n")])
    assert outputs.read(RUN) == {
        "web-1": VmOutput(vm="web-1", stdout="again\n"),
        "web-2": VmOutput(vm="web-2", stderr="b\n"),
    }
    assert outputs.read(RemoteRun(workflow_id="remote/ns/m/2", run_id="r1")) == {}


def test_outputs_older_than_keep_for_are_forgotten(
    outputs: RemoteOutputStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    then = utc_now() - KEEP_FOR - timedelta(minutes=1)
    monkeypatch.setattr(store.remote_outputs, "utc_now", lambda: then)
    outputs.save(RUN, [VmOutput(vm="web-1", stdout="old\n")])
    monkeypatch.undo()
    later = RUN.model_copy(update={"run_id": "r2"})
    outputs.save(later, [])
    assert outputs.read(RUN) == {}


def test_results_get_their_vms_output_back() -> None:
    results = [
        RemoteResult(vm="web-1", exit_code=0, stdout_bytes=2),
        RemoteResult(vm="web-2", exit_code=0, stdout="from before\n"),  # an older run's result
    ]
    shown = with_output(results, {"web-1": VmOutput(vm="web-1", stdout="a\n", stderr="e\n")})
    assert [(r.vm, r.stdout, r.stderr, r.stdout_bytes) for r in shown] == [
        ("web-1", "a\n", "e\n", 2),
        ("web-2", "from before\n", "", 0),
    ]
