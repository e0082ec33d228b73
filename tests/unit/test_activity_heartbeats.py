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
from models.operations import ReconcileInput
from store.repository import Store
from tests.activity_inputs import create_vm_input
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


async def test_a_create_slower_than_the_heartbeat_timeout_heartbeats_and_makes_one_vm(
    vms: VmActivities, env: ActivityEnvironment, cloud: FakeCloud
) -> None:
    created = await asyncio.wait_for(env.run(vms.create_vm, create_vm_input()), GUARD_S)
    assert created.csp_id is not None and cloud.create_calls == 1 and len(cloud.vms) == 1


async def test_a_reconcile_over_slow_listings_heartbeats_while_it_lists(
    vms: VmActivities, env: ActivityEnvironment
) -> None:
    job = ReconcileInput(
        namespace="ns", mcis="m", uid="uid", regions=[("aws", "r1"), ("aws", "r2")], vms=[]
    )
    result = await asyncio.wait_for(env.run(vms.reconcile_vms, job), GUARD_S)
    assert result.adopted == [] and result.missing == []


async def test_every_cloud_call_heartbeats_however_short(tmp_path: Path, cloud: FakeCloud) -> None:
    """Many calls each shorter than the beat period must not add up to a silent activity."""
    store = Store(f"sqlite:///{tmp_path / 'mcis.db'}", tmp_path)
    vms = VmActivities(ActivityDeps(drivers={"aws": FakeDriver("aws", cloud)}, store=store))
    regions = [("aws", f"r{i}") for i in range(5)]
    job = ReconcileInput(namespace="ns", mcis="m", uid="uid", regions=regions, vms=[])
    env, beats = ActivityEnvironment(), []
    env.on_heartbeat = lambda *details: beats.append(details)
    await env.run(vms.reconcile_vms, job)
    assert len(beats) >= len(regions)
