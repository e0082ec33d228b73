"""The remote workflow against a real sshd on loopback: one result per VM with its own
environment, files put through the encrypted store (and removed after), host keys recorded,
no key material anywhere in the workflow's history."""

from __future__ import annotations

import base64
import hashlib
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest
from temporalio.client import WorkflowFailureError
from temporalio.worker import Worker

from activities.remote import RemoteActivities, upload_ref
from models.remote import (
    REMOTE_BATCH_SIZE,
    RemoteResult,
    RemoteTargets,
    RemoteWorkflowInput,
    TargetQuery,
    VmTarget,
)
from tests.sshd_server import Sshd, sshd_available, start_sshd
from tests.workflows.conftest import Harness
from tests.workflows.mcis_helpers import store_ssh_key
from workflows.failures import failure_message
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


async def run_remote_workflow(
    harness: Harness, sshd: Sshd, inp: RemoteWorkflowInput, running: Sequence[int] = (1, 2, 10)
) -> tuple[list[RemoteResult], str]:
    class LoopbackRemote(RemoteActivities):
        async def targets(self, query: TargetQuery) -> RemoteTargets:
            return loopback_targets(sshd.port, running)

    async with remote_worker(harness, LoopbackRemote(harness.deps)):
        handle = await harness.client.start_workflow(
            RemoteWorkflow.run, inp, id=f"remote-{uuid.uuid4()}", task_queue=harness.task_queue
        )
        results = await handle.result()
        history = await handle.fetch_history()
    payloads = [
        base64.b64decode(p).decode(errors="replace") for p in _payload_data(history.to_json_dict())
    ]
    return results, "\n".join(payloads)


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
    )
    results, history = await run_remote_workflow(keyed, sshd, inp)
    digest = hashlib.md5(b"top secret config\n").hexdigest()
    assert {r.stdout.split()[0] for r in results if r.exit_code == 0} == {digest}
    assert not keyed.store.has_secret(ref)
    assert "top secret config" not in history
