"""The remote workflow against a real sshd on loopback: one result per VM with its own
environment, files put through the encrypted store (and removed after), host keys recorded,
no key material anywhere in the workflow's history, and what the VMs print kept in the store:
the history stays small however much they print, and `mcis cmd --json` shows it all."""

from __future__ import annotations

import base64
import hashlib
import json
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest
from temporalio import activity
from temporalio.client import WorkflowFailureError, WorkflowHistory
from temporalio.worker import Worker

from activities.deps import ActivityDeps
from activities.remote import RemoteActivities, upload_ref
from models.failures import failure_message
from models.records import McisRecord
from models.remote import (
    REMOTE_BATCH_SIZE,
    RemoteResult,
    RemoteRun,
    RemoteTargets,
    RemoteWorkflowInput,
    TargetQuery,
    VmTarget,
    with_output,
)
from starter.cli import run as run_cli
from starter.errors import FAILED
from store.remote_outputs import RemoteOutputStore
from tests.sshd_server import Sshd, sshd_available, start_sshd
from tests.workflows.conftest import Harness
from tests.workflows.mcis_helpers import store_ssh_key
from workflows.registry import ALL_WORKFLOWS, workflow_runner
from workflows.remote import RemoteWorkflow

pytestmark = pytest.mark.skipif(not sshd_available(), reason="sshd is not installed")


@pytest.fixture(scope="module")
def sshd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sshd]:
    server = start_sshd(tmp_path_factory.mktemp("sshd"))
    yield server
    server.stop()


def loopback_targets(port: int, running: Sequence[int] = (1, 2, 10)) -> RemoteTargets:
    """'VMs' web-N (N in `running`) that are all the loopback sshd, and web-3 not running."""
    return RemoteTargets(
        targets=[
            VmTarget(
                vm=f"web-{i}",
                group="web",
                provider="aws",
                region="r1",
                csp_id=f"i-{i}",
                host="127.0.0.1",
                port=port,
                ssh_key="key",
            )
            for i in running
        ],
        skipped=[RemoteResult(vm="web-3", exit_code=None, error="not Running (Suspended)")],
    )


def remote_worker(harness: Harness, remote: RemoteActivities) -> Worker:
    return Worker(
        harness.client,
        task_queue=harness.task_queue,
        workflows=ALL_WORKFLOWS,
        activities=[remote.run_remote, remote.forget_upload],
        workflow_runner=workflow_runner(),
    )


class LoopbackRemote(RemoteActivities):
    """Remote activities whose VMs are `loopback_targets`; the workflows they found VMs for
    in `workflow_ids`."""

    def __init__(self, deps: ActivityDeps, port: int, running: Sequence[int]) -> None:
        super().__init__(deps)
        self.port, self.running = port, running
        self.workflow_ids: list[str] = []

    async def targets(self, query: TargetQuery) -> RemoteTargets:
        self.workflow_ids.append(activity.info().workflow_id or "")
        return loopback_targets(self.port, self.running)


async def run_remote_workflow(
    harness: Harness, sshd: Sshd, inp: RemoteWorkflowInput, running: Sequence[int] = (1, 2, 10)
) -> tuple[list[RemoteResult], str]:
    """The results of the workflow with the output the store keeps of them (as `mcis cmd`
    shows them), and its history with every payload decoded."""
    async with remote_worker(harness, LoopbackRemote(harness.deps, sshd.port, running)):
        handle = await harness.client.start_workflow(
            RemoteWorkflow.run, inp, id=f"remote-{uuid.uuid4()}", task_queue=harness.task_queue
        )
        results = await handle.result()
        history = await handle.fetch_history()
    run = RemoteRun.model_validate({"workflow_id": handle.id, "run_id": handle.result_run_id})
    outputs = RemoteOutputStore(harness.store.database_url).read(run)
    payloads = [p.decode(errors="replace") for p in payload_data(history)]
    return with_output(results, outputs), "\n".join(payloads)


def payload_data(history: WorkflowHistory) -> list[bytes]:
    """Every payload of the history, decoded."""
    return [base64.b64decode(data) for data in _payload_data(history.to_json_dict())]


def _payload_data(node: object) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "data" and isinstance(value, str):
                yield value
            else:
                yield from _payload_data(value)
    elif isinstance(node, list):
        for item in node:
            yield from _payload_data(item)


@pytest.fixture
def keyed(harness: Harness, sshd: Sshd) -> Harness:
    store_ssh_key(harness, sshd.private_key)
    return harness


async def test_command_runs_once_per_vm_with_its_own_identity(keyed: Harness, sshd: Sshd) -> None:
    inp = RemoteWorkflowInput(
        query=TargetQuery(namespace="ns", mcis="m"),
        command='echo "$MCIS_VM $MCIS_REGION $MCIS_NAME"',
    )
    results, history = await run_remote_workflow(keyed, sshd, inp)
    assert [(r.vm, r.exit_code, r.stdout) for r in results] == [
        ("web-1", 0, "web-1 r1 m\n"),
        ("web-2", 0, "web-2 r1 m\n"),
        ("web-3", None, ""),
        ("web-10", 0, "web-10 r1 m\n"),
    ]
    assert results[2].error == "not Running (Suspended)"
    assert {keyed.store.get_host_key(f"aws/i-{i}") for i in (1, 2, 10)} != {None}
    body = sshd.private_key.splitlines()[1]
    assert "MCIS_VM" in history and body not in history and "PRIVATE KEY" not in history


