"""The benchmark workflow against a real sshd on loopback standing in for the VMs (this machine's
sysbench, SQLite and ping): a row per VM and action (mrtt per peer), the rows stored, the catalog
fed (performance per spec, RTT per region pair; a spec it lacks is a warning), VMs that are not
Running reported, every action a child remote workflow, no key material in any history."""

from __future__ import annotations

import base64
import shutil
import uuid
from collections.abc import Iterator

import pytest
from temporalio.client import WorkflowFailureError
from temporalio.worker import Worker

from activities.benchmark import BenchmarkActivities
from activities.remote import RemoteActivities
from catalog.records import CatalogRegion, CatalogSource, CatalogSpec, RttSource
from catalog.store import CatalogStore
from models.benchmark import (
    BenchAction,
    BenchmarkProgress,
    BenchmarkReport,
    BenchmarkWorkflowInput,
)
from models.failures import failure_message, failure_type
from models.records import McisRecord, VmRecord
from models.remote import RemoteTargets, TargetQuery
from models.status import VmStatus
from models.workflow_input import INVALID_INPUT
from store.benchmarks import BenchmarkStore
from tests.sshd_server import Sshd, sshd_available, start_sshd
from tests.workflows.conftest import Harness
from tests.workflows.mcis_helpers import store_ssh_key
from workflows.benchmark import BenchmarkWorkflow, benchmark_workflow_id
from workflows.registry import ALL_WORKFLOWS, workflow_runner

MISSING_TOOLS = [t for t in ("sysbench", "sqlite3", "ping") if shutil.which(t) is None]
pytestmark = [
    pytest.mark.skipif(not sshd_available(), reason="sshd is not installed"),
    pytest.mark.skipif(bool(MISSING_TOOLS), reason=f"missing {MISSING_TOOLS}"),
]

ACTIONS = [BenchAction.CPUM, BenchAction.DBW, BenchAction.RTT, BenchAction.MRTT]


@pytest.fixture(scope="module")
def sshd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sshd]:
    server = start_sshd(tmp_path_factory.mktemp("sshd"))
    yield server
    server.stop()


def vm_record(name: str, region: str, spec: str, address: str, status: VmStatus) -> VmRecord:
    return VmRecord(
        namespace="ns",
        mcis="m",
        name=name,
        group=name.rpartition("-")[0],
        provider="aws",
        region=region,
        spec=f"aws+{region}+{spec}",
        image=f"aws+{region}+img",
        client_token=f"token-{name}",
        csp_id=f"i-{name}",
        status=status,
        public_ip=address,
        ssh_key="key",
    )


@pytest.fixture
def mcis(harness: Harness, sshd: Sshd) -> Harness:
    """MCIS `m`: web-1, web-2 (spec small in r1), db-1 (spec big in r2), db-2 suspended; the
    catalog holds r1's spec only."""
    store = harness.store
    store_ssh_key(harness, sshd.private_key)
    store.create_mcis(McisRecord(namespace="ns", name="m", uid="u1"))
    running = VmStatus.RUNNING
    store.upsert_vms(
        [
            vm_record("web-1", "r1", "small", "127.0.0.1", running),
            vm_record("web-2", "r1", "small", "127.0.0.2", running),
            vm_record("db-1", "r2", "big", "127.0.0.3", running),
            vm_record("db-2", "r2", "big", "127.0.0.4", VmStatus.SUSPENDED),
        ]
    )
    CatalogStore(store.database_url).replace_source(
        CatalogSource.DRIVERS,
        [CatalogRegion(provider="aws", name="r1", latitude=0, longitude=0, source="drivers")],
        [
            CatalogSpec(
                provider="aws",
                region="r1",
                name="small",
                vcpus=1,
                memory_gib=1,
                price_per_hour=0.01,
                source=CatalogSource.DRIVERS,
            )
        ],
        origin="test",
    )
    return harness


async def run_benchmark(
    harness: Harness, sshd: Sshd, inp: BenchmarkWorkflowInput
) -> tuple[BenchmarkReport, str]:
    """The report and the workflow id of a benchmark run by a worker whose remote targets are
    the VMs of the store, every one reached at the loopback sshd."""

    class LoopbackRemote(RemoteActivities):
        async def targets(self, query: TargetQuery) -> RemoteTargets:
            found = await super().targets(query)
            loopback = {"host": "127.0.0.1", "port": sshd.port}
            return found.model_copy(
                update={"targets": [t.model_copy(update=loopback) for t in found.targets]}
            )

    remote, bench = LoopbackRemote(harness.deps), BenchmarkActivities(harness.deps)
    workflow_id = benchmark_workflow_id(inp.namespace, inp.mcis, uuid.uuid4().hex[:12])
    async with Worker(
        harness.client,
        task_queue=harness.task_queue,
        workflows=ALL_WORKFLOWS,
        activities=[
            remote.run_remote,
            bench.benchmark_targets,
            bench.benchmark_tools,
            bench.benchmark_rows,
            bench.record_benchmark,
        ],
        workflow_runner=workflow_runner(),
    ):
        handle = await harness.client.start_workflow(
            BenchmarkWorkflow.run, inp, id=workflow_id, task_queue=harness.task_queue
        )
        report = await handle.result()
        assert await handle.query(BenchmarkWorkflow.progress) == BenchmarkProgress(step="recording")
    return report, workflow_id


