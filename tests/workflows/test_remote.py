"""The remote workflow against a real sshd on loopback: one result per VM with its own
environment, files put through the encrypted store (and removed after), host keys recorded,
no key material anywhere in the workflow's history."""

from __future__ import annotations

import base64
import hashlib
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from temporalio import activity
from temporalio.worker import Worker

from activities.remote import RemoteActivities, upload_ref
from models.remote import RemoteResult, RemoteTargets, RemoteWorkflowInput, TargetQuery, VmTarget
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


def loopback_targets(port: int) -> RemoteTargets:
    """Three 'VMs' that are all the loopback sshd, and one that is not running."""
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
            for i in (1, 2, 10)
        ],
        skipped=[RemoteResult(vm="web-3", exit_code=None, error="not Running (Suspended)")],
    )


async def run_remote_workflow(
    harness: Harness, sshd: Sshd, inp: RemoteWorkflowInput
) -> tuple[list[RemoteResult], str]:
    @activity.defn(name="remote_targets")
    async def targets(query: TargetQuery) -> RemoteTargets:
        return loopback_targets(sshd.port)

    remote = RemoteActivities(harness.deps)
    async with Worker(
        harness.client,
        task_queue=harness.task_queue,
        workflows=ALL_WORKFLOWS,
        activities=[targets, remote.run_remote, remote.forget_upload],
        workflow_runner=workflow_runner(),
    ):
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