async def test_beyond_one_batch_every_vm_runs_the_command_exactly_once(
    keyed: Harness, sshd: Sshd, tmp_path: Path
) -> None:
    log = tmp_path / "ran.log"
    running = [i for i in range(1, REMOTE_BATCH_SIZE + 13) if i != 3]  # 61 VMs: two batches
    inp = RemoteWorkflowInput(
        query=TargetQuery(namespace="ns", mcis="m"),
        command=f'echo "$MCIS_VM" >> {log}',
        concurrency=10,
    )
    results, history = await run_remote_workflow(keyed, sshd, inp, running)
    assert [r.vm for r in results] == [f"web-{i}" for i in range(1, REMOTE_BATCH_SIZE + 13)]
    assert [r.vm for r in results if r.exit_code != 0] == ["web-3"]
    assert sorted(log.read_text().split()) == sorted(f"web-{i}" for i in running)
    assert history.count("web-61") >= 2  # the second batch was handed its targets


async def test_an_unknown_scope_fails_the_workflow_with_one_clear_message(
    harness: Harness,
) -> None:
    async with remote_worker(harness, RemoteActivities(harness.deps)):
        inp = RemoteWorkflowInput(
            query=TargetQuery(namespace="ns", mcis="nowhere", group="web"), command="true"
        )
        with pytest.raises(WorkflowFailureError) as failed:
            await harness.client.execute_workflow(
                RemoteWorkflow.run, inp, id=f"remote-{uuid.uuid4()}", task_queue=harness.task_queue
            )
    assert failure_message(failed.value) == "no group 'web' in MCIS 'nowhere' of namespace 'ns'"


async def test_put_goes_through_the_encrypted_store_and_is_removed(
    keyed: Harness, sshd: Sshd, tmp_path: Path
) -> None:
    ref = upload_ref("t1")
    keyed.store.put_secret(ref, base64.b64encode(b"top secret config\n").decode())
    destination = str(tmp_path / "put" / "app.conf")
    inp = RemoteWorkflowInput(
        query=TargetQuery(namespace="ns", mcis="m"),
        file_ref=ref,
        destination=destination,
        command=f"md5sum < {destination}",
        # one VM at a time: the three loopback "VMs" share one file system, and a put to one
        # truncates the file another may be reading
        concurrency=1,
    )
    results, history = await run_remote_workflow(keyed, sshd, inp)
    digest = hashlib.md5(b"top secret config\n").hexdigest()
    assert {r.stdout.split()[0] for r in results if r.exit_code == 0} == {digest}
    assert not keyed.store.has_secret(ref)
    assert "top secret config" not in history


async def test_large_output_stays_out_of_the_history_and_cmd_json_shows_it(
    keyed: Harness,
    sshd: Sshd,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    keyed.store.create_mcis(McisRecord(namespace="ns", name="m", uid="u1"))
    for name, value in {
        "MCIS_HOME": str(tmp_path / "home"),
        "MCIS_DATABASE_URL": keyed.store.database_url,
        "TEMPORAL_ADDRESS": keyed.client.service_client.config.target_host,
        "MCIS_TASK_QUEUE": keyed.task_queue,
    }.items():
        monkeypatch.setenv(name, value)
    running = [i for i in range(1, REMOTE_BATCH_SIZE + 2) if i != 3]  # 50, web-3 not Running
    remote = LoopbackRemote(keyed.deps, sshd.port, running)
    printing = 'yes "$MCIS_VM" | head -c 30000; yes oops | head -c 30000 >&2'  # 30 kB each
    async with remote_worker(keyed, remote):
        code = await run_cli(["cmd", "ns", "m", "--json", "--concurrency", "10", "--", printing])
        history = await keyed.client.get_workflow_handle(remote.workflow_ids[0]).fetch_history()
    rows = json.loads(capsys.readouterr().out)
    assert code == FAILED  # web-3 did not run
    assert [row["vm"] for row in rows] == [f"web-{i}" for i in range(1, REMOTE_BATCH_SIZE + 2)]
    assert rows[2]["error"] == "not Running (Suspended)"
    for row in rows[:2] + rows[3:]:
        printed = (f"{row['vm']}\n" * 30000)[:30000]
        assert row["stdout"] == printed[:16_000] + "\n[... 14000 more characters cut]"
        assert row["stderr"] == "oops\n" * 3200 + "\n[... 14000 more characters cut]"
        assert (row["exit_code"], row["stdout_bytes"], row["stderr_bytes"]) == (0, 30000, 30000)
    sizes = [len(data) for data in payload_data(history)]
    assert max(sizes) < 10_000  # the biggest: 50 VMs' summaries (before: 1.9 MB of output)
    assert sum(sizes) < 30_000