def _payloads(node: object) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "data" and isinstance(value, str):
                yield base64.b64decode(value).decode(errors="replace")
            else:
                yield from _payloads(value)
    elif isinstance(node, list):
        for item in node:
            yield from _payloads(item)


async def history_text(harness: Harness, workflow_ids: list[str]) -> str:
    """The histories of these workflows with every payload decoded."""
    texts = []
    for workflow_id in workflow_ids:
        history = await harness.client.get_workflow_handle(workflow_id).fetch_history()
        texts += [history.to_json(), *_payloads(history.to_json_dict())]
    return "\n".join(texts)


async def test_benchmark_rows_store_and_catalog(mcis: Harness, sshd: Sshd) -> None:
    inp = BenchmarkWorkflowInput(namespace="ns", mcis="m", actions=ACTIONS, seconds=1, pings=2)
    report, workflow_id = await run_benchmark(mcis, sshd, inp)

    assert [r.error for r in report.rows] == [None] * len(report.rows), report.rows
    found = {(r.action, r.vm, r.target) for r in report.rows}
    vms = ("db-1", "web-1", "web-2")
    assert found == {
        *((a, v, None) for a in (BenchAction.CPUM, BenchAction.DBW) for v in vms),
        *((BenchAction.RTT, v, "127.0.0.1") for v in vms),
        *((BenchAction.MRTT, v, peer) for v in vms for peer in vms if peer != v),
    }
    assert [r.vm for r in report.rows][:3] == ["db-1", "web-1", "web-2"]
    assert all(r.value and r.value > 0 for r in report.rows)
    assert report.warnings == [
        "db-2: not Running (Suspended)",
        "spec aws+r2+big is not in the catalog: its score is not recorded (`mcis catalog refresh`)",
    ]
    assert [p.spec_id for p in report.performance] == ["aws+r1+small", "aws+r2+big"]
    assert [(m.a, m.b) for m in report.rtts] == [("aws/r1", "aws/r1"), ("aws/r1", "aws/r2")]

    assert BenchmarkStore(mcis.store.database_url).latest("ns", "m") == report.rows
    catalog = CatalogStore(mcis.store.database_url)
    [small] = catalog.specs()
    assert small.performance == report.performance[0].score
    measured = {
        (e.a, e.b): e.rtt_ms for e in catalog.rtt_entries() if e.source is RttSource.MEASURED
    }
    assert measured == {(m.a, m.b): m.rtt_ms for m in report.rtts}

    children = [f"{workflow_id}/{name}" for name in ("tools", "cpum", "dbW", "rtt", "mrtt")]
    histories = await history_text(mcis, [workflow_id, *children])
    assert "sysbench cpu --threads=$(nproc)" in histories
    body = sshd.private_key.splitlines()[1]
    assert body not in histories and "PRIVATE KEY" not in histories


async def test_an_mcis_without_vms_fails_with_one_line(mcis: Harness, sshd: Sshd) -> None:
    inp = BenchmarkWorkflowInput(namespace="ns", mcis="nothing", actions=[BenchAction.CPUS])
    with pytest.raises(WorkflowFailureError) as failed:
        await run_benchmark(mcis, sshd, inp)
    assert failure_message(failed.value) == "no VMs in MCIS 'nothing' of namespace 'ns'"


async def test_a_raw_invalid_input_fails_at_once(harness: Harness) -> None:
    async with harness.worker():
        with pytest.raises(WorkflowFailureError) as failed:
            await harness.client.execute_workflow(
                "BenchmarkWorkflow",
                {"namespace": "ns", "mcis": "m", "actions": ["disk"]},
                id=f"bench/ns/m/{uuid.uuid4().hex[:8]}",
                task_queue=harness.task_queue,
            )
    assert failure_type(failed.value) == INVALID_INPUT
    assert failure_message(failed.value).startswith("invalid BenchmarkWorkflowInput: actions.0:")
