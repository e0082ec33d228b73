"""An activity waiting on a slow cloud keeps heartbeating while the call runs, so Temporal never
times out (and retries next to) an attempt that is still alive: a create that outlasts the
heartbeat timeout must not become a second VM, a reconcile over slow listings must not restart.

The driver here answers only once the activity has heartbeated a few times while its call was
in flight: an activity that does not heartbeat during the call hangs and the test fails."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from temporalio.testing import ActivityEnvironment

from activities import cloud_calls
from activities.deps import ActivityDeps
from activities.vms import VmActivities
from models.cloud import CloudVm, VmCreateRequest
from models.mcis import McisRequest
from models.operations import CreateVmInput, NetworkRefs, ReconcileInput
from models.plan import plan_vms
from models.records import VmRecord
from store.repository import Store
from tests.fake_cloud import FakeCloud, FakeDriver

BEATS_BEFORE_ANSWER = 3
GUARD_S = 30.0  # only ends a hung test; nothing is timed


class SlowDriver(FakeDriver):
    """Creates and lists only after `answer` is set."""

    def __init__(self, cloud: FakeCloud, answer: asyncio.Event) -> None:
        super().__init__("aws", cloud)
        self.answer = answer

    async def create_vm(self, region: str, request: VmCreateRequest) -> CloudVm:
        await self.answer.wait()
        return await super().create_vm(region, request)

    async def list_vms(self, region: str, tags: dict[str, str] | None = None) -> list[CloudVm]:
        await self.answer.wait()
        return await super().list_vms(region, tags)


@pytest.fixture
def cloud() -> FakeCloud:
    return FakeCloud()


@pytest.fixture
def answer() -> asyncio.Event:
    return asyncio.Event()


@pytest.fixture
def vms(tmp_path: Path, cloud: FakeCloud, answer: asyncio.Event) -> VmActivities:
    store = Store(f"sqlite:///{tmp_path / 'mcis.db'}", tmp_path)
    return VmActivities(ActivityDeps(drivers={"aws": SlowDriver(cloud, answer)}, store=store))


@pytest.fixture
def env(answer: asyncio.Event, monkeypatch: pytest.MonkeyPatch) -> ActivityEnvironment:
    """Heartbeats are counted; the cloud answers after BEATS_BEFORE_ANSWER of them."""
    monkeypatch.setattr(cloud_calls, "HEARTBEAT_EVERY_S", 0.01)
    environment = ActivityEnvironment()
    beats: list[tuple[object, ...]] = []

    def on_heartbeat(*details: object) -> None:
        beats.append(details)
        if len(beats) >= BEATS_BEFORE_ANSWER:
            answer.set()

    environment.on_heartbeat = on_heartbeat
    return environment


def planned_vm() -> VmRecord:
    request = McisRequest.model_validate(
        {
            "name": "m",
            "groups": [{"name": "g", "spec": "aws+r1+small", "image": "aws+r1+ubuntu", "count": 1}],
        }
    )
    return plan_vms("ns", request, "uid")[0]


async def test_a_create_slower_than_the_heartbeat_timeout_heartbeats_and_makes_one_vm(
    vms: VmActivities, env: ActivityEnvironment, cloud: FakeCloud
) -> None:
    network = NetworkRefs(
        provider="aws",
        region="r1",
        vnet="net",
        vnet_csp_id="v",
        subnet_csp_id="s",
        security_groups=["sg"],
        security_group_csp_ids=["sg"],
        ssh_key="k",
        key_csp_name="k",
    )
    job = CreateVmInput(namespace="ns", mcis="m", uid="uid", vm=planned_vm(), network=network)
    created = await asyncio.wait_for(env.run(vms.create_vm, job), GUARD_S)
    assert created.csp_id is not None and cloud.create_calls == 1 and len(cloud.vms) == 1


async def test_a_reconcile_over_slow_listings_heartbeats_while_it_lists(
    vms: VmActivities, env: ActivityEnvironment
) -> None:
    job = ReconcileInput(
        namespace="ns", mcis="m", uid="uid", regions=[("aws", "r1"), ("aws", "r2")], vms=[]
    )
    result = await asyncio.wait_for(env.run(vms.reconcile_vms, job), GUARD_S)
    assert result.adopted == [] and result.missing == []
